"""
`Table2D`: a Brian2 `Function` that interpolates a function of two variables
bilinearly between its values on a grid, each axis uniform or logarithmic.
"""

import numpy as np
from brian2.core.functions import Function
from brian2.core.names import Nameable
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch, get_dimensions, get_unit
from brian2.utils.caching import CacheKey

from .sampled import _Sampled, checked_values, padded, replace_values
from .table import GridIndex, _numpy_clamped_index

__all__ = ["Table2D"]


# The grid indices of both arguments come from the axes' `GridIndex`
# functions (they clamp and record excursions for the range report); the
# samples are the values, row after row, with a repeated last row and column
# so that a clamped index needs no branch.
def _cpp_code(table, samples):
    return _fill("""
static inline double %NAME%(const double x, const double y)
{
    if (x != x) return x;
    if (y != y) return y;
    const double fx = %IX%(x), fy = %IY%(y);
    const int i = (int)fx, j = (int)fy;
    const double wx = fx - i, wy = fy - j;
    const double *p = _namespace%SAMPLES% + i * %STRIDE% + j;
    const double near = p[0] + wy * (p[1] - p[0]);
    const double far = p[%STRIDE%] + wy * (p[%STRIDE% + 1] - p[%STRIDE%]);
    return near + wx * (far - near);
}
""", table, samples)


def _cython_code(table, samples):
    return _fill("""
cdef inline double %NAME%(const double x, const double y) noexcept nogil:
    global _namespace%SAMPLES%
    cdef double fx = %IX%(x)
    cdef double fy = %IY%(y)
    cdef int k = <int>fx * %STRIDE% + <int>fy
    cdef double wx = fx - <int>fx
    cdef double wy = fy - <int>fy
    cdef double near = _namespace%SAMPLES%[k] + wy * (_namespace%SAMPLES%[k + 1] - _namespace%SAMPLES%[k])
    cdef double far = (_namespace%SAMPLES%[k + %STRIDE%]
                       + wy * (_namespace%SAMPLES%[k + %STRIDE% + 1] - _namespace%SAMPLES%[k + %STRIDE%]))
    if x != x:
        return x
    if y != y:
        return y
    return near + wx * (far - near)
""", table, samples)


def _fill(template, table, samples):
    replacements = {"%NAME%": table.name, "%SAMPLES%": samples, "%STRIDE%": str(table.shape[1] + 1),
                    "%IX%": table.axes[0].name, "%IY%": table.axes[1].name}
    for key, value in replacements.items():
        template = template.replace(key, value)
    return template


def _numpy_function(table, values):
    index_x, index_y = (_numpy_clamped_index(axis, axis.extremes_) for axis in table.axes)

    def lookup(x, y):
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        (fx, nan_x), (fy, nan_y) = index_x(x), index_y(y)
        i, j = fx.astype(np.intp), fy.astype(np.intp)
        wx, wy = fx - i, fy - j
        near = values[i, j] + wy * (values[i, j + 1] - values[i, j])
        far = values[i + 1, j] + wy * (values[i + 1, j + 1] - values[i + 1, j])
        result = near + wx * (far - near)
        for nans in (nan_x, nan_y):
            if nans is not None and nans.any():
                result = np.where(nans, np.nan, result)
        return result

    return lookup


class Table2D(_Sampled, Nameable, CacheKey):
    """
    Table2D(values, low, step, name=None, log=(False, False))

    A function of two variables given by its values on a grid, interpolated
    bilinearly in between and clamped to the edge of the grid outside it.
    Each axis is uniform or logarithmic (interpolated linearly in the
    logarithm of its argument), as for `Table`. It can be used in model
    equations on every Brian2 target, and called directly with units.

    Parameters
    ----------
    values : `Quantity` or array, shape (nx, ny)
        The function at the grid points ``(x_i, y_j)``; their unit is the
        unit of the result.
    low : (`Quantity`, `Quantity`)
        The first grid point of each axis, in the unit of its argument.
    step : (`Quantity` or float, `Quantity` or float)
        The step of each axis: in the unit of its argument, or the ratio of
        neighbouring points on a logarithmic axis.
    name : str, optional
        The name of the function in generated code (default ``'lut2d*'``).
    log : (bool, bool), optional
        Which axes are logarithmic.

    Notes
    -----
    When an argument leaves its axis during a run, the run ends with a
    warning that names the table and the most extreme value reached.

    Examples
    --------
    >>> from brian2 import mV, mM, arange
    >>> v, c = arange(-100, 51)*mV, 1e-5*mM * 10**(arange(41)/10)
    >>> values = (v[:, None]/mV) * (c[None, :]/mM)  # any function of v and c
    >>> f = Table2D(values, low=(-100*mV, 1e-5*mM), step=(1*mV, 10**0.1), log=(False, True))
    >>> print(f(-50.5*mV, 1e-3*mM))
    -0.0505
    """

    #: Code generators per Brian2 target, ``(table, samples_name) -> code``;
    #: another device can add its own (e.g. ``'cuda'``).
    implementations = {"cpp": _cpp_code, "cython": _cython_code}

    def __init__(self, values, low, step, name=None, log=(False, False)):
        Nameable.__init__(self, "lut2d*" if name is None else name)
        values_ = checked_values(self.name, values, 2)
        self.shape = values_.shape
        self.dim = get_dimensions(values)
        self.axes = tuple(GridIndex(low[k], step[k], self.shape[k], name=f"{self.name}_index_{'xy'[k]}",
                                    log=log[k]) for k in (0, 1))
        for axis in self.axes:
            axis.tables.add(self.name)
        self.values_ = padded(values_)
        Function.__init__(self, pyfunc=self._call_with_units, arg_names=["x", "y"],
                          arg_units=[get_unit(axis.arg_dim) for axis in self.axes], return_unit=get_unit(self.dim))
        self._add_implementations(Table2D.implementations,
                                  lambda owner: _numpy_function(self, self.values_for(owner)),
                                  self.values_for, dependencies={axis.name: axis for axis in self.axes})

    @property
    def _state_tuple(self):
        # the generated code depends on the name and the grid, not on the values (see Table)
        return (type(self).__name__, self.name, self.grid_key)

    @property
    def grid_key(self):
        """Equal for tables on the same grid."""
        return tuple(axis.grid_key for axis in self.axes)

    def _packed(self, samples):
        return np.ascontiguousarray(samples).ravel()

    @property
    def values(self):
        """The tabulated values, with the result's unit."""
        return Quantity(self.values_[:-1, :-1], dim=self.dim)

    def values_for(self, owner):
        """The values (unitless, SI, last row and column repeated) that the code run by ``owner`` reads."""
        return self.values_

    def set_values(self, values):
        """Replace the tabulated values in place (same grid, same unit)."""
        replace_values(self, values)

    def _call_with_units(self, x, y):
        for axis, argument, which in zip(self.axes, (x, y), ("first", "second")):
            fail_for_dimension_mismatch(argument, Quantity(1, dim=axis.arg_dim),
                                        f"The {which} argument of table '{self.name}'")
        extremes = [axis.extremes_.copy() for axis in self.axes]
        result = _numpy_function(self, self.values_)(x, y)
        for axis, kept in zip(self.axes, extremes):  # direct calls are not part of a run: not reported
            axis.extremes_[:] = kept
        return Quantity(result, dim=self.dim)

    @property
    def memory_bytes(self):
        """The memory that the samples of one group take in compiled code."""
        return self.values_.nbytes
