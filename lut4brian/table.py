"""
`Table`: a Brian2 `Function` that linearly interpolates a function of one
variable sampled on a uniform grid.
"""

import weakref

import numpy as np
from brian2.core.functions import Function
from brian2.core.names import Nameable
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch, get_dimensions, get_unit
from brian2.utils.caching import CacheKey
from brian2.utils.logger import get_logger

from ._brian_internals import report_range_in_standalone

__all__ = ["Table"]

logger = get_logger(__name__)


def _grid_constants(table):
    # Written into the code as literals: Brian2 refuses scalars in a
    # function's namespace, and literals let the compiler fold them.
    return {
        "%NAME%": table.name,
        "%SCALE%": repr(1.0 / table.step_),
        "%OFFSET%": repr(table.low_ / table.step_),
        "%LAST%": repr(float(table.size - 1)),
    }


def _fill(template, table):
    for key, value in _grid_constants(table).items():
        template = template.replace(key, value)
    return template


# Each generator writes a function ``double NAME(double x)``. ``_values`` holds
# the samples plus one repeated end point, so the upper neighbour of the last
# grid point exists and needs no branch. Outside the grid the argument is
# clamped and the extreme value reached is stored in ``_range`` for the report
# after the run; that branch is almost never taken, so it costs nothing.
def _cpp_code(table):
    return _fill(
        """
static inline double %NAME%(const double x)
{
    double f = x * %SCALE% - %OFFSET%;
    if (!(f >= 0.0)) {
        if (x != x) return x;
        if (x < _namespace%NAME%_range[0]) _namespace%NAME%_range[0] = x;
        f = 0.0;
    } else if (f > %LAST%) {
        if (x > _namespace%NAME%_range[1]) _namespace%NAME%_range[1] = x;
        f = %LAST%;
    }
    const int i = (int)f;
    const double w = f - i;
    const double y0 = _namespace%NAME%_values[i];
    return y0 + w * (_namespace%NAME%_values[i + 1] - y0);
}
""",
        table,
    )


def _cython_code(table):
    return _fill(
        """
cdef inline double %NAME%(const double x) noexcept nogil:
    global _namespace%NAME%_values, _namespace%NAME%_range
    cdef double f = x * %SCALE% - %OFFSET%
    if not (f >= 0.0):
        if x != x:
            return x
        if x < _namespace%NAME%_range[0]:
            _namespace%NAME%_range[0] = x
        f = 0.0
    elif f > %LAST%:
        if x > _namespace%NAME%_range[1]:
            _namespace%NAME%_range[1] = x
        f = %LAST%
    cdef int i = <int>f
    cdef double w = f - i
    cdef double y0 = _namespace%NAME%_values[i]
    return y0 + w * (_namespace%NAME%_values[i + 1] - y0)
""",
        table,
    )


def _numpy_function(table, extremes):
    values = table.values_
    slopes = table._slopes
    scale = 1.0 / table.step_
    offset = table.low_ / table.step_
    last = float(table.size - 1)

    def clamp(x, f):
        # Rarely taken: only when the argument left the grid (or is NaN).
        x = np.asarray(x, dtype=float)
        nans = np.isnan(x)
        if not nans.all():
            extremes[0] = min(extremes[0], x[~nans].min())
            extremes[1] = max(extremes[1], x[~nans].max())
        return np.clip(np.nan_to_num(f, nan=0.0), 0.0, last), nans

    def lookup(x):
        f = x * scale - offset
        nans = None
        # The two reductions replace the clip a lookup would need anyway.
        if not (f.min() >= 0.0 and f.max() <= last):
            f, nans = clamp(x, f)
        i = f.astype(np.intp)
        f = f - i
        y = slopes.take(i)
        y *= f
        y += values.take(i)
        if nans is not None and nans.any():
            y = np.where(nans, np.nan, y)
        return y

    return lookup


