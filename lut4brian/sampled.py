"""
The Brian2 `Function` machinery that tables share: samples that depend on
the group running the code (handed to runtime code objects per group, and to
standalone devices under names made from their content), and a grid whose
argument's excursions are recorded for the range report after each run.
"""

import hashlib

import numpy as np
from brian2.core.functions import Function
from brian2.core.names import Nameable
from brian2.devices.device import RuntimeDevice, get_device
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch, get_dimensions
from brian2.utils.caching import CacheKey
from brian2.utils.logger import get_logger

from ._brian_internals import live_tables, report_range_in_standalone, standalone_samples
from .preferences import range_checked

logger = get_logger(__name__)


def _slopes(values):
    return np.diff(values, append=values[-1])


def padded(values):
    """The values with the last point of each axis repeated once (see the code generators of the tables)."""
    return np.pad(values, [(0, 1)] * np.ndim(values), mode="edge")


def checked_values(name, values, ndim):
    """``values`` as floats, refused unless ``ndim``-dimensional with two points or more per axis, all finite."""
    values_ = np.asarray(values, dtype=np.float64)
    if values_.ndim != ndim or min(values_.shape, default=0) < 2:
        raise ValueError(f"Table '{name}' needs a {ndim}-dimensional array of at least two values along each axis; "
                         f"got shape {values_.shape}.")
    if not np.all(np.isfinite(values_)):
        raise ValueError(f"The values of table '{name}' are not all finite.")
    return values_


def replace_values(table, values):
    """A table's ``set_values``: the new values checked against the old grid and unit, written in place."""
    fail_for_dimension_mismatch(values, table.values, f"New values for table '{table.name}'")
    expected = np.shape(table.values)
    values_ = checked_values(table.name, values, len(expected))
    if values_.shape != expected:
        raise ValueError(f"Table '{table.name}' needs values of shape {expected}, got shape {values_.shape}.")
    table.values_[:] = padded(values_)


def _pairs(values):
    """(value, slope) at every grid point and the repeated end point, flattened."""
    return np.column_stack([values, _slopes(values)]).ravel()



class _Sampled(Function):
    """
    A Brian2 `Function` whose compiled code reads samples from its namespace.

    The samples may depend on the group that runs the code (`Table.values_for`).
    Runtime targets get them per code object. A standalone device collects
    the namespaces of all runs only at the build, so there each set of samples
    gets an array name of its own, derived from its content, and every set
    generated for a group is handed over at the build.
    """

    def _add_implementations(self, generators, numpy_impl, samples=None, dependencies=None):
        """
        ``numpy_impl(owner)`` gives the numpy implementation, ``samples(owner)``
        the values (with the repeated end point) that the compiled code reads,
        ``dependencies`` the functions (by name) that the compiled code calls.
        """
        self.implementations.add_dynamic_implementation("numpy", numpy_impl)
        for target in generators:
            # the generator is looked up when code is generated: tables live as long as the
            # session (one per expression and grid), and a device may replace a generator
            self.implementations.add_dynamic_implementation(
                target,
                code=lambda owner, target=target: self._code(target, generators[target], owner, samples),
                namespace=lambda owner: self._namespace(owner, samples),
                dependencies=dependencies,
                name=self.name,
            )

    def _code(self, target, generate, owner, samples):
        if samples is None:
            return generate(self, None)
        name = f"{self.name}_pairs"
        if isinstance(get_device(), RuntimeDevice):
            return generate(self, name)
        pairs = self._packed(samples(owner))
        name += "_" + hashlib.sha1(pairs.tobytes()).hexdigest()[:12]
        if target == "cpp" and not range_checked():
            # Compiled into the code, so that gcc knows that no store of the loop changes them, under a
            # name apart from the namespace array of a checked run of this group; the last pair,
            # (NaN, 0), is what a NaN argument reads (see lut4brian.table).
            name += "_compiled"
            values = ", ".join(repr(value) for value in pairs.tolist()) + ", __builtin_nan(\"\"), 0.0"
            return f"static const double _namespace{name}[{pairs.size + 2}] = {{{values}}};\n" + generate(self, name)
        standalone_samples(owner)[name] = pairs
        return generate(self, name)

    def _namespace(self, owner, samples):
        namespace = self._fixed_namespace()
        if samples is None:
            return namespace
        if isinstance(get_device(), RuntimeDevice):
            namespace[f"{self.name}_pairs"] = self._packed(samples(owner))
        else:  # asked again at the build: every set generated for this owner
            prefix = f"{self.name}_pairs_"
            namespace.update({k: v for k, v in standalone_samples(owner).items() if k.startswith(prefix)})
        return namespace

    def _fixed_namespace(self):
        return {}

    def _packed(self, samples):
        """The array that the compiled code reads: (value, slope) pairs."""
        return _pairs(samples)


