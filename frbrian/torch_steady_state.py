"""
Fixed points of the PyTorch rate model, ``r = f(W r + h)``: Newton's method
(`frbrian.newton`) with dense or GMRES linear solves, and the gradient by
implicit differentiation (one adjoint solve in the backward pass).
"""

from .torch_required import torch
from .deadlines import check_time
from .newton import SteadyStateError, newton
from .torch_linalg import gmres

__all__ = ["DENSE_LIMIT"]

#: Up to this many units in all (types*size) linear systems are solved densely
#: (LU); above it by GMRES on the FFT coupling, which never forms the matrix.
DENSE_LIMIT = 1024


def steady_rates(model, drive=None, initial=None, tolerance=1e-10, max_iterations=60, solver="auto"):
    """
    The rates at the fixed point ``r = f(W r + h)`` in Hz (a tensor; the
    numpy `frbrian.steady_state` returns a `frbrian.SteadyState`), batched over leading
    dimensions of ``drive``; differentiable with respect to the
    parameters and the drive by implicit differentiation.

    Newton's method as in `frbrian.steady_state`; each step (and the
    backward pass) solves one linear system with ``I - F' W``: densely
    up to `DENSE_LIMIT` units, by GMRES on the FFT coupling above
    (``solver='dense'`` or ``'gmres'`` chooses).

    Raises
    ------
    SteadyStateError
        No convergence, or NaN.
    """
    operator = model.operator()
    h = model.total_drive(drive, operator)
    start = model.rates_of(h) if initial is None else torch.as_tensor(initial, dtype=h.dtype, device=h.device)
    start = (start + torch.zeros_like(h)).detach()
    dense = (model.types * model.size <= DENSE_LIMIT) if solver == "auto" else solver == "dense"
    with torch.no_grad():
        fixed = FixedPoint(model, operator, h)
        rates = fixed.newton(start, tolerance, max_iterations, dense)
    if not torch.is_grad_enabled():
        return rates
    # One application of the map at the fixed point carries the graph to the parameters; the
    # hook turns the incoming gradient g into (I - F'W)^-T g (implicit function theorem).
    result = model.rates_of(operator.apply(rates) + h)
    if result.requires_grad:
        gains = fixed.gains(rates)
        result.register_hook(lambda grad: None if grad is None else fixed.adjoint(gains, grad, dense))
    return result


class FixedPoint:
    """The fixed-point map with the parameters detached: Newton steps and the adjoint solve."""

    def __init__(self, model, operator, drive):
        self.model, self.operator, self.drive = model, operator, drive.detach()
        self.constants = [c.detach() for c in model.transfer.values()]
        self._dense = None

    def map(self, rates):
        current = self.operator.apply(rates).detach() + self.drive
        return torch.stack([f(current[..., k, :], c) for k, (f, c) in
                            enumerate(zip(self.model.transfers, self.constants))], dim=-2)

    def gains(self, rates):
        with torch.no_grad():
            current = self.operator.apply(rates) + self.drive
        return torch.stack([f.gains(current[..., k, :], c) for k, (f, c) in
                            enumerate(zip(self.model.transfers, self.constants))], dim=-2).detach()

    def matrix(self):
        if self._dense is None:
            with torch.no_grad():
                self._dense = self.operator.dense().detach()
        return self._dense

    def solve(self, gains, right, dense, transpose=False):
        """``(I - F'W) x = right`` (or its transpose), batched over leading dimensions."""
        if dense:
            flat = gains.reshape(gains.shape[:-2] + (-1,))
            system = torch.eye(flat.shape[-1], dtype=flat.dtype, device=flat.device) - flat[..., :, None] * self.matrix()
            if transpose:
                system = system.transpose(-1, -2)
            solution = torch.linalg.solve(system, right.reshape(flat.shape))
            return solution.reshape(right.shape)
        if transpose:
            return gmres(lambda v: v - self.operator.transpose(gains * v).detach(), right)
        return gmres(lambda v: v - gains * self.operator.apply(v).detach(), right)

    def newton(self, rates, tolerance, max_iterations, dense):
        def step_of(r, residual):
            try:
                return self.solve(self.gains(r), -residual, dense)
            except torch.linalg.LinAlgError as error:
                raise SteadyStateError(f"Singular Newton step: {error}") from None

        return newton(lambda r: r - self.map(r), step_of, rates, tolerance, max_iterations, check_time)[0]

    def adjoint(self, gains, grad, dense):
        """``lambda`` with ``(I - F'W)^T lambda = grad`` (the transposed map's Jacobian is ``W^T F'``)."""
        with torch.no_grad():
            return self.solve(gains, grad, dense, transpose=True)
