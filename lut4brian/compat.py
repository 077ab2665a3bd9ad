"""
Compatibility with scripts written for lut4brian 0.1.0.

Such scripts set the module variables ``Xmin``, ``Xmax``, ``dX`` and ``tbl``
on the module exported as ``lut4brian``, call `lutinit` and then use
``lutinterpol(x, k)`` in their equations: the linear interpolation of row
``k`` of ``tbl`` at ``x``, with ``tbl`` sampled at ``Xmin, Xmin + dX, ...,
Xmax``. All values are plain numbers; the argument is usually ``v/mV``.

Unlike 0.1.0, nothing is written to disk: `lutinterpol` is a Brian2
`Function` with implementations for the numpy, cython and C++ targets, like
`TimedArray`. The implementations read the module variables whenever code is
generated, so a script may change the table between runs.

Examples
--------
>>> import numpy as np
>>> from lut4brian import compat as lut4brian
>>> lut4brian.Xmin, lut4brian.Xmax, lut4brian.dX = -1.0, 1.0, 1.0
>>> lut4brian.tbl = np.array([[0.0, 1.0, 4.0], [5.0, 6.0, 7.0]])
>>> lut4brian.lutinit()
>>> print(lut4brian.lutinterpol(0.5, 0), lut4brian.lutinterpol(-3.0, 1))
2.5 5.0
"""

import hashlib

import numpy as np
from brian2.core.functions import Function
from brian2.utils.stringtools import replace

# The table variables are not exported: a star import would copy them into
# the script, where setting them has no effect. Scripts set them on the module.
__all__ = ["lutinit", "lutinterpol"]

#: The first grid point (a plain number, in the unit of the first argument).
Xmin = None
#: The last grid point; arguments at or above it give the last column.
Xmax = None
#: The grid step.
dX = None
#: The table, a 2-D array: one row per curve, one column per grid point.
tbl = None

# The name of the function in generated code.
_NAME = "lutinterpol"


class _Grid:
    """The validated module variables, in the form the implementations use."""

    def __init__(self, xmin, xmax, dx, table):
        self.xmin = xmin
        self.xmax = xmax
        self.dx = dx
        self.rows, self.columns = table.shape
        # Each row gets its last value once more, so that the upper neighbour
        # of the last grid point exists: clamped arguments then need no extra
        # branch and return the end values exactly (with a weight of zero).
        padded = np.concatenate([table, table[:, -1:]], axis=1)
        self.flat = np.ascontiguousarray(padded, dtype=np.float64).ravel()
        self.stride = self.columns + 1


def _number(name, value):
    if value is None:
        raise ValueError(
            f"lut4brian.{name} is not set. Set lut4brian.Xmin, lut4brian.Xmax, "
            "lut4brian.dX and lut4brian.tbl before calling lutinit()."
        )
    try:
        number = float(value)
    except Exception:
        raise ValueError(
            f"lut4brian.{name} must be a plain number (without units), got {value!r}."
        ) from None
    if not np.isfinite(number):
        raise ValueError(f"lut4brian.{name} must be finite, got {number}.")
    return number


def _table(value):
    if value is None:
        raise ValueError(
            "lut4brian.tbl is not set. Set it to a 2-D array with one row per "
            "curve and one column per grid point before calling lutinit()."
        )
    try:
        table = np.asarray(value, dtype=np.float64)
    except Exception:
        raise ValueError(
            "lut4brian.tbl must be a 2-D array of plain numbers (one row per "
            "curve, one column per grid point)."
        ) from None
    if table.ndim != 2 or table.shape[1] < 2 or table.shape[0] < 1:
        raise ValueError(
            "lut4brian.tbl must be a 2-D array with one row per curve and at "
            f"least two columns (one per grid point); got shape {table.shape}. "
            "Build it as array([curve0, curve1, ...])."
        )
    if not np.all(np.isfinite(table)):
        rows = sorted(set(np.nonzero(~np.isfinite(table))[0].tolist()))
        raise ValueError(f"lut4brian.tbl has values that are not finite (NaN or inf) in row(s) {rows}.")
    return table


