"""
The coupling ``W`` of the PyTorch rate model as an operator: ``v -> W v``
and ``v -> W^T v`` by FFT convolution of the kernels (evaluated by their one
formula, `frbrian.kernels.Kernel.formula`, on tensors) or by the dense
matrix; and the kernels' constants as ``(types, types)`` parameters.
"""

import numpy as np

from .torch_required import torch
from .deadlines import check_time
from .coupling import block_matrix, convolve, dense_product
from .kernels import fft_shape, padded_for_fft

__all__ = []

_TORCH_FFT = (lambda x, s: torch.fft.rfftn(x, s=s, dim=tuple(range(-len(s), 0))),
              lambda x, s: torch.fft.irfftn(x, s=s, dim=tuple(range(-len(s), 0))))


def kernel_tables(kernels, types):
    """
    The constants of a ``types x types`` table of kernels as one table per
    constant name (pairs without that constant hold 1), and which pairs use
    each: ``({name: values}, {name: used})``.
    """
    values = [kernel.values() for row in kernels for kernel in row]
    tables, used = {}, {}
    for key in dict.fromkeys(k for v in values for k in v):
        tables[key] = np.array([v.get(key, 1.0) for v in values]).reshape(types, types)
        used[key] = np.array([key in v for v in values]).reshape(types, types)
    return tables, used


class CouplingOperator:
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
        self.fft_shape = fft_shape(grid)
        offsets = [torch.as_tensor(o, dtype=model.weights.dtype, device=model.weights.device) for o in grid.offsets()]
        mesh = torch.meshgrid(*offsets, indexing="ij")
        spectra = [[torch.fft.rfftn(padded_for_fft(self._block(i, j, mesh), grid, self.fft_shape), s=self.fft_shape,
                                    dim=self._axes) for j in range(self.types)] for i in range(self.types)]
        weights = model.weights.reshape(model.weights.shape + (1,) * grid.ndim)
        self.spectra = weights * torch.stack([torch.stack(row) for row in spectra])  # (target, source, *fft)
        self.matrix = None

    def _block(self, i, j, displacement):
        """Kernel ``(i, j)`` times the cell volume at ``displacement``, from the current constants."""
        model = self.model
        values = {key: tensor[i, j] for key, tensor in model.kernel.items()}
        return model.kernels[i][j].evaluate(torch, displacement, model.grid, values) * model.grid.cell_volume

    def apply(self, rates):
        """``W r`` for rates of shape ``(..., types, size)``."""
        if self.matrix is not None:
            return dense_product(rates, self.matrix)
        return convolve(rates, self.spectra, self.shape, self.fft_shape, _TORCH_FFT)

    def transpose(self, values):
        """``W^T v``: the kernels reflected (conjugate spectra), sources and targets swapped."""
        if self.matrix is not None:
            return dense_product(values, self.matrix.T)
        return convolve(values, self.spectra.transpose(0, 1).conj(), self.shape, self.fft_shape, _TORCH_FFT)

    def dense(self):
        """The ``(types*size, types*size)`` matrix (small grids: stability, dense solves)."""
        if self.matrix is not None:
            return self.matrix
        model, grid = self.model, self.model.grid
        displacement = [torch.as_tensor(d, dtype=model.weights.dtype, device=model.weights.device)
                        for d in grid.displacements()]
        return block_matrix(torch, lambda i, j: self._dense_block(i, j, displacement), self.types)

    def _dense_block(self, i, j, displacement):
        check_time()  # a block of a large grid takes a tenth of a second
        return self.model.weights[i, j] * self._block(i, j, displacement)
