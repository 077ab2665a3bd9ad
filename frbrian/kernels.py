"""
Translation-invariant coupling kernels on a `frbrian.grid.Grid`, each
written once as a formula over an array module (``xp``: numpy or torch), so
that numpy (the Brian2 coupling, dense matrices, FFT spectra, the C++ code's
spectra) and the PyTorch model evaluate the same lines; and the layout of a
kernel's samples for a linear FFT convolution, shared by all of them.

A new kernel is one subclass of `Kernel`: its constants in ``constants``
(attributes of the same names) and its density in `Kernel.formula`, using
only arithmetic and ``xp.exp``/``xp.sqrt``-style functions that numpy and
torch share.
"""

import copy
import math
import operator
import os
import sys
import warnings

import numpy as np
from scipy import fft

from .grid import Grid  # noqa: F401 (kernels live on grids: frbrian.kernels.Grid, and the doctests)

__all__ = ["Kernel", "Gaussian", "WrappedGaussian", "Exponential", "ResolutionWarning"]


class Kernel:
    """
    A translation-invariant coupling ``k(x - y)`` per unit area, discretised
    on a `Grid` as ``W[x, y] = k(x - y) * cell_volume``. Kernels add and
    multiply (``k1 + k2``, ``k1 * k2``, ``0.5 * k``).

    Subclasses name their constants in ``constants`` and define `formula`;
    nothing else is needed for numpy, Brian2 (all targets) and PyTorch.

    Examples
    --------
    A kernel defined once, usable everywhere (numpy, torch, Brian2):

    >>> class Box(Kernel):
    ...     constants = {"width": "width"}
    ...     def formula(self, xp, displacement, grid, width):
    ...         inside = sum(d**2 for d in displacement) <= width**2
    ...         return inside / (2 * width) ** len(displacement)
    >>> float(Box(0.5).density(np.array(0.2)))
    1.0
    """

    #: The names of the kernel's constants (attributes), fitted as ``kernel.<name>`` by `frbrian.RateModel`;
    #: a dict ``{name: description}`` for the constructor below, which takes them in this order.
    constants = ()

    def __init__(self, *values, **named):
        """Each constant, positive and finite, by position or by name."""
        given = dict(zip(self.constants, values), **named)
        if len(values) > len(self.constants) or set(given) != set(self.constants):
            raise TypeError(f"{type(self).__name__} takes the constants {', '.join(self.constants)}; got "
                            f"{len(values)} by position and {sorted(named)} by name.")
        for name, description in self.constants.items():
            setattr(self, name, _positive(description, given[name]))

    def formula(self, xp, displacement, grid, **constants):
        """
        The density at ``displacement`` (one array per axis, of the array
        module ``xp``) for the given constants; ``grid`` for kernels that need
        it (periodic images).
        """
        raise NotImplementedError

    def values(self, path=""):
        """The constants by name (``path`` prefixed), as `RateModel` names its kernel parameters."""
        return {path + name: getattr(self, name) for name in self.constants}

    def evaluate(self, xp, displacement, grid, values, path=""):
        """The density with the constants taken from ``values`` (keys as in `values`): numbers or tensors."""
        return self.formula(xp, displacement, grid, **{name: values[path + name] for name in self.constants})

    def with_values(self, values, path=""):
        """A copy of the kernel holding the constants in ``values`` (keys as in `values`)."""
        rebuilt = copy.copy(self)
        for name in self.constants:
            setattr(rebuilt, name, float(values[path + name]))
        return rebuilt

    def density(self, *displacement, grid=None):
        """The kernel at the given displacements (one numpy array per axis) on ``grid``."""
        return self.evaluate(np, displacement, grid, self.values())

    def __add__(self, other):
        return _Combined(operator.add, self, _kernel(other))

    __radd__ = __add__

    def __mul__(self, other):
        return _Combined(operator.mul, self, _kernel(other))

    __rmul__ = __mul__

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(getattr(self, name)) for name in self.constants)})"

    def sampled(self, grid):
        """The kernel times the cell volume at `Grid.offsets`, shaped for an FFT."""
        _check_resolved(self, grid)
        mesh = np.meshgrid(*grid.offsets(), indexing="ij")
        return self.density(*mesh, grid=grid) * grid.cell_volume

    def matrix(self, grid):
        """The dense ``(grid.size, grid.size)`` weight matrix, ``W[target, source]``."""
        _check_resolved(self, grid)
        return self.density(*grid.displacements(), grid=grid) * grid.cell_volume

    def convolver(self, grid):
        """
        A function ``r -> W @ r`` for rates ``r`` of shape ``(..., grid.size)``
        that costs two FFTs instead of ``grid.size**2`` operations.
        """
        from .coupling import Convolution

        return Convolution(self, grid)