class Table(Function, Nameable, CacheKey):
    """
    Table(values, low, step, name=None)

    A function of one variable given by its values on a uniform grid, linearly
    interpolated in between and clamped to the end values outside the grid.
    It can be used in model equations on every Brian2 target like any other
    function, and called directly with units.

    Parameters
    ----------
    values : `Quantity` or array
        The function at ``low, low + step, ..., low + (len(values) - 1)*step``;
        their unit is the unit of the result.
    low : `Quantity`
        The first grid point, in the unit of the argument.
    step : `Quantity`
        The grid step, in the unit of the argument.
    name : str, optional
        The name of the function in generated code; a unique name is taken
        from ``'lut*'`` by default.

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
    """

    _cache_irrelevant_attributes = {"_id", "values_", "_slopes", "extremes_", "pyfunc", "implementations"}

    #: Code generators per Brian2 target, ``table -> code``. Another device can
    #: add its own (e.g. ``'cuda'``) before tables are created.
    implementations = {"cpp": _cpp_code, "cython": _cython_code}

    def __init__(self, values, low, step, name=None):
        Nameable.__init__(self, "lut*" if name is None else name)
        fail_for_dimension_mismatch(low, step, "The grid start and step must have the same unit.")
        values_ = np.asarray(values, dtype=np.float64)
        if values_.ndim != 1 or len(values_) < 2:
            raise ValueError("A table needs a one-dimensional array of at least two values.")
        if not np.all(np.isfinite(values_)):
            raise ValueError(f"The values of table '{self.name}' are not all finite.")
        if not float(step) > 0:
            raise ValueError(f"The grid step of table '{self.name}' must be positive, got {step}.")
        self.dim = get_dimensions(values)
        self.arg_dim = get_dimensions(low)
        self.low_ = float(low)
        self.step_ = float(step)
        self.size = len(values_)
        # One repeated end point (see the code generators) and the slopes for numpy.
        self.values_ = np.append(values_, values_[-1])
        self._slopes = np.diff(self.values_, append=self.values_[-1])
        self.extremes_ = np.array([self.low_, self.high_])
        _live_tables.add(self)
        Function.__init__(
            self,
            pyfunc=self._call_with_units,
            arg_units=[get_unit(self.arg_dim)],
            arg_names=["x"],
            return_unit=get_unit(self.dim),
        )
        self._add_implementations()

    @property
    def high_(self):
        """The last grid point, unitless (SI)."""
        return self.low_ + (self.size - 1) * self.step_

    @property
    def low(self):
        """The first grid point, with the argument's unit."""
        return Quantity(self.low_, dim=self.arg_dim)

    @property
    def step(self):
        """The grid step, with the argument's unit."""
        return Quantity(self.step_, dim=self.arg_dim)

    @property
    def grid(self):
        """The grid points, with the argument's unit."""
        return Quantity(self.low_ + self.step_ * np.arange(self.size), dim=self.arg_dim)

    @property
    def values(self):
        """The tabulated values, with the result's unit."""
        return Quantity(self.values_[:-1], dim=self.dim)

    def set_values(self, values):
        """Replace the tabulated values in place (same grid, same unit)."""
        fail_for_dimension_mismatch(values, self.values, f"New values for table '{self.name}'")
        values_ = np.asarray(values, dtype=np.float64)
        if values_.shape != (self.size,):
            raise ValueError(f"Table '{self.name}' needs {self.size} values, got shape {values_.shape}.")
        self.values_[:-1] = values_
        self.values_[-1] = values_[-1]
        self._slopes[:] = np.diff(self.values_, append=self.values_[-1])

    def before_codegen(self):
        """Called before code for this table is generated; subclasses refresh values here."""

    def _call_with_units(self, x):
        fail_for_dimension_mismatch(x, Quantity(1, dim=self.arg_dim), f"The argument of table '{self.name}'")
        # Direct calls are not part of a run: their excursions are not reported.
        lookup = _numpy_function(self, extremes=np.array([-np.inf, np.inf]))
        return Quantity(lookup(np.asarray(x, dtype=float)), dim=self.dim)

    def _namespace(self, owner):
        self.before_codegen()
        return {f"{self.name}_values": self.values_, f"{self.name}_range": self.extremes_}

    def _add_implementations(self):
        def numpy_impl(owner):
            self.before_codegen()
            return _numpy_function(self, self.extremes_)

        self.implementations.add_dynamic_implementation("numpy", numpy_impl)
        for target, generate in Table.implementations.items():
            self.implementations.add_dynamic_implementation(
                target,
                code=lambda owner, generate=generate: _announce(self, generate(self)),
                namespace=self._namespace,
                name=self.name,
            )

    def left_grid(self):
        """
        The extreme arguments reached outside the grid since the last reset,
        as ``(lowest, highest)`` with units, or ``None`` if the argument stayed
        on the grid.
        """
        low, high = self.extremes_
        if low >= self.low_ and high <= self.high_:
            return None
        return Quantity(low, dim=self.arg_dim), Quantity(high, dim=self.arg_dim)

    def report_range(self):
        """Warn if the argument left the grid, then reset the record."""
        reached = self.left_grid()
        if reached is not None:
            logger.warn(_range_message(self, *reached), name_suffix="out_of_range")
        self.extremes_[:] = self.low_, self.high_


def _range_message(table, lowest, highest):
    grid_low = Quantity(table.low_, dim=table.arg_dim)
    grid_high = Quantity(table.high_, dim=table.arg_dim)
    reached = [str(v) for v, out in ((lowest, table.extremes_[0] < table.low_),
                                     (highest, table.extremes_[1] > table.high_)) if out]
    return (
        f"The argument of table '{table.name}' left its grid [{grid_low}, {grid_high}] "
        f"(reached {' and '.join(reached)}); values there were clamped to the end of the grid."
    )


#: Every table alive, for the range report after each run.
_live_tables = weakref.WeakSet()


def _announce(table, code):
    report_range_in_standalone(table)
    return code
