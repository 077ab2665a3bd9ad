"""
Regular grids of rate units and translation-invariant coupling kernels on
them, as dense weight matrices and as FFT convolutions from one definition.
"""

import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np
from brian2.units.allunits import second
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch
from scipy import fft

__all__ = ["Grid", "Kernel", "Gaussian", "WrappedGaussian", "Exponential", "Convolution", "Coupling", "DenseCoupling",
           "ResolutionWarning"]


@dataclass(frozen=True)
class Grid:
    """
    A regular 1-D or 2-D grid of units, ``shape`` points per axis, spanning
    ``extent = (low, high)`` on every axis (unitless positions, as in
    fr-models). Non-periodic grids include both ends (``linspace(low, high,
    n)``); periodic grids wrap around, so their last point is one cell before
    ``high``.

    Examples
    --------
    >>> grid = Grid((101,))
    >>> grid.cell, grid.size
    (0.02, 101)
    """

    shape: tuple
    extent: tuple = (-1.0, 1.0)
    periodic: bool = False

    def __post_init__(self):
        shape = tuple(int(n) for n in np.atleast_1d(self.shape))
        if len(shape) not in (1, 2):
            raise ValueError(f"A grid is 1-D or 2-D; got shape {self.shape!r}.")
        if min(shape) < 2:
            raise ValueError(f"A grid needs at least 2 points per axis; got shape {shape}.")
        low, high = (float(x) for x in self.extent)
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"The grid extent must be two finite numbers (low, high); got {self.extent!r}.")
        if not high > low:
            raise ValueError(f"The grid extent must be (low, high) with high > low; got {self.extent!r}.")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "extent", (low, high))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def period(self):
        return self.extent[1] - self.extent[0]

    @property
    def cell(self):
        """The distance between neighbours (the same on every axis when the shape is square)."""
        n = self.shape[0]
        return self.period / (n if self.periodic else n - 1)

    def _cells(self):
        return [self.period / (n if self.periodic else n - 1) for n in self.shape]

    @property
    def cell_volume(self):
        """Length (1-D) or area (2-D) of one cell: the weight of a unit in a discretised integral."""
        return float(np.prod(self._cells()))

    def axes(self):
        """The positions along each axis."""
        low = self.extent[0]
        return [low + step * np.arange(n) for n, step in zip(self.shape, self._cells())]

    def displacements(self):
        """``x_target - x_source`` between all pairs of units, shape ``(ndim, size, size)``; wrapped to
        the nearest image on a periodic grid."""
        points = np.stack([p.ravel() for p in np.meshgrid(*self.axes(), indexing="ij")])
        displacement = points[:, :, None] - points[:, None, :]
        if self.periodic:
            displacement = (displacement + self.period / 2) % self.period - self.period / 2
        return displacement

    def offsets(self):
        """
        The displacements between units on which a kernel is sampled, per
        axis: all ``2n - 1`` of them on a non-periodic axis, the ``n``
        wrapped ones (in FFT order) on a periodic axis.
        """
        result = []
        for n, step in zip(self.shape, self._cells()):
            if self.periodic:
                result.append(step * np.concatenate([np.arange(0, n - n // 2), np.arange(-(n // 2), 0)]))
            else:
                result.append(step * np.concatenate([np.arange(0, n), np.arange(-(n - 1), 0)]))
        return result


class Kernel:
    """
    A translation-invariant coupling ``k(x - y)`` per unit area, discretised
    on a `Grid` as ``W[x, y] = k(x - y) * cell_volume``. Kernels add and
    multiply (``k1 + k2``, ``k1 * k2``, ``0.5 * k``).
    """

    def density(self, *displacement, grid=None):
        """The kernel at the given displacements (one array per axis) on ``grid``."""
        raise NotImplementedError

    def __add__(self, other):
        return _Combined(np.add, self, _kernel(other))

    __radd__ = __add__

    def __mul__(self, other):
        return _Combined(np.multiply, self, _kernel(other))

    __rmul__ = __mul__

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
        return Convolution(self, grid)


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
    def __init__(self, value):
        self.value = float(value)
        if not np.isfinite(self.value):
            raise ValueError(f"A constant factor or term of a kernel must be finite; got {value!r}.")

    def density(self, *displacement, grid=None):
        return np.full(np.shape(displacement[0]), self.value)

    def __repr__(self):
        return repr(self.value)


class _Combined(Kernel):
    def __init__(self, operation, left, right):
        self.operation, self.left, self.right = operation, left, right

    def density(self, *displacement, grid=None):
        return self.operation(self.left.density(*displacement, grid=grid),
                              self.right.density(*displacement, grid=grid))

    def __repr__(self):
        return f"({self.left!r} {'+' if self.operation is np.add else '*'} {self.right!r})"


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

    def __init__(self, sigma):
        self.sigma = _positive("width sigma", sigma)

    def __repr__(self):
        return f"{type(self).__name__}({self.sigma!r})"

    def density(self, *displacement, grid=None):
        squared = sum(d**2 for d in displacement)
        norm = (2 * np.pi * self.sigma**2) ** (len(displacement) / 2)
        return np.exp(-squared / (2 * self.sigma**2)) / norm


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
        super().__init__(sigma)
        self.images = int(images)

    def density(self, *displacement, grid=None):
        if grid is None or not grid.periodic:
            raise ValueError("A wrapped Gaussian needs a periodic grid.")
        shifts = grid.period * np.arange(-self.images, self.images + 1)
        images = np.meshgrid(*[shifts] * len(displacement), indexing="ij")
        return sum(super(WrappedGaussian, self).density(*(d + s for d, s in zip(displacement, shift)))
                   for shift in zip(*(image.ravel() for image in images)))


class Exponential(Kernel):
    """
    ``exp(-|d|/λ)`` normalised to integrate to 1: ``/(2λ)`` in 1-D, ``/(2πλ²)`` in 2-D.

    Parameters
    ----------
    scale : float
        The length scale λ, in grid position units; positive.
    """

    def __init__(self, scale):
        self.scale = _positive("length scale", scale)

    def __repr__(self):
        return f"Exponential({self.scale!r})"

    def density(self, *displacement, grid=None):
        distance = np.sqrt(sum(d**2 for d in displacement))
        norm = 2 * self.scale if len(displacement) == 1 else 2 * np.pi * self.scale**2
        return np.exp(-distance / self.scale) / norm


class Convolution:
    """``r -> W @ r`` for a kernel on a grid, by FFT (see `Kernel.convolver`)."""

    def __init__(self, kernel, grid):
        self.grid = grid
        sampled = kernel.sampled(grid)
        # Non-periodic axes: a linear convolution, padded to at least 2n - 1.
        self.fft_shape = sampled.shape if grid.periodic else tuple(fft.next_fast_len(2 * n - 1) for n in grid.shape)
        padded = np.zeros(self.fft_shape)
        if grid.periodic:
            padded[...] = sampled
        else:
            # negative offsets go to the end of the padded axis
            index = np.ix_(*[np.r_[0:n, m - (n - 1):m] for n, m in zip(grid.shape, self.fft_shape)])
            padded[index] = sampled
        self.transform = fft.rfftn(padded)
        self._axes = tuple(range(-grid.ndim, 0))

    def spectrum(self, rates):
        """The padded FFT of rates of shape ``(..., grid.size)``."""
        rates = np.asarray(rates, dtype=float)
        field = rates.reshape(rates.shape[:-1] + self.grid.shape)
        return fft.rfftn(field, s=self.fft_shape, axes=self._axes)

    def field(self, spectrum):
        """Back from a spectrum to rates of shape ``(..., grid.size)``."""
        result = fft.irfftn(spectrum, s=self.fft_shape, axes=self._axes)
        crop = (Ellipsis,) + tuple(slice(0, n) for n in self.grid.shape)
        return result[crop].reshape(result.shape[: -self.grid.ndim] + (self.grid.size,))

    def __call__(self, rates):
        return self.field(self.spectrum(rates) * self.transform)


def _unitless_weights(weights):
    """Weights as floats in 1/Hz (= s): plain numbers are taken to be in 1/Hz already; all finite."""
    if isinstance(weights, Quantity):
        fail_for_dimension_mismatch(weights, second, "Weights between rate units must be in 1/Hz (so that W r is dimensionless)")
        weights = np.asarray(weights / second, dtype=float)
    weights = np.asarray(weights, dtype=float)
    bad = ~np.isfinite(weights)
    if bad.any():
        raise ValueError(f"The weights contain NaN or infinite values ({int(bad.sum())} of {weights.size}, the first "
                         f"at index {tuple(int(i) for i in np.argwhere(bad)[0])}).")
    return weights


class Coupling:
    """
    Kernel coupling between cell types on one grid: the input to type ``i``
    is ``sum_j weights[i, j] * (kernels[i][j] * r_j)``, the kernel discretised
    as in `Kernel.matrix`. One FFT per source type and one inverse per target
    type per call, whatever the number of pairs.

    Parameters
    ----------
    grid : `Grid`
    weights : array, shape (types, types)
        ``weights[target, source]``, e.g. fr-models' ``W_pop``; in 1/Hz
        (plain numbers are taken as 1/Hz), so that ``W r`` is dimensionless
        for rates in Hz.
    kernels : `Kernel` or nested list, shape (types, types)
        One kernel for all pairs, or one per pair.

    Examples
    --------
    >>> coupling = Coupling(Grid((201,)), [[1.0, -1.0], [1.0, -0.5]], Gaussian(0.1))
    >>> coupling(np.ones((2, 201)))[:, 100].round(3)  # far from the edges: W_pop @ r
    array([0. , 0.5])
    """

    def __init__(self, grid, weights, kernels):
        self.grid = grid
        self.weights = _unitless_weights(weights)
        types = len(self.weights)
        if self.weights.shape != (types, types):
            raise ValueError(f"The weights between cell types must be a square matrix; got shape {self.weights.shape}.")
        if isinstance(kernels, Kernel):
            kernels = [[kernels] * types for _ in range(types)]
        if np.shape(kernels)[:2] != (types, types):
            raise ValueError(f"Give one kernel, or {types}x{types} kernels (one per pair of cell types).")
        self.kernels = kernels
        self._convolutions = [[Convolution(k, grid) for k in row] for row in kernels]
        self._transforms = np.stack([[w * c.transform for w, c in zip(w_row, c_row)]
                                     for w_row, c_row in zip(self.weights, self._convolutions)])

    @property
    def types(self):
        return len(self.weights)

    @property
    def size(self):
        """Units per cell type."""
        return self.grid.size

    def __call__(self, rates):
        """Inputs for rates of shape ``(..., types, grid.size)``."""
        convolution = self._convolutions[0][0]
        # (..., 1, source, *fft) against (target, source, *fft), summed over the source
        spectra = np.expand_dims(convolution.spectrum(rates), axis=-(self.grid.ndim + 2))
        return convolution.field((self._transforms * spectra).sum(axis=-(self.grid.ndim + 1)))

    def matrix(self):
        """The dense ``(types*size, types*size)`` matrix, for small grids and checks."""
        return np.block([[w * k.matrix(self.grid) for w, k in zip(w_row, k_row)]
                         for w_row, k_row in zip(self.weights, self.kernels)])


class DenseCoupling:
    """
    Coupling through a dense weight matrix ``W[target, source]`` of shape
    ``(types*size, types*size)``, for networks without spatial structure;
    ``W @ r`` runs at BLAS speed.

    Parameters
    ----------
    weights : array, shape (types*size, types*size)
        In 1/Hz when the rates are in Hz (``W r`` is dimensionless).
    types : int
        The number of cell types; the units of type ``k`` are rows and
        columns ``k*size`` to ``(k+1)*size - 1``.

    Examples
    --------
    >>> coupling = DenseCoupling(np.eye(4), types=2)
    >>> coupling.size, coupling(np.ones((2, 2))).shape
    (2, (2, 2))
    """

    def __init__(self, weights, types=1):
        self.weights = np.ascontiguousarray(_unitless_weights(weights))
        n = len(self.weights)
        if self.weights.ndim != 2 or self.weights.shape != (n, n) or n == 0:
            raise ValueError(f"The dense weight matrix must be square, W[target, source]; got shape {self.weights.shape}.")
        if int(types) < 1 or n % int(types):
            raise ValueError(f"{n} units cannot be split into {types} cell types of equal size.")
        self._types = int(types)

    @property
    def types(self):
        return self._types

    @property
    def size(self):
        return len(self.weights) // self._types

    def __call__(self, rates):
        """Inputs for rates of shape ``(..., types, size)``."""
        rates = np.asarray(rates, dtype=float)
        flat = rates.reshape(rates.shape[:-2] + (len(self.weights),))
        return (flat @ self.weights.T).reshape(rates.shape)

    def matrix(self):
        return self.weights
