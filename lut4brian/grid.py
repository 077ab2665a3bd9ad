"""
Uniform and logarithmic grids, and expressions of one or two variables
evaluated on them with units.
"""

import functools
from dataclasses import dataclass, replace

import numpy as np
import sympy
from brian2.parsing.sympytools import str_to_sympy
from brian2.units.fundamentalunits import (
    DimensionMismatchError,
    Quantity,
    fail_for_dimension_mismatch,
    get_dimensions,
    get_unit,
    have_same_dimensions,
)
from brian2.utils.logger import get_logger


__all__ = ["Grid", "log_grid", "evaluate_on_grid", "evaluate_on_grids"]

logger = get_logger(__name__)

#: Grids beyond this many points are refused (80 MB per table).
MAX_POINTS = 10**7


@dataclass(frozen=True)
class Grid:
    """
    A uniform grid ``low, low + step, ..., high`` of the variable ``name``,
    or with ``log`` a logarithmic one, ``low, low*step, low*step**2, ...,
    high``, where ``step`` is the ratio of neighbouring points.
    """

    name: str
    low: Quantity
    high: Quantity
    step: Quantity
    log: bool = False

    @classmethod
    def from_range(cls, name, bounds, dim=None, with_step=True):
        """
        Check ``bounds = (low, high, step)``, or ``(low, high)`` when not
        ``with_step``, or a `log_grid`, for the variable ``name`` with
        dimensions ``dim`` (taken from the bounds when ``None``).
        """
        if isinstance(bounds, Grid):
            return replace(bounds, name=name)._checked_log(dim, with_step)
        example = f"{name}=(-100*mV, 50*mV, 0.1*mV)" if with_step else f"{name}=(-100*mV, 50*mV)"
        if not isinstance(bounds, (tuple, list)) or len(bounds) != (3 if with_step else 2):
            shape = "(low, high, step)" if with_step else "(low, high) when a tolerance is given"
            raise TypeError(f"Give the grid of '{name}' as {name}={shape}, for example {example}; got {bounds!r}.")
        if dim is None:
            dim = get_dimensions(bounds[0])
        for what, value in zip(("low", "high", "step"), bounds):
            if not have_same_dimensions(value, Quantity(1, dim=dim)):
                raise DimensionMismatchError(
                    f"The grid {what} of '{name}' is {value!r}, but '{name}' is in units of "
                    f"{get_unit(dim)!s}: give the grid values in the variable's unit.",
                    get_dimensions(value),
                    dim,
                )
        low, high = (Quantity(float(x), dim=dim) for x in bounds[:2])
        step = Quantity(float(bounds[2]), dim=dim) if with_step else high - low
        if not np.isfinite([float(low), float(high), float(step)]).all():
            raise ValueError(f"The grid of '{name}' must be finite, got {bounds!r}.")
        if not high > low:
            raise ValueError(f"The grid of '{name}' is empty or inverted: low={low}, high={high}.")
        if not with_step:
            return cls(name, low, high, None)
        if not step > 0:
            raise ValueError(f"The grid step of '{name}' must be positive, got {step}.")
        if step > high - low:
            raise ValueError(f"The grid step of '{name}' ({step}) is larger than its range ({high - low}).")
        return cls(name, low, high, step).checked()

    def _checked_log(self, dim, with_step):
        if dim is not None and not have_same_dimensions(self.low, Quantity(1, dim=dim)):
            raise DimensionMismatchError(
                f"The grid of '{self.name}' is in {get_unit(self.dim)!s}, but '{self.name}' is in units of "
                f"{get_unit(dim)!s}: give the grid values in the variable's unit.", self.dim, dim)
        if self.step is None and with_step:
            raise TypeError(f"Give the logarithmic grid of '{self.name}' its points, "
                            f"log_grid(low, high, points=...), or give tabulate a tolerance.")
        return self if self.step is None else self.checked()

    def checked(self):
        if self.size > MAX_POINTS:
            raise ValueError(
                f"The grid of '{self.name}' would have {self.size} points, more than {MAX_POINTS}: "
                f"use a larger step or a smaller range."
            )
        return self

    def with_points(self, size):
        """The grid with ``size`` points from ``low`` to ``high``."""
        if self.log:
            return replace(self, step=float(self.high / self.low) ** (1.0 / (size - 1)))
        return replace(self, step=(self.high - self.low) / (size - 1))

    def shifted(self, fraction):
        """The grid whose points lie ``fraction`` of a step after this grid's (up to ``high``)."""
        low = self.low * self.step**fraction if self.log else self.low + fraction * self.step
        return replace(self, low=low)

    def spacing(self, points):
        """The distance from ``points`` to the next grid point (the step on a uniform grid)."""
        return points * (self.step - 1) if self.log else self.step

    @property
    def dim(self):
        return get_dimensions(self.low)

    @property
    def size(self):
        # The last point may fall short of `high` by less than one step.
        steps = np.log(float(self.high / self.low)) / np.log(self.step) if self.log else float(
            (self.high - self.low) / self.step)
        return int(np.floor(steps + 1e-9)) + 1

    @property
    def points(self):
        k = np.arange(self.size)
        if self.log:
            return self.low * float(self.step) ** k
        return Quantity(float(self.low) + float(self.step) * k, dim=self.dim)


