"""
The PyTorch twin of a `frbrian.RateNetwork`: the same rate model
``tau dr/dt = -r + f(W r + h)`` as a `torch.nn.Module`, differentiable with
respect to every parameter, so that it can be fitted to data
(`frbrian.fit`) and sent back to Brian2.

Units are those of `RateNetwork`, as plain SI floats: rates ``r`` in Hz,
weights ``W`` in 1/Hz (so ``W r`` is dimensionless), ``tau`` and times in
seconds; the input ``h``, the transfer function's constants and the kernel
widths (grid units) are dimensionless.

Parameters of a `RateModel` (``model.named_parameters()``):

``weights``
    ``W_pop[target, source]`` between cell types for kernel coupling, shape
    ``(types, types)``; the whole ``(types*size, types*size)`` matrix for
    dense coupling.
``kernel.<name>``
    One ``(types, types)`` tensor per kernel constant: ``kernel.sigma`` for
    Gaussians, ``kernel.scale`` for exponentials; in sums and products of
    kernels the name says where it sits (``kernel.left_sigma``,
    ``kernel.right_right_value`` for the 0.5 of ``k1 + 0.5*k2``).
``tau``
    One time constant per cell type, in seconds.
``transfer.<type>``
    The numbers in the transfer function's expression, in the order they
    appear (``power_law(k=1.0, n=2.0)``: ``[1.0, 2.0]``; integers such as the
    ``0`` of ``clip(I, 0, inf)`` are not parameters).
``drive``
    The input ``h``, shape ``(types, size)``; with a ``baseline``, the input
    on top of the one that holds the baseline rates fixed.

torch is imported by the torch_* modules only: ``import frbrian`` works
without it, and they raise an ImportError naming ``pip install lut4brian[fit]``.
"""

import numpy as np
from brian2.units.allunits import hertz, second
from brian2.units.fundamentalunits import fail_for_dimension_mismatch

from .torch_required import torch
from .coupling import Coupling, DenseCoupling
from .deadlines import check_time
from .rate_arguments import check_finite, check_shape, names_of, per_type, seconds, time_constants
from .torch_coupling import CouplingOperator, kernel_tables
from .torch_linalg import largest_real_eigenvalue
from . import torch_steady_state, torch_trajectory
from .torch_trajectory import Trajectory
from .torch_transfer import TorchTransfer
from .transfer import Transfer

__all__ = ["RateModel", "Trajectory"]