class _OnGrid(_Sampled, Nameable, CacheKey):
    """
    A function of one argument on the uniform grid ``low, low + step, ...``
    or the logarithmic grid ``low, low*step, low*step**2, ...`` (``size``
    points) that records how far its argument left the grid. ``low_`` and
    ``step_`` are unitless (SI), in ``log`` of the argument on a logarithmic
    grid, where the interpolation is linear in ``log(x)``.
    """

    @property
    def _state_tuple(self):
        # What Brian2's cache of state updaters keys on: the generated code
        # depends on a table's name and grid, never on its values (they are
        # looked up for each group when its code is generated).
        return (type(self).__name__, self.name, self.grid_key)

    def _set_grid(self, low, step, size, log=False):
        self.log = bool(log)
        if log:
            fail_for_dimension_mismatch(step, 1, "The step of a logarithmic grid is the ratio of neighbouring points")
            if not (float(low) > 0 and float(step) > 1):
                raise ValueError(f"A logarithmic grid needs low > 0 and a ratio step > 1; "
                                 f"'{self.name}' got low={low}, step={step}.")
            low_, step_ = np.log(float(low)), np.log(float(step))
        else:
            fail_for_dimension_mismatch(low, step, "The grid start and step must have the same unit.")
            if not float(step) > 0:
                raise ValueError(f"The grid step of '{self.name}' must be positive, got {step}.")
            low_, step_ = float(low), float(step)
        self.arg_dim = get_dimensions(low)
        self.low_, self.step_, self.size = float(low_), float(step_), size
        self.extremes_ = np.array(self.bounds_)
        live_tables.add(self)

    @property
    def bounds_(self):
        """The first and the last grid point, unitless (SI)."""
        ends = (self.low_, self.high_)
        return tuple(float(np.exp(end)) for end in ends) if self.log else ends

    @property
    def high_(self):
        """The last grid point, unitless (SI; its log on a logarithmic grid)."""
        return self.low_ + (self.size - 1) * self.step_

    @property
    def low(self):
        """The first grid point, with the argument's unit."""
        return Quantity(self.bounds_[0], dim=self.arg_dim)

    @property
    def high(self):
        """The last grid point, with the argument's unit."""
        return Quantity(self.bounds_[1], dim=self.arg_dim)

    @property
    def step(self):
        """The grid step, with the argument's unit; on a logarithmic grid, the ratio of neighbouring points."""
        return float(np.exp(self.step_)) if self.log else Quantity(self.step_, dim=self.arg_dim)

    @property
    def grid(self):
        """The grid points, with the argument's unit."""
        axis = self.low_ + self.step_ * np.arange(self.size)
        return Quantity(np.exp(axis) if self.log else axis, dim=self.arg_dim)

    @property
    def grid_key(self):
        """Equal for functions on the same grid."""
        return (repr(self.arg_dim), self.low_, self.step_, self.size, self.log)

    def _code(self, target, generate, owner, samples):
        report_range_in_standalone(self)
        return _Sampled._code(self, target, generate, owner, samples)

    def _fixed_namespace(self):
        return {f"{self.name}_range": self.extremes_}

    def left_grid(self):
        """
        The extreme arguments reached outside the grid since the last reset,
        as ``(lowest, highest)`` with units, or ``None`` if the argument stayed
        on the grid.
        """
        low, high = self.extremes_
        if low >= self.bounds_[0] and high <= self.bounds_[1]:
            return None
        return Quantity(low, dim=self.arg_dim), Quantity(high, dim=self.arg_dim)

    def report_range(self):
        """Warn if the argument left the grid, then reset the record."""
        reached = self.left_grid()
        if reached is not None:
            logger.warn(_range_message(self, *reached), name_suffix="out_of_range")
        self.extremes_[:] = self.bounds_

    @property
    def subject(self):
        """What the out-of-range report names."""
        return f"table '{self.name}'"


def _range_message(function, lowest, highest):
    grid_low, grid_high = function.low, function.high
    reached = [str(v) for v, out in ((lowest, function.extremes_[0] < function.bounds_[0]),
                                     (highest, function.extremes_[1] > function.bounds_[1])) if out]
    return (
        f"The argument of {function.subject} left its grid [{grid_low}, {grid_high}] "
        f"(reached {' and '.join(reached)}); values there were clamped to the end of the grid."
    )