def _grid():
    """Validate the module variables and return them as a `_Grid`."""
    # Read the module's own globals: scripts set them as attributes of the
    # module exported as ``lut4brian``, which is this module.
    xmin, xmax, dx = _number("Xmin", Xmin), _number("Xmax", Xmax), _number("dX", dX)
    table = _table(tbl)
    if not dx > 0:
        raise ValueError(f"lut4brian.dX must be positive, got {dx}.")
    if not xmax > xmin:
        raise ValueError(f"lut4brian.Xmax ({xmax}) must be larger than lut4brian.Xmin ({xmin}).")
    expected = (xmax - xmin) / dx + 1
    # "Within rounding": the grid end computed from floats may miss an
    # integer number of steps by a few ulps, never by a visible fraction.
    if abs(expected - table.shape[1]) > 1e-6 * expected:
        raise ValueError(
            f"lut4brian.tbl has {table.shape[1]} columns, but the grid from Xmin={xmin} "
            f"to Xmax={xmax} in steps of dX={dx} has {expected:.6g} points; each "
            "row of tbl must hold one value per grid point."
        )
    return _Grid(xmin, xmax, dx, table)


def lutinit():
    """
    Check the module variables ``Xmin``, ``Xmax``, ``dX`` and ``tbl``.

    Kept for scripts written for lut4brian 0.1.0, where it generated C code.
    Now it only reports mistakes early: `lutinterpol` reads the variables
    itself each time code is generated. No file is written.

    Raises
    ------
    ValueError
        If a variable is missing, the range is empty or inverted, ``dX`` is not
        positive, or ``tbl`` is not a finite 2-D array with one column per
        grid point.
    """
    _grid()


def _numpy_lookup(grid):
    """A vectorised ``lookup(x, k)`` on ``grid``; ``x`` and ``k`` may be arrays."""
    flat, stride = grid.flat, grid.stride
    xmin, xmax, dx, last = grid.xmin, grid.xmax, grid.dx, float(grid.columns - 1)

    def lookup(x, k):
        x = np.asarray(x, dtype=np.float64)
        k = np.asarray(k).astype(np.intp)
        f = (x - xmin) / dx
        # np.where and np.maximum keep NaN, so a NaN argument gives NaN below.
        f = np.maximum(np.where((x >= xmax) | (f > last), last, f), 0.0)
        i = np.nan_to_num(f).astype(np.intp)
        w = f - i
        index = k * stride + i
        y0 = flat.take(index, mode="clip")
        y = y0 + w * (flat.take(index + 1, mode="clip") - y0)
        bad_row = (k < 0) | (k >= grid.rows)
        if np.any(bad_row):
            y = np.where(bad_row, np.nan, y)
        return y

    return lookup


def _constants(grid, key):
    # Written into the code as literals: Brian2 refuses scalars in a
    # function's namespace. repr() keeps every bit of a float.
    return {
        "%NAME%": _NAME,
        "%TABLE%": key,
        "%XMIN%": repr(grid.xmin),
        "%XMAX%": repr(grid.xmax),
        "%DX%": repr(grid.dx),
        "%LAST%": repr(float(grid.columns - 1)),
        "%ROWS%": str(grid.rows),
        "%STRIDE%": str(grid.stride),
    }


# The compiled versions follow the numpy one step by step, so that all
# targets give the same result to rounding: an unknown row or a NaN argument
# gives NaN, arguments outside [Xmin, Xmax] are clamped to the end columns.
_CPP_CODE = """
static inline double %NAME%(const double x, const int k)
{
    if (k < 0 || k >= %ROWS% || x != x)
        return NAN;
    double f = (x - %XMIN%) / %DX%;
    if (x >= %XMAX% || f > %LAST%)
        f = %LAST%;
    else if (f < 0.0)
        f = 0.0;
    const int i = (int)f;
    const double w = f - i;
    const double *row = _namespace%TABLE% + k * %STRIDE%;
    return row[i] + w * (row[i + 1] - row[i]);
}
"""

