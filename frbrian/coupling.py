"""
Coupling between the cell types of a rate network: kernels on a `Grid`
applied by FFT convolution (`Coupling`), or a dense weight matrix
(`DenseCoupling`); ``r -> W r`` on rates of shape ``(..., types, size)``.
"""

import numpy as np
from brian2.units.allunits import second
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch
from scipy import fft

from .kernels import Kernel, fft_shape, padded_for_fft

__all__ = ["Convolution", "Coupling", "DenseCoupling"]


def convolve(rates, spectra, shape, fft_shape, transforms):
    """
    ``W r`` by FFT for rates of shape ``(..., types, prod(shape))`` (numpy or
    torch): ``spectra`` of shape ``(target, source, *rfft)`` hold each pair's
    padded kernel transform times its weight; ``transforms`` is ``(rfftn,
    irfftn)`` of the array module, each called as ``f(array, fft_shape)`` on
    the last ``len(shape)`` axes.
    """
    rfftn, irfftn = transforms
    spectrum = rfftn(rates.reshape(rates.shape[:-1] + tuple(shape)), fft_shape)
    # (..., 1, source, *fft) against (target, source, *fft), summed over the source
    spectrum = spectrum[(Ellipsis, None) + (slice(None),) * (len(shape) + 1)]
    result = irfftn((spectra * spectrum).sum(-len(shape) - 1), fft_shape)
    return result[(Ellipsis,) + tuple(slice(0, n) for n in shape)].reshape(rates.shape)


def block_matrix(xp, block, types):
    """
    The ``(types*size, types*size)`` matrix ``W[target, source]`` made of the
    blocks ``block(i, j)`` (numpy or torch, ``xp`` their module).
    """
    return xp.concatenate([xp.concatenate([block(i, j) for j in range(types)], axis=1) for i in range(types)],
                          axis=0)


def dense_product(rates, matrix):
    """``W r`` for rates of shape ``(..., types, size)`` and ``W`` of shape ``(types*size, types*size)`` (numpy or torch)."""
    return (rates.reshape(rates.shape[:-2] + (-1,)) @ matrix.T).reshape(rates.shape)


_NUMPY_FFT = (lambda x, s: fft.rfftn(x, s=s, axes=tuple(range(-len(s), 0))),
              lambda x, s: fft.irfftn(x, s=s, axes=tuple(range(-len(s), 0))))


class Convolution:
    """``r -> W @ r`` for a kernel on a grid, by FFT (see `Kernel.convolver`)."""

    def __init__(self, kernel, grid):
        self.grid = grid
        sampled = kernel.sampled(grid)
        self.fft_shape = fft_shape(grid)
        self.transform = fft.rfftn(padded_for_fft(sampled, grid, self.fft_shape))

    def __call__(self, rates):
        """``W r`` for rates of shape ``(..., grid.size)``."""
        rates = np.asarray(rates, dtype=float)[..., None, :]  # one cell type
        return convolve(rates, self.transform[None, None], self.grid.shape, self.fft_shape, _NUMPY_FFT)[..., 0, :]


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
    >>> from frbrian import Gaussian, Grid
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
        return convolve(np.asarray(rates, dtype=float), self._transforms, self.grid.shape,
                        self._convolutions[0][0].fft_shape, _NUMPY_FFT)

    def matrix(self):
        """The dense ``(types*size, types*size)`` matrix, for small grids and checks."""
        return block_matrix(np, lambda i, j: self.weights[i, j] * self.kernels[i][j].matrix(self.grid), self.types)


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
        return dense_product(np.asarray(rates, dtype=float), self.weights)

    def matrix(self):
        return self.weights
