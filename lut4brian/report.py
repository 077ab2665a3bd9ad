"""
What the tables of tabulated equations cost and how accurate they are.
"""

from dataclasses import asdict, dataclass

import numpy as np
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.equations.equations import Equations
from brian2.units.fundamentalunits import Quantity, is_dimensionless

from .expression_table import ExpressionTable, ExpressionTable2D
from .grid import Grid, evaluate_on_grids, interpolation_error

__all__ = ["TableInfo", "TableReport", "report"]


@dataclass
class TableInfo:
    """
    One table: what it holds, its grid, its memory and its interpolation
    error. For a table of two variables, ``variable``, ``low``, ``high`` and
    ``step`` are pairs and ``points`` counts the whole grid.
    """

    name: str
    expression: str
    variable: str
    low: Quantity
    high: Quantity
    step: Quantity
    points: int
    memory_bytes: int
    max_abs_error: Quantity
    max_rel_error: float
    #: whether the grid (or each axis) is logarithmic, with ``step`` the ratio of neighbouring points
    log: object = False

    def as_dict(self):
        """Plain values (SI floats for quantities)."""
        def plain(value):
            if isinstance(value, tuple):
                return tuple(map(plain, value))
            return float(value) if isinstance(value, (Quantity, float)) else value

        return {key: plain(value) for key, value in asdict(self).items()}


def _short(quantity):
    if is_dimensionless(quantity):
        return f"{float(quantity):.3g}"
    return quantity.in_best_unit(3)


class TableReport(list):
    """A list of `TableInfo`, printed as a table."""

    def __str__(self):
        if not self:
            return "No tables."
        header = f"{'table':<22} {'range':>20} {'step':>10} {'points':>8} {'memory':>9} {'max abs error':>14} {'max rel':>9}"
        rows = [header, "-" * len(header)]
        for info in self:
            ranges = zip(*(value if isinstance(value, tuple) else (value,) for value in (info.low, info.high)))
            grid_range = " x ".join(f"[{_short(low)}, {_short(high)}]" for low, high in ranges)
            steps = zip(*(value if isinstance(value, tuple) else (value,) for value in (info.step, info.log)))
            step = " x ".join(f"*{step:.4g}" if log else _short(step) for step, log in steps)
            rows.append(
                f"{info.name:<22} {grid_range:>20} {step:>10} {info.points:>8} "
                f"{info.memory_bytes / 1024:>7.1f}kB {_short(info.max_abs_error):>14} {info.max_rel_error:>9.2e}"
            )
        rows += [f"  {info.name} = {info.expression}" for info in self]
        return "\n".join(rows)

    def as_dicts(self):
        return [info.as_dict() for info in self]


def _info_2d(table):
    # bilinear interpolation is worst near the middle of a cell: compare there
    grids = [Grid(g.name, t.low, t.high, t.step, t.log) for g, t in zip(table.grids, table.axes)]
    middles = [grid.shifted(0.5) for grid in grids]
    exact = np.asarray(evaluate_on_grids(table.code, middles, table.constants, table.functions))
    v = np.asarray(table.values)
    interpolated = 0.25 * (v[:-1, :-1] + v[1:, :-1] + v[:-1, 1:] + v[1:, 1:])
    exact = exact[:interpolated.shape[0], :interpolated.shape[1]]
    return TableInfo(
        name=table.name, expression=table.code, variable=", ".join(g.name for g in grids),
        low=tuple(t.low for t in table.axes), high=tuple(t.high for t in table.axes),
        step=tuple(t.step for t in table.axes), points=int(np.prod(table.shape)),
        memory_bytes=table.memory_bytes, log=tuple(t.log for t in table.axes),
        **_errors(exact, interpolated, table.dim),
    )


def _errors(exact, interpolated, dim):
    """The largest absolute error (with the unit ``dim``) and relative error, the latter where ``exact`` is not ~0."""
    error = np.abs(interpolated - exact)
    significant = np.abs(exact) > 1e-12 * np.max(np.abs(exact))
    relative = error[significant] / np.abs(exact[significant])
    return dict(max_abs_error=Quantity(error.max(), dim=dim),
                max_rel_error=float(relative.max()) if relative.size else 0.0)


def _info(table):
    if isinstance(table, ExpressionTable2D):
        return _info_2d(table)
    # the table's own points: when the range is not a whole number of steps, the last one falls short of high
    grid = Grid(table.grid_spec.name, table.low, table.high, table.step, table.log)
    exact, interpolated = interpolation_error(table.code, grid, table.constants, table.functions,
                                              values=table.values)
    return TableInfo(
        name=table.name,
        expression=table.code,
        variable=table.grid_spec.name,
        low=table.low,
        high=table.high,
        step=table.step,
        points=table.size,
        memory_bytes=table.memory_bytes,
        log=table.log,
        **_errors(exact, interpolated, table.dim),
    )


def report(equations):
    """
    The tables used by tabulated ``equations``: expression, grid, memory and
    the largest absolute and relative interpolation error between grid points
    (checked at 1/4, 1/2 and 3/4 of every interval against exact evaluation).

    Returns
    -------
    `TableReport`
        A list of `TableInfo`; ``print`` it for a table, or use ``as_dicts()``.

    Examples
    --------
    >>> from brian2 import mV, ms
    >>> from lut4brian import tabulate
    >>> eqs = tabulate('''dn/dt = (1/(1 + exp(-(v + 40*mV)/(5*mV))) - n)/(5*ms) : 1
    ...                   v : volt''', v=(-100*mV, 50*mV, 0.5*mV))
    >>> info = report(eqs)[0]
    >>> info.points, info.max_rel_error < 0.01
    (301, True)
    """
    if not isinstance(equations, Equations):
        equations = Equations(equations)
    tables = [DEFAULT_FUNCTIONS.get(name) for name in sorted(equations.identifiers)]
    return TableReport(_info(table) for table in tables if isinstance(table, (ExpressionTable, ExpressionTable2D)))