def log_grid(low, high, points=None):
    """
    A logarithmic grid from ``low`` to ``high``, for a `tabulate` keyword:
    its points are spaced evenly in ``log``, so that the relative resolution
    is the same over every decade (concentrations, say), and tables on it
    interpolate linearly in the logarithm of their argument.

    Parameters
    ----------
    low, high : `Quantity`
        The first and last grid point, positive, in the variable's unit.
    points : int, optional
        The number of grid points; without it, ``tabulate`` chooses them from
        its ``tolerance``.

    Examples
    --------
    >>> from brian2 import mM
    >>> grid = log_grid(1e-5*mM, 1e-1*mM, points=41)  # 10 points per decade
    >>> print(grid.points[10])
    100. nM
    """
    fail_for_dimension_mismatch(low, high, "The ends of a logarithmic grid must have the same unit.")
    if not (np.isfinite([float(low), float(high)]).all() and 0 < float(low) < float(high)):
        raise ValueError(f"A logarithmic grid needs 0 < low < high, got low={low}, high={high}.")
    if points is not None and not (int(points) == points and points >= 2):
        raise ValueError(f"A logarithmic grid needs at least 2 points, got points={points!r}.")
    low, high = (x if isinstance(x, Quantity) else Quantity(x) for x in (low, high))
    grid = Grid("", low, high, None, log=True)
    return grid if points is None else grid.with_points(int(points))


@functools.lru_cache(maxsize=1024)
def _compiled(code, functions):
    """``code`` as a numpy function of its names (in order), through sympy."""
    expr = str_to_sympy(code)
    names = sorted(str(symbol) for symbol in expr.free_symbols)
    # Brian2's functions (exprel, ...) by their names, called with units
    return names, sympy.lambdify([sympy.Symbol(n, real=True) for n in names], expr,
                                 modules=[functions.mapping, "numpy"])


class _Functions:
    """The functions an expression may call, hashable for the cache of `_compiled`."""

    def __init__(self, mapping):
        self.mapping = mapping

    def __hash__(self):
        return hash(tuple(sorted(self.mapping)))

    def __eq__(self, other):
        return isinstance(other, _Functions) and self.mapping.keys() == other.mapping.keys()


def _evaluate(code, grid_name, points, constants, functions):
    names, function = _compiled(code, _Functions(functions))
    values = dict(constants, **{grid_name: points})
    missing = [name for name in names if name not in values]
    if missing:
        raise NameError(f"name {missing[0]!r} is not defined")
    with np.errstate(all="ignore"):
        result = function(*(values[name] for name in names))
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
    _repair_cancellation(code, grid, values, constants, functions)
    return values


def _repair_cancellation(code, grid, values, constants, functions):
    """
    A grid point a rounding error away from a removable singularity (x = 1e-13
    in x/(1 - exp(-x)), when the step does not divide the distance to it
    exactly) loses most digits to cancellation. Where both sides, a thousandth
    of a step away, agree with each other (no jump) but their mean and the
    value differ by more than the curvature allows, the mean is taken.
    """
    offset = grid.spacing(grid.points) * 1e-3
    with np.errstate(all="ignore"):
        left = np.asarray(_evaluate(code, grid.name, grid.points - offset, constants, functions))
        right = np.asarray(_evaluate(code, grid.name, grid.points + offset, constants, functions))
    mean, value = 0.5 * (left + right), np.asarray(values)
    scale = np.maximum(np.abs(left), np.abs(right)) + 1e-300
    noisy = (np.isfinite(mean) & (np.abs(left - right) <= 1e-3 * scale)
             & (np.abs(value - mean) > 1e-6 * scale))
    values[noisy] = Quantity(mean[noisy], dim=get_dimensions(values))


