"""
`Table`: a Brian2 `Function` that linearly interpolates a function of one
variable sampled on a uniform or a logarithmic grid.
"""

import numpy as np
from brian2.core.functions import Function
from brian2.core.names import Nameable
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch, get_dimensions, get_unit

from .preferences import range_checked
from .sampled import _OnGrid, _Sampled, _slopes, checked_values, padded, replace_values

__all__ = ["Table", "GridIndex", "TableAt"]


def _grid_constants(function):
    # Written into the code as literals: Brian2 refuses scalars in a
    # function's namespace, and literals let the compiler fold them.
    return {
        "%NAME%": function.name,
        "%ARG%": "log(x)" if function.log else "x",
        "%SCALE%": repr(1.0 / function.step_),
        "%OFFSET%": repr(function.low_ / function.step_),
        "%LAST%": repr(float(function.size - 1)),
    }


def _fill(template, function, **extra):
    replacements = _grid_constants(function)
    replacements.update(extra)
    for key, value in replacements.items():
        template = template.replace(key, value)
    return template


# The generated functions share two pieces. The first turns the argument into
# a fractional grid index ``f`` (of ``log(x)`` on a logarithmic grid); outside
# the grid it is clamped and the extreme
# argument is stored in ``_range`` for the report after the run (a branch
# almost never taken, so it costs nothing). The second interpolates from
# (value, slope) pairs, one per grid point plus a repeated end point, so that
# clamped arguments need no further branch: one load site, one multiply-add.
_CPP_INDEX = """
    double f = %ARG% * %SCALE% - %OFFSET%;
    if (!(f >= 0.0)) {
        if (x != x) return %ON_NAN%;
        if (x < _namespace%NAME%_range[0]) _namespace%NAME%_range[0] = x;
        f = 0.0;
    } else if (f > %LAST%) {
        if (x > _namespace%NAME%_range[1]) _namespace%NAME%_range[1] = x;
        f = %LAST%;
    }
"""
# Without the record (prefs.lut4brian.range_check = False, cpp_standalone) the
# index has no branch, only one-level selects (gcc did not if-convert nested
# ones in a whole rk4 step), so that gcc can vectorise the loop that calls it.
# A NaN argument gets the index past the repeated end point, where the samples
# compiled into the code hold a (NaN, 0) pair (see `_Sampled._code`);
# -ffast-math folds the usual ``+ (x - x)`` away.
_CPP_INDEX_UNCHECKED = """
    double f = %ARG% * %SCALE% - %OFFSET%;
    const double above_low = f >= 0.0 ? f : 0.0;
    const double clamped = above_low <= %LAST% ? above_low : %LAST%;
    f = x == x ? clamped : %LAST% + 2.0;
"""
_CPP_INTERPOLATE = """
    return _namespace%PAIRS%[2 * i] + w * _namespace%PAIRS%[2 * i + 1];
"""
_CYTHON_INDEX = """
    cdef double f = %ARG% * %SCALE% - %OFFSET%
    if not (f >= 0.0):
        if x != x:
            return %ON_NAN%
        if x < _namespace%NAME%_range[0]:
            _namespace%NAME%_range[0] = x
        f = 0.0
    elif f > %LAST%:
        if x > _namespace%NAME%_range[1]:
            _namespace%NAME%_range[1] = x
        f = %LAST%
"""
_CYTHON_INTERPOLATE = """
    return _namespace%PAIRS%[2 * i] + w * _namespace%PAIRS%[2 * i + 1]
"""


# Each generator gets the function and the name of the namespace array that
# holds its samples (see `_OnGrid._add_implementations`).
def _cpp_index_template():
    return _CPP_INDEX if range_checked() else _CPP_INDEX_UNCHECKED


def _cpp_code(table, pairs, template=None, qualifiers=""):
    # template and qualifiers: see lut4brian.cuda
    template = template or _cpp_index_template()
    return _fill(qualifiers + "static inline double %NAME%(const double x)\n{" + template
                 + "    const int i = (int)f;\n    const double w = f - i;" + _CPP_INTERPOLATE + "}\n",
                 table, **{"%ON_NAN%": "x", "%PAIRS%": pairs})


def _cython_code(table, pairs):
    return _fill("cdef inline double %NAME%(const double x) noexcept nogil:\n"
                 "    global _namespace%PAIRS%, _namespace%NAME%_range" + _CYTHON_INDEX
                 + "    cdef int i = <int>f\n    cdef double w = f - i" + _CYTHON_INTERPOLATE,
                 table, **{"%ON_NAN%": "x", "%PAIRS%": pairs})