def fft_shape(grid):
    """The FFT size of a convolution on ``grid``: cyclic on a periodic grid, else linear (at least ``2n - 1``)."""
    return grid.shape if grid.periodic else tuple(fft.next_fast_len(2 * n - 1) for n in grid.shape)


def padded_for_fft(sampled, grid, fft_shape):
    """
    Kernel samples at `Grid.offsets` (numpy array or torch tensor) laid out
    in an array of ``fft_shape`` for a convolution by FFT: as they are when
    ``fft_shape`` is their own shape (a periodic grid convolved cyclically),
    else for a linear convolution, the negative offsets at the end of each
    padded axis (a periodic grid's wrapped samples are first unfolded to all
    ``2n - 1`` displacements).
    """
    if tuple(fft_shape) == tuple(sampled.shape):
        return sampled
    offsets = [np.r_[0:n, -(n - 1):0] for n in grid.shape]
    if grid.periodic:
        sampled = sampled[np.ix_(*[d % n for d, n in zip(offsets, grid.shape)])]
    padded = sampled.new_zeros(fft_shape) if hasattr(sampled, "new_zeros") else np.zeros(fft_shape, sampled.dtype)
    padded[np.ix_(*[d % m for d, m in zip(offsets, fft_shape)])] = sampled
    return padded


#: Relative errors of a kernel's discretised mass near a unit (see `_check_resolved`) above which a
#: warning is given, and above which the kernel is refused. A Gaussian reaches them at sigma = 0.39
#: and 0.27 cells, an exponential at a length scale of 0.9 and 0.42 cells.
RESOLUTION_WARNING, RESOLUTION_ERROR = 0.1, 0.5


class ResolutionWarning(UserWarning):
    """A kernel is so narrow that sampling it once per grid cell misweighs a unit's neighbours."""


def _check_resolved(kernel, grid, cells=4, refine=8):
    """
    Refuse a kernel much narrower than a grid cell, and warn about one the
    grid resolves poorly. ``W = k(x - y) * cell_volume`` stands for the
    integral of ``k`` over a cell; sampled once per cell, a narrow kernel
    gives nonsense (``Gaussian(1e-6)`` on a 0.04 grid weighs a unit's own
    rate by 16,000 instead of 1). The sum of the samples within ``cells``
    cells of the origin is compared with the integral over the same box (the
    midpoint rule, ``refine`` times finer), relative to the kernel's absolute
    integral there.
    """
    steps = grid._cells()
    coarse = np.meshgrid(*[h * np.arange(-cells, cells + 1) for h in steps], indexing="ij")
    fine = np.meshgrid(*[h * ((np.arange((2 * cells + 1) * refine) + 0.5) / refine - cells - 0.5) for h in steps],
                       indexing="ij")
    with np.errstate(all="ignore"):
        on_grid = kernel.density(*coarse, grid=grid) * grid.cell_volume
        integral = kernel.density(*fine, grid=grid) * grid.cell_volume / refine**grid.ndim
    scale, difference = np.abs(integral).sum(), abs(on_grid.sum() - integral.sum())
    if not np.isfinite(scale + difference):
        raise ValueError(f"The kernel {kernel!r} is NaN or infinite near the origin on this grid.")
    error = difference / scale if scale > 0 else (np.inf if difference > 0 else 0.0)
    if error <= RESOLUTION_WARNING:
        return
    spacing = " x ".join(f"{h:g}" for h in steps)
    details = (f"Sampled once per cell, its weights within {cells} cells of a unit sum to {on_grid.sum():.4g}; "
               f"sampled {refine} times finer, to {integral.sum():.4g} "
               f"({f'{error:.0%} off' if np.isfinite(error) else 'the finer samples miss it too'}). Use a grid "
               "spacing no larger than the kernel's width (more points, or a smaller extent) or a wider kernel")
    if error > RESOLUTION_ERROR:
        raise ValueError(f"The kernel {kernel!r} is too narrow for the grid spacing {spacing}: the grid does not "
                         f"resolve it. {details}; for coupling within each unit only, a DenseCoupling with a "
                         "diagonal matrix.")
    warnings.warn(f"The kernel {kernel!r} is poorly resolved by the grid spacing {spacing}. {details}.",
                  ResolutionWarning, stacklevel=_outside_frbrian())