_CYTHON_CODE = """
cdef double %NAME%(const double x, const int k):
    global _namespace%TABLE%
    if k < 0 or k >= %ROWS% or x != x:
        return _numpy.nan
    cdef double f = (x - %XMIN%) / %DX%
    if x >= %XMAX% or f > %LAST%:
        f = %LAST%
    elif f < 0.0:
        f = 0.0
    cdef int i = <int>f
    cdef double w = f - i
    cdef int j = k * %STRIDE% + i
    return _namespace%TABLE%[j] + w * (_namespace%TABLE%[j + 1] - _namespace%TABLE%[j])
"""


# Cython: each code object gets its namespace when it is created, so one
# name serves every table, and a new table with the same grid needs no new
# compilation.
_CYTHON_KEY = f"{_NAME}_table"


def _cython_code(owner):
    return replace(_CYTHON_CODE, _constants(_grid(), _CYTHON_KEY))


def _cython_namespace(owner):
    return {_CYTHON_KEY: _grid().flat}


# cpp_standalone: the code is generated at each run(), but the namespaces are
# only collected at the build, after the last run, into one array per name.
# So that a run reads the table it was generated for, each table gets a name
# of its own, and every table that code was generated for is handed over.
_cpp_tables = {}


def _cpp_key(grid):
    digest = hashlib.sha1(grid.flat.tobytes() + repr(grid.flat.shape).encode())
    return f"{_NAME}_table_{digest.hexdigest()[:16]}"


def _cpp_code(owner):
    grid = _grid()
    key = _cpp_key(grid)
    _cpp_tables[key] = grid.flat
    return replace(_CPP_CODE, _constants(grid, key))


def _cpp_namespace(owner):
    # Brian2 asks for it right after the code of the same code object, and
    # again at the build, when the module variables may have changed again.
    return dict(_cpp_tables)


def _numpy_implementation(owner):
    return _numpy_lookup(_grid())


def _call(x, k):
    """lutinterpol(x, k): row ``k`` of ``lut4brian.tbl`` interpolated at ``x``."""
    # [()] turns the 0-d result of scalar arguments into a number.
    return _numpy_lookup(_grid())(x, k)[()]


class LutInterpol(Function):
    """
    LutInterpol()

    The function ``lutinterpol(x, k)`` of lut4brian 0.1.0: row ``k`` of the
    module variable ``tbl``, linearly interpolated at ``x`` on the grid
    ``Xmin, Xmin + dX, ..., Xmax``. Both arguments are dimensionless (pass
    ``v/mV``, not ``v``), as is the result.

    Notes
    -----
    For ``x <= Xmin`` the first column is returned, for ``x >= Xmax`` the last
    one. A NaN argument or a row ``k`` outside the table gives NaN. The module
    variables are read at each direct call and whenever code is generated,
    i.e. at each ``run()``: a run uses the table set before it, on every
    target (on cpp_standalone too, where all runs are built at the end).
    """

    #: ``(code, namespace)`` per Brian2 target, both callables of the owner
    #: as for `add_dynamic_implementation`. Another device can add its own
    #: (e.g. ``'cuda'``) before `lutinterpol` is created.
    implementations = {"cpp": (_cpp_code, _cpp_namespace), "cython": (_cython_code, _cython_namespace)}

    def __init__(self):
        Function.__init__(
            self,
            pyfunc=_call,
            arg_units=[1, 1],
            arg_names=["x", "k"],
            return_unit=1,
            stateless=True,
        )
        # Dynamic implementations, because the table is only known (and may
        # change) after import; the numpy one is dynamic for the same reason.
        self.implementations.add_dynamic_implementation("numpy", _numpy_implementation)
        for target, (code, namespace) in LutInterpol.implementations.items():
            self.implementations.add_dynamic_implementation(target, code, namespace=namespace, name=_NAME)


#: ``lutinterpol(x, k)``, to be used in model equations; see `LutInterpol`.
lutinterpol = LutInterpol()
