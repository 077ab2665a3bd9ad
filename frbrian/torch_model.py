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

torch is imported here only: ``import frbrian`` works without it, and this
module raises an ImportError naming ``pip install lut4brian[fit]``.
"""

import contextlib
import time

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import sympy
from brian2.parsing.sympytools import sympy_to_str
from brian2.units.allunits import hertz, second
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch
from scipy import fft as scipy_fft
from sympy.parsing.sympy_parser import parse_expr

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("Fitting rate models in frbrian needs PyTorch: pip install lut4brian[fit]") from error

from .analysis import SteadyStateError
from .kernels import Coupling, DenseCoupling, Exponential, Gaussian, WrappedGaussian, _Combined, _Constant
from .transfer import Transfer, transfer_function

__all__ = ["RateModel", "TorchTransfer", "Trajectory", "gmres", "DENSE_LIMIT", "ARNOLDI_LIMIT"]

#: Up to this many units in all (types*size) linear systems are solved densely
#: (LU); above it by GMRES on the FFT coupling, which never forms the matrix.
DENSE_LIMIT = 1024


#: Above this many units, the eigenvalue of largest real part (`RateModel.stability`) is found by
#: Arnoldi iteration (ARPACK, matrix-vector products: about 1 s for 3000 units) instead of a full
#: dense eigendecomposition (about 50 s for 3000 units; 0.04 s for 200, or 4 s where BLAS threads
#: compete for busy cores; and it cannot be
#: interrupted by a time limit).
ARNOLDI_LIMIT = 128


# --- time limits --------------------------------------------------------------------------------


class TimeUp(Exception):
    """A computation ran past the deadline set by `deadline` (`frbrian.fit`'s ``time_limit``)."""


_DEADLINE = [None]  # time.perf_counter() value; a list, so that autograd's threads see it too


@contextlib.contextmanager
def deadline(when):
    """
    Within this block, the long loops of this module (Newton steps, GMRES,
    integration steps, Arnoldi iteration) raise `TimeUp` once
    ``time.perf_counter()`` passes ``when`` (None: never).
    """
    previous, _DEADLINE[0] = _DEADLINE[0], when
    try:
        yield
    finally:
        _DEADLINE[0] = previous


def check_time():
    """Raise `TimeUp` if the deadline of an enclosing `deadline` block has passed."""
    if _DEADLINE[0] is not None and time.perf_counter() > _DEADLINE[0]:
        raise TimeUp


def device_of(device):
    """A `torch.device`, refusing one that is not there (before any work starts)."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"The device {device} was asked for, but CUDA is not available here "
                           "(torch.cuda.is_available() is False): use device='cpu'.")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"Unsupported device {device}: use 'cpu' or 'cuda'.")
    return device


def _seconds(value, what):
    if isinstance(value, (list, tuple)):
        return np.array([float(_seconds(v, what)) for v in value])
    if isinstance(value, Quantity):
        fail_for_dimension_mismatch(value, second, what)
        return np.asarray(value / second, dtype=float)
    return np.asarray(value, dtype=float)


# --- transfer functions -------------------------------------------------------------------------


def _clip(x, low, high):
    low = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    return torch.minimum(torch.maximum(x, low), high)


_TORCH_FUNCTIONS = {
    "clip": _clip, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh,
    "sinh": torch.sinh, "cosh": torch.cosh, "sin": torch.sin, "cos": torch.cos, "Abs": torch.abs,
    "abs": torch.abs, "sign": torch.sign, "floor": torch.floor, "ceil": torch.ceil,
}


def _float_constants(expr):
    """The expression with every Float replaced by its own symbol ``c0, c1, ...`` (in reading order)."""
    symbols, values = [], []

    def walk(node):
        if isinstance(node, sympy.Mul) and len(node.args) == 2 and node.args[0] == -1 \
                and isinstance(node.args[1], sympy.Float):
            node = sympy.Float(-node.args[1])  # "I - 0.3" holds the constant -0.3, however it is printed
        if isinstance(node, sympy.Float):
            symbol = sympy.Symbol(f"c{len(symbols)}", real=True)
            symbols.append(symbol)
            values.append(float(node))
            return symbol
        if not node.args:
            return node
        return node.func(*[walk(a) for a in node.args], evaluate=False)

    return walk(expr), symbols, values


class TorchTransfer:
    """
    A `frbrian.Transfer` as a torch function of the input and of its numeric
    constants, which become parameters: ``f(I, constants)``. ``clip`` maps
    to a clamp, ``exp`` to `torch.exp`, and so on.

    Examples
    --------
    >>> import torch
    >>> from frbrian import power_law
    >>> f = TorchTransfer(power_law(k=0.5, n=2.0))
    >>> f.constants
    [0.5, 2.0]
    >>> f(torch.tensor([-1.0, 2.0]), torch.tensor(f.constants)).tolist()
    [0.0, 2.0]
    >>> f.expression([1.0, 3.0])
    '1.0*clip(I, 0, inf)**3.0'
    """

    def __init__(self, transfer):
        transfer = transfer_function(transfer)
        self.source = transfer
        self.symbol = sympy.Symbol("I", real=True)
        # Parsed unevaluated, so that the constants are the numbers as written (sympy would fold
        # exp(-2*(I - 0.5)) into e*exp(-2*I), turning a threshold into a factor e).
        names = {"I": self.symbol, "inf": sympy.oo, "clip": sympy.Function("clip"), "abs": sympy.Abs}
        expr = parse_expr(transfer.expression, local_dict=names, evaluate=False)
        self.expr, self.symbols, self.constants = _float_constants(expr)
        self._function = sympy.lambdify([self.symbol, *self.symbols], self.expr, modules=[_TORCH_FUNCTIONS, "math"])
        self._inverse = None

    def __call__(self, current, constants):
        value = self._function(current, *constants.unbind(0)) if len(self.symbols) else self._function(current)
        return torch.broadcast_to(torch.as_tensor(value, dtype=current.dtype, device=current.device), current.shape)

    def gains(self, current, constants):
        """``f'(I)``, by autograd on the elementwise function (no gradient kept)."""
        with torch.enable_grad():
            current = current.detach().requires_grad_(True)
            value = self(current, constants.detach())
            (gains,) = torch.autograd.grad(value.sum(), current)
        return gains

    def expression(self, constants):
        """The Brian2 expression with these constants."""
        # each constant printed by repr (exact round trip), negative ones in parentheses
        printed = [repr(float(c)) if float(c) >= 0 else f"({float(c)!r})" for c in constants]
        return sympy_to_str(self.expr.xreplace({s: sympy.Symbol(p) for s, p in zip(self.symbols, printed)}))

    def inverse(self, rates, constants):
        """
        The input that gives these rates, ``f^-1(r)``, on the increasing
        branch (``clip`` taken as the identity), found by sympy once.
        """
        if self._inverse is None:
            self._inverse = self._find_inverse()
        return self._inverse(rates, *constants.unbind(0)) if len(self.symbols) else self._inverse(rates)

    def _find_inverse(self):
        rate = sympy.Symbol("r", positive=True)
        unclipped = self.expr.replace(lambda e: type(e).__name__ == "clip", lambda e: e.args[0])
        candidates = sympy.solve(sympy.Eq(unclipped, rate), self.symbol)
        probe = [0.7 + 0.1 * k for k in range(len(self.symbols))]
        values = dict(zip(self.symbols, self.constants or probe))
        for candidate in candidates:
            inverse = sympy.lambdify([rate, *self.symbols], candidate, modules=[_TORCH_FUNCTIONS, "math"])
            trial = torch.tensor([0.3, 1.7], dtype=torch.float64)
            constants = torch.tensor(list(values.values()), dtype=torch.float64)
            try:
                current = torch.as_tensor(inverse(trial, *constants.unbind(0)), dtype=torch.float64)
                if torch.allclose(self(current, constants), trial, rtol=1e-9):
                    return inverse
            except (TypeError, ValueError, RuntimeError):
                continue
        raise ValueError(f"Cannot invert the transfer function {self.source.expression!r} to hold a baseline: "
                         "give the drive instead of baseline=.")


# --- kernels ------------------------------------------------------------------------------------


def _kernel_tree(kernel, path=""):
    """A kernel as a nested tuple naming its constants, and the constants' values."""
    if isinstance(kernel, WrappedGaussian):
        return ("wrapped", path + "sigma", kernel.images), {path + "sigma": kernel.sigma}
    if isinstance(kernel, Gaussian):
        return ("gaussian", path + "sigma"), {path + "sigma": kernel.sigma}
    if isinstance(kernel, Exponential):
        return ("exponential", path + "scale"), {path + "scale": kernel.scale}
    if isinstance(kernel, _Constant):
        return ("constant", path + "value"), {path + "value": kernel.value}
    if isinstance(kernel, _Combined):
        kind = {np.add: "add", np.multiply: "multiply"}[kernel.operation]
        left, left_values = _kernel_tree(kernel.left, path + "left_")
        right, right_values = _kernel_tree(kernel.right, path + "right_")
        return (kind, left, right), {**left_values, **right_values}
    raise NotImplementedError(f"No torch version of the kernel {kernel!r}: use Gaussian, WrappedGaussian, "
                              "Exponential, or sums and products of them.")


def _density(tree, values, displacement, grid):
    """The kernel density at ``displacement`` (one tensor per axis), from constants ``values``."""
    kind = tree[0]
    if kind in ("gaussian", "wrapped"):
        sigma = values[tree[1]]
        if kind == "wrapped":
            shifts = grid.period * np.arange(-tree[2], tree[2] + 1)
            images = np.meshgrid(*[shifts] * len(displacement), indexing="ij")
            return sum(_density(("gaussian", tree[1]), values, [d + s for d, s in zip(displacement, shift)], grid)
                       for shift in zip(*(image.ravel() for image in images)))
        squared = sum(d**2 for d in displacement)
        return torch.exp(-squared / (2 * sigma**2)) / (2 * np.pi * sigma**2) ** (len(displacement) / 2)
    if kind == "exponential":
        scale = values[tree[1]]
        distance = torch.sqrt(sum(d**2 for d in displacement))
        norm = 2 * scale if len(displacement) == 1 else 2 * np.pi * scale**2
        return torch.exp(-distance / scale) / norm
    if kind == "constant":
        return values[tree[1]] * torch.ones_like(displacement[0])
    left, right = (_density(t, values, displacement, grid) for t in tree[1:])
    return left + right if kind == "add" else left * right


def _rebuild_kernel(tree, values):
    """The `frbrian.kernels.Kernel` of a tree with these constant values."""
    kind = tree[0]
    if kind == "wrapped":
        return WrappedGaussian(values[tree[1]], images=tree[2])
    if kind == "gaussian":
        return Gaussian(values[tree[1]])
    if kind == "exponential":
        return Exponential(values[tree[1]])
    if kind == "constant":
        return _Constant(values[tree[1]])
    left, right = (_rebuild_kernel(t, values) for t in tree[1:])
    return left + right if kind == "add" else left * right


class _Operator:
    """
    ``v -> W v`` and ``v -> W^T v`` for the current parameters, built once
    per solve or trajectory: the kernels' padded FFTs (kernel coupling) or
    the dense matrix. Differentiable in the parameters.
    """

    def __init__(self, model):
        self.model = model
        self.types, self.size = model.types, model.size
        if model.grid is None:
            self.matrix = model.weights
            return
        grid = model.grid
        self.shape, self._axes = grid.shape, tuple(range(-grid.ndim, 0))
        self.fft_shape = grid.shape if grid.periodic else tuple(scipy_fft.next_fast_len(2 * n - 1) for n in grid.shape)
        offsets = [torch.as_tensor(o, dtype=model.weights.dtype, device=model.weights.device) for o in grid.offsets()]
        mesh = torch.meshgrid(*offsets, indexing="ij")
        spectra = []
        for i in range(self.types):
            row = []
            for j in range(self.types):
                values = {key: tensor[i, j] for key, tensor in model.kernel.items()}
                sampled = _density(model._trees[i][j], values, mesh, grid) * grid.cell_volume
                row.append(torch.fft.rfftn(self._pad(sampled, grid), s=self.fft_shape, dim=self._axes))
            spectra.append(torch.stack(row))
        weights = model.weights.reshape(model.weights.shape + (1,) * grid.ndim)
        self.spectra = weights * torch.stack(spectra)  # (target, source, *fft)
        self.matrix = None

    def _pad(self, sampled, grid):
        if grid.periodic:
            return sampled
        # negative offsets go to the end of each padded axis (a linear convolution)
        for axis, (n, m) in enumerate(zip(grid.shape, self.fft_shape)):
            head, tail = sampled.narrow(axis, 0, n), sampled.narrow(axis, n, n - 1)
            zeros_shape = list(sampled.shape)
            zeros_shape[axis] = m - (2 * n - 1)
            sampled = torch.cat([head, sampled.new_zeros(zeros_shape), tail], dim=axis)
        return sampled

    def _convolve(self, rates, spectra):
        field = rates.reshape(rates.shape[:-1] + self.shape)
        spectrum = torch.fft.rfftn(field, s=self.fft_shape, dim=self._axes)
        summed = (spectra * spectrum.unsqueeze(-len(self.shape) - 2)).sum(dim=-len(self.shape) - 1)
        result = torch.fft.irfftn(summed, s=self.fft_shape, dim=self._axes)
        crop = result[(Ellipsis,) + tuple(slice(0, n) for n in self.shape)]
        return crop.reshape(rates.shape)

    def apply(self, rates):
        """``W r`` for rates of shape ``(..., types, size)``."""
        if self.matrix is not None:
            flat = rates.reshape(rates.shape[:-2] + (-1,))
            return (flat @ self.matrix.T).reshape(rates.shape)
        return self._convolve(rates, self.spectra)

    def transpose(self, values):
        """``W^T v``: the kernels reflected (conjugate spectra), sources and targets swapped."""
        if self.matrix is not None:
            flat = values.reshape(values.shape[:-2] + (-1,))
            return (flat @ self.matrix).reshape(values.shape)
        return self._convolve(values, self.spectra.transpose(0, 1).conj())

    def dense(self):
        """The ``(types*size, types*size)`` matrix (small grids: stability, dense solves)."""
        if self.matrix is not None:
            return self.matrix
        model, grid = self.model, self.model.grid
        displacement = [torch.as_tensor(d, dtype=model.weights.dtype, device=model.weights.device)
                        for d in grid.displacements()]
        blocks = [[self._dense_block(i, j, displacement) for j in range(self.types)] for i in range(self.types)]
        return torch.cat([torch.cat(row, dim=1) for row in blocks], dim=0)

    def _dense_block(self, i, j, displacement):
        check_time()  # a block of a large grid takes a tenth of a second
        model = self.model
        values = {k: t[i, j] for k, t in model.kernel.items()}
        return model.weights[i, j] * model.grid.cell_volume * _density(model._trees[i][j], values, displacement,
                                                                      model.grid)


# --- linear solvers -----------------------------------------------------------------------------


def gmres(matvec, b, tolerance=1e-12, restart=100, max_restarts=20):
    """
    Solve ``A x = b`` by restarted GMRES in torch (classical Gram-Schmidt,
    twice, and Givens rotations); ``b`` of any shape, ``matvec`` keeps it.
    Converged when ``|b - A x| <= tolerance*|b|``.

    Raises
    ------
    SteadyStateError
        If it does not converge (a singular or nearly singular system).
    """
    shape, b = b.shape, b.reshape(-1)
    x = torch.zeros_like(b)
    norm_b = float(torch.linalg.vector_norm(b))
    if norm_b == 0.0:
        return x.reshape(shape)
    for _ in range(max_restarts):
        residual = b - matvec(x.reshape(shape)).reshape(-1)
        beta = float(torch.linalg.vector_norm(residual))
        if not np.isfinite(beta):
            raise SteadyStateError("GMRES met a NaN or infinite value.")
        if beta <= tolerance * norm_b:
            return x.reshape(shape)
        basis = torch.empty((restart + 1, b.numel()), dtype=b.dtype, device=b.device)
        basis[0] = residual / beta
        hessenberg = np.zeros((restart + 1, restart))
        cosines, sines, rhs = np.zeros(restart), np.zeros(restart), np.zeros(restart + 1)
        rhs[0] = beta
        for j in range(restart):
            check_time()
            w = matvec(basis[j].reshape(shape)).reshape(-1)
            h = basis[: j + 1] @ w
            w = w - basis[: j + 1].T @ h
            correction = basis[: j + 1] @ w  # second pass: orthogonal to rounding
            w = w - basis[: j + 1].T @ correction
            column = np.append((h + correction).cpu().numpy(), float(torch.linalg.vector_norm(w)))
            if column[-1] > 0:
                basis[j + 1] = w / column[-1]
            for i in range(j):  # earlier rotations
                column[i], column[i + 1] = (cosines[i] * column[i] + sines[i] * column[i + 1],
                                            -sines[i] * column[i] + cosines[i] * column[i + 1])
            radius = np.hypot(column[j], column[j + 1])
            cosines[j], sines[j] = (column[j] / radius, column[j + 1] / radius) if radius > 0 else (1.0, 0.0)
            column[j], column[j + 1] = radius, 0.0
            rhs[j + 1], rhs[j] = -sines[j] * rhs[j], cosines[j] * rhs[j]
            hessenberg[: j + 2, j] = column
            if abs(rhs[j + 1]) <= tolerance * norm_b or column[j] == 0:
                break
        k = j + 1
        y = scipy.linalg.solve_triangular(hessenberg[:k, :k], rhs[:k])
        x = x + basis[:k].T @ torch.as_tensor(y, dtype=b.dtype, device=b.device)
    residual = float(torch.linalg.vector_norm(b - matvec(x.reshape(shape)).reshape(-1)))
    if residual <= 1e3 * tolerance * norm_b:
        return x.reshape(shape)
    raise SteadyStateError(f"GMRES did not converge (relative residual {residual / norm_b:.3g}): "
                           "the fixed point is (nearly) singular.")


def _arnoldi(array):
    """The eigenvalue of largest real part and its eigenvector, by ARPACK."""
    def product(v):
        check_time()  # ARPACK is driven from Python: each product is a chance to stop
        return array @ v

    operator = scipy.sparse.linalg.LinearOperator(array.shape, matvec=product, dtype=array.dtype)
    # One eigenvalue only: most of a smooth coupling's eigenvalues sit in a tight cluster at -1/tau,
    # which ARPACK cannot resolve when asked for more (no convergence after 2000 iterations).
    values, vectors = scipy.sparse.linalg.eigs(operator, k=1, which="LR", tol=0)
    return values[0], vectors[:, 0]


def _rightmost(array):
    """
    The eigenvalue ``λ`` of largest real part, with ``y`` and ``v`` such that
    ``y^T A = λ y^T`` and ``A v = λ v``: densely up to `ARNOLDI_LIMIT` rows,
    above by Arnoldi iteration on ``A`` and ``A^T``.
    """
    if len(array) > ARNOLDI_LIMIT:
        try:
            value, right = _arnoldi(array)
            left_value, left = _arnoldi(array.T)
            # a complex pair: the left iteration may have found the conjugate
            return value, (left if abs(left_value - value) <= abs(left_value.conj() - value) else left.conj()), right
        except scipy.sparse.linalg.ArpackNoConvergence:
            pass  # the dense decomposition below, slow but sure
    values, left, right = scipy.linalg.eig(array, left=True, right=True)
    k = int(np.argmax(values.real))
    return values[k], left[:, k].conj(), right[:, k]


class _LargestRealEigenvalue(torch.autograd.Function):
    """max Re(eig(J)), with its gradient from the left and right eigenvectors: Re(y v^T)/(y^T v)."""

    @staticmethod
    def forward(ctx, matrix):
        array = matrix.detach().cpu().numpy()
        if not np.all(np.isfinite(array)):
            raise SteadyStateError("The linearised dynamics contain NaN or infinite values.")
        value, y, v = _rightmost(array)
        gradient = np.real(np.outer(y, v) / (y @ v))
        ctx.save_for_backward(torch.as_tensor(gradient, dtype=matrix.dtype, device=matrix.device))
        return matrix.new_tensor(value.real)

    @staticmethod
    def backward(ctx, grad):
        (gradient,) = ctx.saved_tensors
        return grad * gradient


# --- the model ----------------------------------------------------------------------------------


class Trajectory(tuple):
    """``(times, rates)``: times in seconds, shape (K,); rates in Hz, shape (K, ..., types, size)."""

    def __new__(cls, times, rates):
        return super().__new__(cls, (times, rates))

    times = property(lambda self: self[0])
    rates = property(lambda self: self[1])


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
    >>> r = model.steady_state()                     # Hz, shape (2, 21), differentiable
    >>> r.sum().backward()                           # gradients by implicit differentiation
    >>> model.kernel["sigma"].grad.shape
    torch.Size([2, 2])
    >>> float(model.stability().detach()) < 0        # largest Re(eigenvalue), 1/s
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
        self.names = list(names) if names is not None else [f"type{k}" for k in range(types)]
        if len(self.names) != types:
            raise ValueError(f"Give one name per cell type ({types}); got {self.names}.")
        as_tensor = lambda value: torch.as_tensor(np.asarray(value, dtype=float), dtype=dtype, device=device)
        self.weights = torch.nn.Parameter(as_tensor(coupling.weights))
        self.grid = getattr(coupling, "grid", None) if isinstance(coupling, Coupling) else None
        if not isinstance(coupling, (Coupling, DenseCoupling)):
            raise TypeError(f"The coupling must be a Coupling or a DenseCoupling; got {type(coupling).__name__}.")
        self.kernel = torch.nn.ParameterDict()
        self._trees, self._kernel_used = None, {}
        if self.grid is not None:
            self._kernel_parameters(coupling.kernels, as_tensor)
        taus = _seconds(tau, "The time constants tau") * np.ones(types)
        if taus.shape != (types,) or not np.all((taus > 0) & np.isfinite(taus)):
            raise ValueError(f"Give one positive tau (finite), or one per cell type ({types}); got {tau}.")
        self.tau = torch.nn.Parameter(as_tensor(taus))
        transfers = list(transfer) if isinstance(transfer, (list, tuple)) else [transfer] * types
        if len(transfers) != types:
            raise ValueError(f"Give one transfer function, or one per cell type ({types}).")
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
        try:
            array = np.broadcast_to(np.asarray(value, dtype=float), (self.types, self.size)).copy()
        except ValueError:
            raise ValueError(f"The {what} must be one value or broadcast to shape (types, size) = "
                             f"{(self.types, self.size)}; got shape {np.shape(value)}.") from None
        if not np.all(np.isfinite(array)):
            raise ValueError(f"The {what} contains NaN or infinite values ({int(np.sum(~np.isfinite(array)))} of "
                             f"{array.size}).")
        return array

    def _kernel_parameters(self, kernels, as_tensor):
        """One (types, types) parameter per kernel constant; pairs without that constant hold 1 (unused)."""
        trees, values = zip(*[_kernel_tree(k) for row in kernels for k in row])
        self._trees = [list(trees[i * self.types:(i + 1) * self.types]) for i in range(self.types)]
        self._kernel_used = {}
        for key in dict.fromkeys(k for v in values for k in v):
            table = np.array([v.get(key, 1.0) for v in values]).reshape(self.types, self.types)
            self.kernel[key] = torch.nn.Parameter(as_tensor(table))
            self._kernel_used[key] = np.array([key in v for v in values]).reshape(self.types, self.types)

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
        from .brian import RateNetwork

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
        kernels = [[_rebuild_kernel(self._trees[i][j], {k: float(t[i, j].detach()) for k, t in self.kernel.items()})
                    for j in range(self.types)] for i in range(self.types)]
        return Coupling(self.grid, weights, kernels)

    def parameters_with_units(self):
        """Every parameter as numpy, with its Brian2 unit where it has one."""
        units = {"weights": 1 / hertz, "tau": second}
        return {name: np.array(p.detach().cpu().numpy()) * units[name] if name in units
                else p.detach().cpu().numpy().copy() for name, p in self.named_parameters()}

    # dynamics -------------------------------------------------------------------------------------

    def operator(self):
        """The coupling ``W`` for the current parameters (see `_Operator`)."""
        return _Operator(self)

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
        """
        Integrate from ``initial`` (default: the model's) for ``duration``.

        Parameters
        ----------
        duration, dt : `Quantity` or float (seconds)
            ``dt`` is the step of the fixed-step methods and the interval
            between outputs of the adaptive one.
        method : {'euler', 'rk4', 'adaptive'}
            ``'euler'`` is Brian2's ``euler`` step for step; ``'rk4'`` the
            classical Runge-Kutta step of the whole coupled system;
            ``'adaptive'`` Dormand-Prince 5(4) with error control
            (``rtol``, ``atol`` in Hz). All are differentiable by autograd.
        drive : tensor or callable, optional
            The input: a tensor of shape (..., types, size) (a batch of
            inputs), or a function of the time in seconds returning one.
        every : int
            Keep every ``every``-th step.

        Returns
        -------
        Trajectory
            ``(times, rates)``, the rates of shape (K, ..., types, size), the
            first one ``initial``.
        """
        duration, dt = float(_seconds(duration, "duration")), float(_seconds(dt, "dt"))
        steps = int(round(duration / dt))
        operator = self.operator()
        if callable(drive):
            source = lambda t: self.total_drive(drive(t), operator)
        else:
            fixed = self.total_drive(drive, operator)
            source = lambda t: fixed

        def derivative(t, r):
            return (self.rates_of(operator.apply(r) + source(t)) - r) / self.tau[:, None]

        r = self.initial if initial is None else torch.as_tensor(initial, dtype=self.drive.dtype,
                                                                 device=self.drive.device)
        r = r + torch.zeros_like(source(0.0))  # the batch shape of the drive
        step = {"euler": _euler, "rk4": _rk4, "adaptive": None}.get(method, False)
        if step is False:
            raise ValueError(f"Unknown method {method!r}: use 'euler', 'rk4' or 'adaptive'.")
        states, times = [r], [0.0]
        for k in range(steps):
            check_time()
            t = k * dt
            r = step(derivative, t, r, dt) if step else _adaptive(derivative, t, r, dt, rtol, atol)
            if (k + 1) % every == 0:
                states.append(r)
                times.append(t + dt)
        return Trajectory(torch.tensor(times, dtype=r.dtype), torch.stack(states))

    # fixed points ---------------------------------------------------------------------------------

    def steady_state(self, drive=None, initial=None, tolerance=1e-10, max_iterations=60, solver="auto"):
        """
        The fixed point ``r = f(W r + h)`` in Hz, batched over leading
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
        operator = self.operator()
        h = self.total_drive(drive, operator)
        start = self.rates_of(h) if initial is None else torch.as_tensor(initial, dtype=h.dtype, device=h.device)
        start = (start + torch.zeros_like(h)).detach()
        dense = (self.types * self.size <= DENSE_LIMIT) if solver == "auto" else solver == "dense"
        with torch.no_grad():
            fixed = _Detached(self, operator, h)
            rates = fixed.newton(start, tolerance, max_iterations, dense)
        if not torch.is_grad_enabled():
            return rates
        # One application of the map at the fixed point carries the graph to the parameters; the
        # hook turns the incoming gradient g into (I - F'W)^-T g (implicit function theorem).
        result = self.rates_of(operator.apply(rates) + h)
        if result.requires_grad:
            gains = fixed.gains(rates)
            result.register_hook(lambda grad: None if grad is None else fixed.adjoint(gains, grad, dense))
        return result

    def reference(self):
        """
        ``(rates, drive)`` of the operating point that `stability` and
        `paradoxical_response` look at by default: the baseline with no
        extra drive when there is one, else the steady state for ``drive``
        (``drive`` as passed to `total_drive`).
        """
        if self.baseline is not None:
            return self.baseline, torch.zeros_like(self.drive)
        return self.steady_state(), None

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

    def stability(self, rates=None, drive=None):
        """
        The largest real part of the eigenvalues of the linearised dynamics
        (1/s; negative: stable) at ``rates`` (default: `reference`); a
        differentiable scalar tensor. The Jacobian is formed densely (for up
        to a few thousand units); above `ARNOLDI_LIMIT` units the eigenvalue
        is found by Arnoldi iteration.
        """
        return _LargestRealEigenvalue.apply(self.jacobian(rates, drive))

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


class _Detached:
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
        residual = rates - self.map(rates)
        for iteration in range(max_iterations + 1):
            check_time()
            size = float(residual.abs().max())
            if not np.isfinite(size):
                raise SteadyStateError("The steady-state iteration met a NaN or infinite rate.")
            if size <= tolerance * (1 + float(rates.abs().max())):
                return rates
            if iteration == max_iterations:
                break
            try:
                step = self.solve(self.gains(rates), -residual, dense)
            except torch.linalg.LinAlgError as error:
                raise SteadyStateError(f"Singular Newton step: {error}") from None
            for _ in range(30):  # backtracking: halve until the residual falls
                check_time()
                trial = (rates + step) - self.map(rates + step)
                if float(trial.abs().max()) < size:
                    break
                step = step / 2
            rates, residual = rates + step, trial
        raise SteadyStateError(
            f"No steady state within {max_iterations} Newton steps (residual {float(residual.abs().max()):.3g}); "
            "the fixed point may not exist or be unstable.")

    def adjoint(self, gains, grad, dense):
        """``lambda`` with ``(I - F'W)^T lambda = grad`` (the transposed map's Jacobian is ``W^T F'``)."""
        with torch.no_grad():
            return self.solve(gains, grad, dense, transpose=True)


def _euler(derivative, t, r, dt):
    return r + dt * derivative(t, r)


def _rk4(derivative, t, r, dt):
    k1 = derivative(t, r)
    k2 = derivative(t + dt / 2, r + dt / 2 * k1)
    k3 = derivative(t + dt / 2, r + dt / 2 * k2)
    k4 = derivative(t + dt, r + dt * k3)
    return r + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980)
_DP_C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
_DP_A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
         [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
         [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
         [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_DP_B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
_DP_B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]


def _adaptive(derivative, t, r, interval, rtol, atol, max_steps=10000):
    """Integrate over one output interval with Dormand-Prince steps; step sizes are chosen without gradient."""
    end, h = t + interval, interval
    for _ in range(max_steps):
        check_time()
        if t >= end - 1e-15 * max(1.0, abs(end)):
            return r
        h = min(h, end - t)
        k = []
        for c, a in zip(_DP_C, _DP_A):
            k.append(derivative(t + c * h, r + h * sum(ai * ki for ai, ki in zip(a, k)) if a else r))
        high = r + h * sum(b * ki for b, ki in zip(_DP_B5, k) if b)
        low = r + h * sum(b * ki for b, ki in zip(_DP_B4, k) if b)
        with torch.no_grad():
            scale = atol + rtol * torch.maximum(r.abs(), high.abs())
            error = float(torch.sqrt(torch.mean(((high - low) / scale) ** 2)))
        if not np.isfinite(error):
            raise SteadyStateError("The adaptive integrator met a NaN or infinite rate.")
        if error <= 1.0:
            t, r = t + h, high
        h = h * min(5.0, max(0.2, 0.9 * (error + 1e-16) ** -0.2))
    raise SteadyStateError(f"The adaptive integrator needed more than {max_steps} steps for one interval.")