def _cpp_index_code(index, pairs=None, template=None, qualifiers=""):
    # A NaN argument gives index 0, a safe address; the NaN stays in the argument.
    template = template or _cpp_index_template()
    return _fill(qualifiers + "static inline double %NAME%(const double x)\n{" + template + "    return f;\n}\n",
                 index, **{"%ON_NAN%": "0.0"})


def _cython_index_code(index, pairs=None):
    return _fill("cdef inline double %NAME%(const double x) noexcept nogil:\n"
                 "    global _namespace%NAME%_range" + _CYTHON_INDEX + "    return f\n",
                 index, **{"%ON_NAN%": "0.0"})


def _cpp_at_code(at, pairs):
    return ("static inline double %NAME%(const int i, const double w)\n{" + _CPP_INTERPOLATE + "}\n").replace(
        "%NAME%", at.name).replace("%PAIRS%", pairs)


def _cython_at_code(at, pairs):
    return ("cdef inline double %NAME%(const int i, const double w) noexcept nogil:\n"
            "    global _namespace%PAIRS%" + _CYTHON_INTERPOLATE).replace(
        "%NAME%", at.name).replace("%PAIRS%", pairs)


def _numpy_clamped_index(function, extremes):
    """
    A vectorised ``index(x) -> (f, nans)``: the fractional grid index, clamped
    (NaN gives 0), and the mask of NaN arguments, ``None`` when all of ``x``
    is on the grid (the usual case, which costs no extra pass).
    """
    scale = 1.0 / function.step_
    offset = function.low_ / function.step_
    last = float(function.size - 1)
    log = function.log

    def log_of(x):
        with np.errstate(invalid="ignore", divide="ignore"):  # x <= 0: clamped below
            return np.log(x)

    def clamp(x, f):
        # Rarely taken: only when the argument left the grid (or is NaN).
        x = np.asarray(x, dtype=float)
        nans = np.isnan(x)
        if not nans.all():
            extremes[0] = min(extremes[0], x[~nans].min())
            extremes[1] = max(extremes[1], x[~nans].max())
        return np.clip(np.nan_to_num(f, nan=0.0), 0.0, last), nans

    def index(x):
        f = (log_of(x) if log else x) * scale - offset
        # The two reductions replace the clip a lookup would need anyway.
        if f.min() >= 0.0 and f.max() <= last:
            return f, None
        return clamp(x, f)

    return index


def _numpy_index(function, extremes):
    clamped = _numpy_clamped_index(function, extremes)
    return lambda x: clamped(x)[0]


def _numpy_at(values):
    """A vectorised ``at(i, w)`` on ``values`` (with the repeated end point)."""
    slopes = _slopes(values)

    def at(i, w):
        y = slopes.take(i)
        y *= w
        y += values.take(i)
        return y

    return at


def _numpy_function(table, values, extremes):
    index, at = _numpy_clamped_index(table, extremes), _numpy_at(values)

    def lookup(x):
        f, nans = index(x)
        i = f.astype(np.intp)
        y = at(i, f - i)
        return y if nans is None or not nans.any() else np.where(nans, np.nan, y)

    return lookup