def device_of(device):
    """A `torch.device`, refusing one that is not there (before any work starts)."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"The device {device} was asked for, but CUDA is not available here "
                           "(torch.cuda.is_available() is False): use device='cpu'.")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"Unsupported device {device}: use 'cpu' or 'cuda'.")
    return device


class RateModel(torch.nn.Module):
    """
    RateModel(coupling, tau, transfer, drive=0, names=None, initial=0*Hz, baseline=None, dtype=torch.float64, device=None)

    A rate model ``tau dr/dt = -r + f(W r + h)`` in PyTorch with the
    arguments of `frbrian.RateNetwork` (see the module docstring for the
    parameters and their units). ``RateModel.from_network(net)`` and
    ``model.to_network()`` convert both ways.

    Parameters
    ----------
    coupling : `Coupling` or `DenseCoupling`
        Weights in 1/Hz, kernels on a grid or a dense matrix.
    tau : `Quantity` or float (seconds), one or one per cell type
    transfer : `Transfer`, str, or one per cell type
    drive : float or array, shape (types, size)
        The input ``h``.
    names : list of str, optional
    initial : `Quantity` (Hz), one value or shape (types, size)
        Where trajectories start.
    baseline : `Quantity` (Hz), optional
        Rates to hold as a fixed point, as fr-models does: the input is then
        ``f^-1(baseline) - W baseline + drive``, and it follows ``W``.
    dtype, device
        ``torch.float64`` on the CPU by default; ``device='cuda'`` if available.

    Examples
    --------
    >>> from brian2 import ms
    >>> from frbrian import Coupling, Gaussian, Grid, power_law
    >>> model = RateModel(Coupling(Grid((21,)), [[1.0, -1.0], [1.0, -0.5]], Gaussian(0.2)),
    ...                   tau=[10*ms, 5*ms], transfer=power_law(), drive=1.0, names=["E", "I"])
    >>> r = model.steady_rates()                     # Hz, shape (2, 21), differentiable
    >>> r.sum().backward()                           # gradients by implicit differentiation
    >>> model.kernel["sigma"].grad.shape
    torch.Size([2, 2])
    >>> float(model.largest_real_eigenvalue().detach()) < 0  # 1/s
    True
    >>> net = model.to_network()                     # a frbrian.RateNetwork for Brian2
    >>> net.taus
    [10. * msecond, 5. * msecond]
    """

    def __init__(self, coupling, tau, transfer, drive=0.0, names=None, initial=0 * hertz, baseline=None,
                 dtype=torch.float64, device=None):
        super().__init__()
        device = device_of(device)
        types, size = coupling.types, coupling.size
        self.types, self.size = types, size
        self.names = names_of(names, types)
        if not isinstance(coupling, (Coupling, DenseCoupling)):
            raise TypeError(f"The coupling must be a Coupling or a DenseCoupling; got {type(coupling).__name__}.")
        as_tensor = lambda value: torch.as_tensor(np.asarray(value, dtype=float), dtype=dtype, device=device)
        self.weights = torch.nn.Parameter(as_tensor(coupling.weights))
        self.grid = coupling.grid if isinstance(coupling, Coupling) else None
        self.kernel = torch.nn.ParameterDict()
        self.kernels, self._kernel_used = None, {}
        if self.grid is not None:
            self.kernels = [list(row) for row in coupling.kernels]
            tables, self._kernel_used = kernel_tables(self.kernels, types)
            for key, table in tables.items():
                self.kernel[key] = torch.nn.Parameter(as_tensor(table))
        taus = seconds(time_constants(tau, types, plain_seconds=True), "The time constants tau")
        self.tau = torch.nn.Parameter(as_tensor(taus))
        transfers = per_type(transfer, types, "transfer function")
        self.transfers = [TorchTransfer(f) for f in transfers]
        self.transfer = torch.nn.ParameterDict({n: torch.nn.Parameter(as_tensor(f.constants))
                                                for n, f in zip(self.names, self.transfers)})
        self.drive = torch.nn.Parameter(as_tensor(self._broadcast(drive, "drive")))
        fail_for_dimension_mismatch(initial, hertz, "The initial rates")
        self.register_buffer("initial", as_tensor(self._broadcast(np.asarray(initial / hertz), "initial")))
        if baseline is not None:
            fail_for_dimension_mismatch(baseline, hertz, "The baseline rates")
            baseline = as_tensor(self._broadcast(np.asarray(baseline / hertz), "baseline"))
            for f, rates, constants in zip(self.transfers, baseline, self.transfer.values()):
                f.inverse(rates, constants.detach())  # sympy's work (~0.2 s) here, not in a timed fit
        self.register_buffer("baseline", baseline)

    def _broadcast(self, value, what):
        if isinstance(value, str) or callable(value):
            raise TypeError(f"The {what} of a RateModel must be numbers (give a time-dependent drive to "
                            "trajectory(drive=...)); got {value!r}.")
        check_shape(value, what, self.types, self.size)
        array = np.broadcast_to(np.asarray(value, dtype=float), (self.types, self.size)).copy()
        check_finite(what, array)
        return array

    # conversions ----------------------------------------------------------------------------------

    @classmethod
    def from_network(cls, network, dtype=torch.float64, device=None):
        """The model of a `frbrian.RateNetwork` (dynamics ``-r + F``, numeric drive)."""
        if network.dynamics.replace(" ", "") not in ("-r+F", "F-r"):
            raise NotImplementedError(f"Only the dynamics '-r + F' have a torch version; got {network.dynamics!r}.")
        if isinstance(network.drive, str):
            raise NotImplementedError("A drive given as a Brian2 expression has no torch version: give an array, "
                                      "or a function of time to RateModel.trajectory(drive=...).")
        return cls(network.coupling, network.taus, network.transfers, drive=network.drive, names=network.names,
                   initial=network.initial, dtype=dtype, device=device)

    def to_network(self, **kwargs):
        """
        A `frbrian.RateNetwork` with the current parameters (weights in 1/Hz,
        tau in seconds, the total input as its drive); ``kwargs`` go to it and
        override those. A drive given as an expression (``drive='h +
        w_A*A/Hz'``) can use ``h``, which holds the model's total input.
        """
        from .rate_network import RateNetwork

        fitted_drive = self.total_drive().detach().cpu().numpy()
        arguments = dict(tau=[t * second for t in self.tau.tolist()],
                         transfer=[Transfer(f.expression(c.tolist()))
                                   for f, c in zip(self.transfers, self.transfer.values())],
                         drive=fitted_drive, names=self.names, initial=self.initial.cpu().numpy() * hertz)
        arguments.update(kwargs)
        network = RateNetwork(self.to_coupling(), **arguments)
        if isinstance(arguments["drive"], str):
            for group, h in zip(network.groups, fitted_drive):
                group.h = h
        return network

    def to_coupling(self):
        """The `Coupling` (or `DenseCoupling`) with the current weights and kernels."""
        weights = self.weights.detach().cpu().numpy().copy()
        if self.grid is None:
            return DenseCoupling(weights, types=self.types)
        kernels = [[kernel.with_values({k: float(t[i, j].detach()) for k, t in self.kernel.items()})
                    for j, kernel in enumerate(row)] for i, row in enumerate(self.kernels)]
        return Coupling(self.grid, weights, kernels)

    def parameters_with_units(self):
        """Every parameter as numpy, with its Brian2 unit where it has one."""
        units = {"weights": 1 / hertz, "tau": second}
        return {name: np.array(p.detach().cpu().numpy()) * units[name] if name in units
                else p.detach().cpu().numpy().copy() for name, p in self.named_parameters()}

    # dynamics -------------------------------------------------------------------------------------

    def operator(self):
        """The coupling ``W`` for the current parameters (see `frbrian.torch_coupling.CouplingOperator`)."""
        return CouplingOperator(self)

    def total_drive(self, drive=None, operator=None):
        """The input ``h`` (with a baseline: plus ``f^-1(baseline) - W baseline``), shape (..., types, size)."""
        drive = self.drive if drive is None else torch.as_tensor(drive, dtype=self.drive.dtype,
                                                                  device=self.drive.device)
        if self.baseline is None:
            return drive
        operator = operator or self.operator()
        held = torch.stack([f.inverse(b, c) for f, b, c in zip(self.transfers, self.baseline, self.transfer.values())])
        return held - operator.apply(self.baseline) + drive

    def rates_of(self, current):
        """``f(I)`` per cell type for inputs of shape (..., types, size)."""
        return torch.stack([f(current[..., k, :], c) for k, (f, c) in
                            enumerate(zip(self.transfers, self.transfer.values()))], dim=-2)

    def gains(self, current):
        """``f'(I)`` per cell type (no gradient)."""
        return torch.stack([f.gains(current[..., k, :], c) for k, (f, c) in
                            enumerate(zip(self.transfers, self.transfer.values()))], dim=-2)

    def forward(self, rates, drive=None, operator=None):
        """``dr/dt = (-r + f(W r + h))/tau`` in Hz/s, for rates of shape (..., types, size)."""
        operator = operator or self.operator()
        current = operator.apply(rates) + self.total_drive(drive, operator)
        return (self.rates_of(current) - rates) / self.tau[:, None]

    def trajectory(self, duration, dt, method="euler", initial=None, drive=None, every=1, rtol=1e-8, atol=1e-10):
        return torch_trajectory.trajectory(self, duration, dt, method, initial, drive, every, rtol, atol)

    trajectory.__doc__ = torch_trajectory.trajectory.__doc__

    def steady_rates(self, drive=None, initial=None, tolerance=1e-10, max_iterations=60, solver="auto"):
        return torch_steady_state.steady_rates(self, drive, initial, tolerance, max_iterations, solver)

    steady_rates.__doc__ = torch_steady_state.steady_rates.__doc__

    def reference(self):
        """
        ``(rates, drive)`` of the operating point that `largest_real_eigenvalue` and
        `paradoxical_response` look at by default: the baseline with no
        extra drive when there is one, else the steady state for ``drive``
        (``drive`` as passed to `total_drive`).
        """
        if self.baseline is not None:
            return self.baseline, torch.zeros_like(self.drive)
        return self.steady_rates(), None

    def jacobian(self, rates=None, drive=None):
        """The dense linearised dynamics ``(-I + F' W)/tau`` (1/s) at ``rates``, differentiable."""
        if rates is None:
            rates, drive = self.reference()
        operator = self.operator()
        matrix = operator.dense()
        check_time()
        current = operator.apply(rates) + self.total_drive(drive, operator)
        gains = self._differentiable_gains(current).reshape(-1)
        scale = (1 / self.tau).repeat_interleave(self.size)
        eye = torch.eye(len(gains), dtype=matrix.dtype, device=matrix.device)
        return scale[:, None] * (gains[:, None] * matrix - eye)

    def _differentiable_gains(self, current):
        # f'(I) with its graph: the derivative depends on I and on the transfer constants
        with torch.enable_grad():
            probe = current if current.requires_grad else current.detach().requires_grad_(True)
            value = self.rates_of(probe)
            (gains,) = torch.autograd.grad(value.sum(), probe, create_graph=True)
        return gains

    def largest_real_eigenvalue(self, rates=None, drive=None):
        """
        The largest real part of the eigenvalues of the linearised dynamics
        (1/s; negative: stable) at ``rates`` (default: `reference`); a
        differentiable scalar tensor. The Jacobian is formed densely (for up
        to a few thousand units); above `ARNOLDI_LIMIT` units the eigenvalue
        is found by Arnoldi iteration.
        """
        return largest_real_eigenvalue(self.jacobian(rates, drive))

    def paradoxical_response(self, rates=None, drive=None, inhibitory=1):
        """
        The change of the mean rate of cell type ``inhibitory`` (Hz per unit
        input) when its input rises uniformly by one: negative for an
        inhibition-stabilised network. Differentiable, dense.
        """
        if rates is None:
            rates, drive = self.reference()
        operator = self.operator()
        current = operator.apply(rates) + self.total_drive(drive, operator)
        gains = self._differentiable_gains(current)
        push = torch.zeros_like(gains)
        push[inhibitory] = 1.0
        flat = gains.reshape(-1)
        system = torch.eye(len(flat), dtype=flat.dtype, device=flat.device) - flat[:, None] * operator.dense()
        response = torch.linalg.solve(system, (gains * push).reshape(-1)).reshape(gains.shape)
        return response[inhibitory].mean()
