"""
What the tables of tabulated equations cost and how accurate they are.
"""

from dataclasses import asdict, dataclass

import numpy as np
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.equations.equations import Equations
from brian2.units.fundamentalunits import Quantity, is_dimensionless

from .grid import ExpressionTable, Grid, interpolation_error

__all__ = ["TableInfo", "TableReport", "report"]


@dataclass
class TableInfo:
    """One table: what it holds, its grid, its memory and its interpolation error."""

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

    def as_dict(self):
        """Plain values (SI floats for quantities)."""
        return {key: float(value) if isinstance(value, Quantity) else value for key, value in asdict(self).items()}


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
            grid_range = f"[{_short(info.low)}, {_short(info.high)}]"
            rows.append(
                f"{info.name:<22} {grid_range:>20} {_short(info.step):>10} {info.points:>8} "
                f"{info.memory_bytes / 1024:>7.1f}kB {_short(info.max_abs_error):>14} {info.max_rel_error:>9.2e}"
            )
        rows += [f"  {info.name} = {info.expression}" for info in self]
        return "\n".join(rows)

    def as_dicts(self):
        return [info.as_dict() for info in self]


def _info(table):
    # the table's own points: when the range is not a whole number of steps, the last one falls short of high
    grid = Grid(table.grid_spec.name, table.low, table.high, table.step, table.log)
    exact, interpolated = interpolation_error(table.code, grid, table.constants, table.functions,
                                              values=table.values)
    error = np.abs(interpolated - exact)
    significant = np.abs(exact) > 1e-12 * np.max(np.abs(exact))
    relative = error[significant] / np.abs(exact[significant])
    return TableInfo(
        name=table.name,
        expression=table.code,
        variable=table.grid_spec.name,
        low=table.low,
        high=table.high,
        step=table.step,
        points=table.size,
        memory_bytes=table.memory_bytes,
        max_abs_error=Quantity(error.max(), dim=table.dim),
        max_rel_error=float(relative.max()) if relative.size else 0.0,
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
    return TableReport(_info(table) for table in tables if isinstance(table, ExpressionTable))