def _outside_frbrian():
    """The ``stacklevel`` of the first caller outside this package: a warning points at the user's line."""
    package, frame, level = os.path.dirname(os.path.abspath(__file__)), sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package:
        frame, level = frame.f_back, level + 1
    return level


def _kernel(value):
    return value if isinstance(value, Kernel) else _Constant(value)


class _Constant(Kernel):
    constants = {"value": "value"}

    def __init__(self, value):
        self.value = float(value)
        if not np.isfinite(self.value):
            raise ValueError(f"A constant factor or term of a kernel must be finite; got {value!r}.")

    def formula(self, xp, displacement, grid, value):
        return value * xp.ones_like(displacement[0])

    def __repr__(self):
        return repr(self.value)


class _Combined(Kernel):
    """A sum or product of two kernels; their constants are named ``left_...`` and ``right_...``."""

    def __init__(self, operation, left, right):
        self.operation, self.left, self.right = operation, left, right

    def values(self, path=""):
        return {**self.left.values(path + "left_"), **self.right.values(path + "right_")}

    def evaluate(self, xp, displacement, grid, values, path=""):
        return self.operation(self.left.evaluate(xp, displacement, grid, values, path + "left_"),
                              self.right.evaluate(xp, displacement, grid, values, path + "right_"))

    def with_values(self, values, path=""):
        return _Combined(self.operation, self.left.with_values(values, path + "left_"),
                         self.right.with_values(values, path + "right_"))

    def __repr__(self):
        return f"({self.left!r} {'+' if self.operation is operator.add else '*'} {self.right!r})"


def _positive(name, value):
    value = float(value)
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"The {name} of a kernel must be positive and finite; got {value}.")
    return value


class Gaussian(Kernel):
    """
    ``exp(-|d|²/(2σ²)) / (2πσ²)^(ndim/2)``: integrates to 1 on an infinite grid.

    Parameters
    ----------
    sigma : float
        The width, in the grid's (unitless) position units; positive.

    Examples
    --------
    >>> W = Gaussian(0.2).matrix(Grid((101,)))
    >>> round(float(W[50].sum()), 3)  # the discretised kernel sums to about 1
    1.0
    """

    constants = {"sigma": "width sigma"}

    def formula(self, xp, displacement, grid, sigma):
        squared = sum(d**2 for d in displacement)
        return xp.exp(-squared / (2 * sigma**2)) / (2 * math.pi * sigma**2) ** (len(displacement) / 2)


class WrappedGaussian(Gaussian):
    """
    A `Gaussian` wrapped around a periodic grid: the sum over its images,
    ``images`` periods each way.

    Parameters
    ----------
    sigma : float
        The width, in grid position units; positive.
    images : int
        Periods summed on each side (3 is exact to double precision for
        ``sigma`` up to about a third of the period).
    """

    def __init__(self, sigma, images=3):
        super().__init__(sigma=sigma)
        self.images = int(images)

    def formula(self, xp, displacement, grid, sigma):
        if grid is None or not grid.periodic:
            raise ValueError("A wrapped Gaussian needs a periodic grid.")
        shifts = grid.period * np.arange(-self.images, self.images + 1)
        images = np.meshgrid(*[shifts] * len(displacement), indexing="ij")
        return sum(Gaussian.formula(self, xp, [d + s for d, s in zip(displacement, shift)], grid, sigma)
                   for shift in zip(*(image.ravel() for image in images)))


class Exponential(Kernel):
    """
    ``exp(-|d|/λ)`` normalised to integrate to 1: ``/(2λ)`` in 1-D, ``/(2πλ²)`` in 2-D.

    Parameters
    ----------
    scale : float
        The length scale λ, in grid position units; positive.
    """

    constants = {"scale": "length scale"}

    def formula(self, xp, displacement, grid, scale):
        distance = xp.sqrt(sum(d**2 for d in displacement))
        norm = 2 * scale if len(displacement) == 1 else 2 * math.pi * scale**2
        return xp.exp(-distance / scale) / norm
