"""
Uniform grids, and expressions of one variable evaluated on them with units.
"""

from dataclasses import dataclass

import numpy as np
from brian2.codegen.generators.numpy_generator import NumpyNodeRenderer
from brian2.units.fundamentalunits import (
    DimensionMismatchError,
    Quantity,
    fail_for_dimension_mismatch,
    get_dimensions,
    get_unit,
    have_same_dimensions,
)
from brian2.utils.logger import get_logger

from .table import Table

__all__ = ["Grid", "ExpressionTable", "evaluate_on_grid"]

logger = get_logger(__name__)

#: Grids beyond this many points are refused (80 MB per table).
MAX_POINTS = 10**7


@dataclass(frozen=True)
class Grid:
    """A uniform grid ``low, low + step, ..., high`` of the variable ``name``."""

    name: str
    low: Quantity
    high: Quantity
    step: Quantity

    @classmethod
    def from_range(cls, name, bounds, dim=None):
        """
        Check ``bounds = (low, high, step)`` for the variable ``name`` with
        dimensions ``dim`` (taken from the bounds when ``None``).
        """
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 3:
            raise TypeError(
                f"Give the grid of '{name}' as {name}=(low, high, step), for example "
                f"{name}=(-100*mV, 50*mV, 0.1*mV); got {bounds!r}."
            )
        low, high, step = bounds
        if dim is None:
            dim = get_dimensions(low)
        for what, value in zip(("low", "high", "step"), bounds):
            if not have_same_dimensions(value, Quantity(1, dim=dim)):
                raise DimensionMismatchError(
                    f"The grid {what} of '{name}' is {value!r}, but '{name}' is in units of "
                    f"{get_unit(dim)!s}: give all three grid values in the variable's unit.",
                    get_dimensions(value),
                    dim,
                )
        low, high, step = (Quantity(float(x), dim=dim) for x in bounds)
        if not np.isfinite([float(low), float(high), float(step)]).all():
            raise ValueError(f"The grid of '{name}' must be finite, got {bounds!r}.")
        if not high > low:
            raise ValueError(f"The grid of '{name}' is empty or inverted: low={low}, high={high}.")
        if not step > 0:
            raise ValueError(f"The grid step of '{name}' must be positive, got {step}.")
        if step > high - low:
            raise ValueError(f"The grid step of '{name}' ({step}) is larger than its range ({high - low}).")
        grid = cls(name, low, high, step)
        if grid.size > MAX_POINTS:
            raise ValueError(
                f"The grid of '{name}' would have {grid.size} points, more than {MAX_POINTS}: "
                f"use a larger step or a smaller range."
            )
        return grid

    @property
    def dim(self):
        return get_dimensions(self.low)

    @property
    def size(self):
        # The last point may fall short of `high` by less than one step.
        return int(np.floor(float((self.high - self.low) / self.step) + 1e-9)) + 1

    @property
    def points(self):
        return Quantity(float(self.low) + float(self.step) * np.arange(self.size), dim=self.dim)


def _render(code):
    return NumpyNodeRenderer().render_expr(code)


def _evaluate(code, grid_name, points, constants, functions):
    namespace = dict(functions)
    namespace.update(constants)
    namespace[grid_name] = points
    with np.errstate(all="ignore"):
        result = eval(_render(code), {"__builtins__": {}}, namespace)
    result = result * np.ones(np.shape(points))  # constants broadcast to the grid
    return Quantity(result, dim=get_dimensions(result)) if isinstance(result, Quantity) else Quantity(result)


def evaluate_on_grid(code, grid, constants, functions):
    """
    Evaluate ``code`` (Brian2 syntax) at every point of ``grid``, with units.

    A point where the expression is 0/0 but has a limit (such as
    ``x/(1 - exp(-x))`` at ``x = 0``) gets that limit; any other non-finite
    value raises a `ValueError` that names the expression and the point.
    """
    points = grid.points
    try:
        values = _evaluate(code, grid.name, points, constants, functions)
    except DimensionMismatchError:
        raise
    except Exception as exc:
        raise ValueError(
            f"The expression '{code}' cannot be evaluated on the grid of '{grid.name}': {exc}"
        ) from exc
    bad = np.flatnonzero(~np.isfinite(np.asarray(values)))
    for k in bad:
        values[k] = _limit(code, grid, points[k], constants, functions)
    return values


def _limit(code, grid, point, constants, functions):
    h = float(grid.step) * 1e-4
    sides = _evaluate(code, grid.name, point + Quantity([-h, h], dim=grid.dim), constants, functions)
    left, right = np.asarray(sides)
    scale = max(abs(left), abs(right))
    if np.isfinite([left, right]).all() and abs(left - right) <= 1e-3 * scale + 1e-300:
        return sides[0] * 0.5 + sides[1] * 0.5
    raise ValueError(
        f"The expression '{code}' is not finite at {grid.name} = {point} (a pole, or a value "
        f"outside its domain) and has no limit there: it cannot be tabulated. Change the grid "
        f"so that it avoids this point, or rewrite the expression (e.g. with exprel)."
    )


class ExpressionTable(Table):
    """
    A `Table` of an expression with external constants, re-evaluated before a
    run when one of those constants has changed (like NEURON's ``DEPEND``).
    """

    def __init__(self, code, grid, constants, resolve, functions, name=None):
        values = evaluate_on_grid(code, grid, constants, functions)
        self.code = code
        self.grid_spec = grid
        self.constants = dict(constants)
        self._resolve = resolve
        self._functions = functions
        Table.__init__(self, values, grid.low, grid.step, name=name)

    def before_codegen(self):
        current = {name: self._resolve(name) for name in self.constants}
        changed = [name for name, value in current.items() if not _same(value, self.constants[name])]
        if not changed:
            return
        values = evaluate_on_grid(self.code, self.grid_spec, current, self._functions)
        fail_for_dimension_mismatch(values, self.values, f"Table '{self.name}' after {', '.join(changed)} changed")
        self.set_values(values)
        self.constants = current
        logger.info(f"Table '{self.name}' rebuilt because {', '.join(sorted(changed))} changed.")


def _same(a, b):
    return have_same_dimensions(a, b) and np.array_equal(np.asarray(a), np.asarray(b))
