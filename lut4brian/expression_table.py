"""
Tables of expressions with external constants, of one variable
(`ExpressionTable`) or two (`ExpressionTable2D`), whose values each group
that runs them resolves for itself; and the registry that makes the same
expression on the same grid the same table.
"""

import numpy as np
from brian2.core.functions import Function
from brian2.units.fundamentalunits import fail_for_dimension_mismatch, get_dimensions
from brian2.utils.logger import get_logger

from ._brian_internals import resolve_constants
from .grid import _warn_of_poles_between_points, evaluate_on_grid, evaluate_on_grids
from .sampled import padded
from .table import Table
from .table2d import Table2D

__all__ = ["ExpressionTable", "ExpressionTable2D", "expression_table", "is_constant"]

logger = get_logger(__name__)


class _OfConstants:
    """
    A table of the expression ``code`` with external constants. Like every
    Brian2 expression, it takes the constants' values from the group that
    runs it, in every run (from the group's namespace, then the run
    namespace), like NEURON's ``DEPEND``; its own values, and those used where
    a group cannot resolve a constant, are the ones tabulated with
    ``constants``. Subclasses say how the expression is evaluated
    (`_evaluate`) and padded for the compiled code (`_pad`).
    """

    #: Value sets kept per table for the groups that run it (a sweep needs only the last few).
    CACHED_VALUE_SETS = 8

    def _keep(self, code, grids, constants, functions):
        self.code, self.grids, self.functions = code, tuple(grids), functions
        self.grid_spec = self.grids[0]
        self._by_constants = {}
        self.constants = dict(constants)

    def retabulate(self, constants):
        """Take ``constants`` as the table's own values of its constants (same names)."""
        if _key(constants) != _key(self.constants):
            self.set_values(self._evaluate(constants))
            self.constants = dict(constants)

    def constants_for(self, owner):
        """The constants as the code run by ``owner`` resolves them (own values where it cannot)."""
        resolved = resolve_constants(owner, list(self.constants))
        constants = {}
        for name, own in self.constants.items():
            value = resolved[name]
            if value is None:
                value = own
            elif np.ndim(value) != 0:
                raise ValueError(
                    f"'{name}' is a constant in table '{self.name}' ({self.code}), but in "
                    f"'{getattr(owner, 'name', owner)}' it is not a single value: tabulate the "
                    f"equations with '{name}' as a variable, or give it one value.")
            else:
                fail_for_dimension_mismatch(value, own, f"'{name}' in table '{self.name}' ({self.code})")
            constants[name] = value
        return constants

    def values_for(self, owner):
        constants = self.constants_for(owner)
        key = _key(constants)
        if key == _key(self.constants):
            return self.values_
        if key not in self._by_constants:
            if len(self._by_constants) >= self.CACHED_VALUE_SETS:
                del self._by_constants[next(iter(self._by_constants))]
            self._by_constants[key] = self._pad(np.asarray(self._evaluate(constants)))
            changed = sorted(n for n in constants if _key({n: constants[n]}) != _key({n: self.constants[n]}))
            logger.debug(f"Table '{self.name}' for '{getattr(owner, 'name', owner)}' evaluated with "
                         + ", ".join(f"{n} = {constants[n]}" for n in changed), name_suffix="constants")
        return self._by_constants[key]


class ExpressionTable(_OfConstants, Table):
    """A `Table` of an expression of one variable with external constants (see `_OfConstants`)."""

    def __init__(self, code, grid, constants, functions, name=None):
        self._keep(code, [grid], constants, functions)
        values = evaluate_on_grid(code, grid, constants, functions)
        _warn_of_poles_between_points(code, grid, values, constants, functions)
        Table.__init__(self, values, grid.low, grid.step, name=name, log=grid.log)

    def _evaluate(self, constants):
        return evaluate_on_grid(self.code, self.grid_spec, constants, self.functions)

    _pad = staticmethod(padded)

    def sample(self, grid, constants=None):
        """The exact expression on another `Grid` of the same variable, unitless."""
        constants = self.constants if constants is None else constants
        return np.asarray(evaluate_on_grid(self.code, grid, constants, self.functions))


class ExpressionTable2D(_OfConstants, Table2D):
    """A `Table2D` of an expression of two variables with external constants (see `_OfConstants`)."""

    def __init__(self, code, grids, constants, functions, name=None):
        self._keep(code, grids, constants, functions)
        Table2D.__init__(self, self._evaluate(constants), [g.low for g in grids], [g.step for g in grids],
                         name=name, log=[g.log for g in grids])

    def _evaluate(self, constants):
        return evaluate_on_grids(self.code, self.grids, constants, self.functions)

    _pad = staticmethod(padded)


def _key(constants):
    return tuple(sorted((name, float(np.asarray(value)), repr(get_dimensions(value)))
                        for name, value in constants.items()))


#: Every table made, by what defines it: the same expression on the same grid,
#: tabulated again (in a sweep, say), is the same table with the same name,
#: so nothing grows with the number of calls and compiled code is reused.
_tables = {}


def expression_table(hint, code, grids, constants, functions):
    """The table of ``code`` on ``grids`` (one or two), named from ``hint``: made once, then found again."""
    key = (hint, code, tuple((g.name, float(g.low), float(g.step), g.size, repr(g.dim), g.log) for g in grids),
           tuple(sorted((name, repr(value.dim)) for name, value in constants.items())))
    table = _tables.get(key)
    if table is None:
        if len(grids) == 1:
            table = ExpressionTable(code, grids[0], constants, functions, name=f"lut_{hint}*")
        else:
            table = ExpressionTable2D(code, grids, constants, functions, name=f"lut_{hint}*")
        _tables[key] = table
    else:
        table.retabulate(constants)
    return table


def is_constant(value):
    """Whether ``value`` can be a constant of a table: one finite number, with or without units."""
    if isinstance(value, (Function, bool, str)) or value is None:
        return False
    try:
        return np.ndim(value) == 0 and np.isfinite(float(np.asarray(value)))
    except (TypeError, ValueError):
        return False