def _limit(code, grid, point, constants, functions):
    h = grid.spacing(point) * 1e-4
    sides = _evaluate(code, grid.name, point + h * np.array([-1.0, 1.0]), constants, functions)
    left, right = np.asarray(sides)
    scale = max(abs(left), abs(right))
    if np.isfinite([left, right]).all() and abs(left - right) <= 1e-3 * scale + 1e-300:
        return sides[0] * 0.5 + sides[1] * 0.5
    raise ValueError(
        f"The expression '{code}' is not finite at {grid.name} = {point} (a pole, or a value "
        f"outside its domain) and has no limit there: it cannot be tabulated. Change the grid "
        f"so that it avoids this point, or rewrite the expression (e.g. with exprel)."
    )


def interpolation_error(code, grid, constants, functions, values=None):
    """
    The exact values of ``code`` at 1/4, 1/2 and 3/4 of every grid interval,
    and the linear interpolation of its grid ``values`` there (unitless, SI).
    """
    if values is None:
        values = evaluate_on_grid(code, grid, constants, functions)
    values = np.asarray(values)
    exact, interpolated = [], []
    for fraction in (0.25, 0.5, 0.75):
        between = grid.shifted(fraction)
        exact.append(np.asarray(evaluate_on_grid(code, between, constants, functions))[: len(values) - 1])
        interpolated.append(values[:-1] + fraction * (values[1:] - values[:-1]))
    return np.concatenate(exact), np.concatenate(interpolated)


def coarsest_grid(code, grid, constants, functions, rtol, atol):
    """
    The grid on ``[grid.low, grid.high]`` with the fewest points on which the
    linear interpolation of ``code`` stays within ``rtol*|f| + atol*max|f|``
    between grid points (checked at 1/4, 1/2 and 3/4 of every interval).
    """

    def passes(size):
        candidate = grid.with_points(size)
        exact, interpolated = interpolation_error(code, candidate, constants, functions)
        allowed = rtol * np.abs(exact) + atol * np.max(np.abs(exact))
        return np.all(np.abs(interpolated - exact) <= allowed)

    failing, passing = 1, 2
    while not passes(passing):
        failing, passing = passing, 2 * passing - 1
        if passing > MAX_POINTS:
            raise ValueError(
                f"The expression '{code}' needs more than {MAX_POINTS} grid points of "
                f"'{grid.name}' to meet the tolerance (rtol={rtol}, atol={atol}): relax it."
            )
    while passing - failing > 1:
        middle = (failing + passing) // 2
        failing, passing = (failing, middle) if passes(middle) else (middle, passing)
    return grid.with_points(passing)


def _warn_of_poles_between_points(code, grid, values, constants, functions):
    """
    Warn where the expression, half-way between two grid points, is not
    finite, or larger than at both where it changes sign between them (a
    zero crossing is smaller there), or more than twice as large: a pole (such as 1/(v + E)
    with E off the grid) or a feature narrower than the step, which linear
    interpolation would cut across.
    """
    middle = grid.shifted(0.5)
    with np.errstate(all="ignore"):
        between = np.asarray(_evaluate(code, grid.name, middle.points, constants, functions))
    values = np.asarray(values)
    n = min(len(between), len(values) - 1)
    between, ends = between[:n], np.maximum(np.abs(values[:n]), np.abs(values[1:n + 1]))
    sign_change = np.sign(values[:n]) * np.sign(values[1:n + 1]) < 0
    beyond = np.abs(between) > np.where(sign_change, 1, 2) * ends + 1e-300
    suspicious = np.flatnonzero(~np.isfinite(between) | beyond)
    if suspicious.size:
        where = Quantity(np.asarray(middle.points)[suspicious[:3]], dim=grid.dim)
        logger.warn(
            f"The expression '{code}' has a pole or a feature narrower than the grid step {grid.step} "
            f"between grid points of '{grid.name}' (near {', '.join(str(w) for w in where)}): the table "
            "interpolates across it. Use a finer grid, or a grid with a point on it.", name_suffix="pole")


def evaluate_on_grids(code, grids, constants, functions):
    """`evaluate_on_grid` on the product of two grids: an array of shape ``(len(x), len(y))``."""
    grid_x, grid_y = grids
    columns = [evaluate_on_grid(code, grid_x, dict(constants, **{grid_y.name: y}), functions)
               for y in grid_y.points]
    return Quantity(np.stack([np.asarray(c) for c in columns], axis=1), dim=get_dimensions(columns[0]))
