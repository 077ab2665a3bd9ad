"""
Regular 1-D and 2-D grids of rate units: positions, cell sizes, and the
displacements between units on which coupling kernels are sampled.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid"]


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