class Table(_OnGrid):
    """
    Table(values, low, step, name=None, log=False)

    A function of one variable given by its values on a uniform grid, linearly
    interpolated in between and clamped to the end values outside the grid.
    On a logarithmic grid (``log=True``) it is interpolated linearly in the
    logarithm of the argument, for arguments that span decades, such as
    concentrations.
    It can be used in model equations on every Brian2 target like any other
    function, and called directly with units.

    Parameters
    ----------
    values : `Quantity` or array
        The function at ``low, low + step, ..., low + (len(values) - 1)*step``;
        their unit is the unit of the result.
    low : `Quantity`
        The first grid point, in the unit of the argument.
    step : `Quantity` or float
        The grid step, in the unit of the argument; with ``log=True``, the
        ratio of neighbouring grid points (> 1), so that the grid is
        ``low, low*step, low*step**2, ...``.
    name : str, optional
        The name of the function in generated code; a unique name is taken
        from ``'lut*'`` by default.
    log : bool, optional
        Whether the grid is logarithmic.

    Notes
    -----
    When the argument leaves the grid during a run, the run ends with a warning
    that names the table and the most extreme value reached.

    Examples
    --------
    >>> from brian2 import mV, ms, exp, arange
    >>> v = arange(-100, 51) * mV
    >>> tau = Table(1*ms + 4*ms * exp(-(v/(20*mV))**2), low=-100*mV, step=1*mV)
    >>> print(tau(-0.5*mV))
    4.99500624 ms
    >>> print(tau(200*mV))  # clamped to the last grid point
    1.00772182 ms
    >>> from brian2 import mM
    >>> c = 1e-5*mM * 10**(arange(41)/10)  # 1e-5 to 1e-1 mM, 10 points per decade
    >>> k_inf = Table(c**2/(c**2 + (1e-3*mM)**2), low=1e-5*mM, step=10**0.1, log=True)
    >>> print(k_inf(1e-3*mM))
    0.5
    """

    #: Code generators per Brian2 target, ``(table, samples_name) -> code``,
    #: where ``samples_name`` is the namespace array of (value, slope) pairs.
    #: Another device can add its own (e.g. ``'cuda'``) before tables are created.
    implementations = {"cpp": _cpp_code, "cython": _cython_code}

    def __init__(self, values, low, step, name=None, log=False):
        Nameable.__init__(self, "lut*" if name is None else name)
        values_ = checked_values(self.name, values, 1)
        self._set_grid(low, step, values_.size, log)
        self.dim = get_dimensions(values)
        self.values_ = padded(values_)
        self._at = None
        Function.__init__(
            self,
            pyfunc=self._call_with_units,
            arg_units=[get_unit(self.arg_dim)],
            arg_names=["x"],
            return_unit=get_unit(self.dim),
        )
        self._add_implementations(
            Table.implementations,
            lambda owner: _numpy_function(self, self.values_for(owner), self.extremes_),
            self.values_for,
        )

    @property
    def values(self):
        """The tabulated values, with the result's unit."""
        return Quantity(self.values_[:-1], dim=self.dim)

    def values_for(self, owner):
        """
        The values (unitless, SI, the last one repeated) that the code run by
        ``owner`` reads; for a plain table, its own values.
        """
        return self.values_

    def set_values(self, values):
        """Replace the tabulated values in place (same grid, same unit)."""
        replace_values(self, values)

    @property
    def at(self):
        """
        This table as a function ``at(i, w)`` of a grid index ``i`` and a weight
        ``w`` (from a `GridIndex`): the interpolation without the index work,
        for integrators that look up several tables at the same argument.
        """
        if self._at is None:
            self._at = TableAt(self)
        return self._at

    def _call_with_units(self, x):
        fail_for_dimension_mismatch(x, Quantity(1, dim=self.arg_dim), f"The argument of table '{self.name}'")
        # Direct calls are not part of a run: their excursions are not reported.
        lookup = _numpy_function(self, self.values_, extremes=np.array([-np.inf, np.inf]))
        return Quantity(lookup(np.asarray(x, dtype=float)), dim=self.dim)

    @property
    def memory_bytes(self):
        """The memory that the samples of one group take in compiled code."""
        return 2 * self.values_.nbytes



class GridIndex(_OnGrid):
    """
    GridIndex(low, step, size, name=None, log=False)

    The fractional index ``f`` of the argument on a grid (see `Table`), clamped to
    ``[0, size - 1]``: ``int(f)`` and ``f - int(f)`` are the arguments of
    `Table.at`. Computing it once for all tables on one grid saves most of the
    work of each lookup. The out-of-range report names ``tables``.
    """

    implementations = {"cpp": _cpp_index_code, "cython": _cython_index_code}

    def __init__(self, low, step, size, name=None, log=False):
        Nameable.__init__(self, "lut_index*" if name is None else name)
        self._set_grid(low, step, size, log)
        self.tables = set()
        Function.__init__(self, pyfunc=self._call_with_units, arg_units=[get_unit(self.arg_dim)],
                          arg_names=["x"], return_unit=1)
        self._add_implementations(GridIndex.implementations, lambda owner: _numpy_index(self, self.extremes_))

    def _call_with_units(self, x):
        fail_for_dimension_mismatch(x, Quantity(1, dim=self.arg_dim), f"The argument of '{self.name}'")
        return _numpy_index(self, np.array([-np.inf, np.inf]))(np.asarray(x, dtype=float))

    @property
    def subject(self):
        return f"tables {', '.join(repr(name) for name in sorted(self.tables))}"


class TableAt(_Sampled):
    """``table.at(i, w)``: a `Table` at grid index ``i`` with weight ``w`` (see `Table.at`)."""

    implementations = {"cpp": _cpp_at_code, "cython": _cython_at_code}

    def __init__(self, table):
        self.table = table
        self.name = f"{table.name}_at"
        Function.__init__(self, pyfunc=lambda i, w: _numpy_at(table.values_)(np.asarray(i, dtype=np.intp), w),
                          arg_units=[1, 1], arg_names=["i", "w"], arg_types=["integer", "float"],
                          return_unit=get_unit(table.dim))
        self._add_implementations(TableAt.implementations, lambda owner: _numpy_at(table.values_for(owner)),
                                  table.values_for)


