"""
``lut_exponential_euler``: exponential Euler without exp() for tabulated
gating variables, and with common subexpressions computed once.
"""

import numpy as np
import sympy
from brian2.equations.equations import Equations
from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException, extract_method_options
from brian2.stateupdaters.exponential_euler import exponential_euler, get_conditionally_linear_system
from brian2.utils.logger import get_logger

from ._brian_internals import register_function
from .expression_table import ExpressionTable, ExpressionTable2D, _key
from .grid import Grid, evaluate_on_grids
from .preferences import tables_enabled
from .sampled import padded
from .table import GridIndex, Table
from .table2d import Table2D

__all__ = ["StepTable", "StepTable2D", "LutExponentialEuler", "lut_exponential_euler", "exponential_euler_updates",
           "optimise_update"]

logger = get_logger(__name__)


class _StepValues:
    """
    The values of one of the two tables of an exact gating step
    ``x <- x*D + K`` for time step ``dt``, on the grid of the rate table
    ``Q``: the decay ``D = exp(-dt*Q)``, or the input ``K = S*(1 - D)`` for a
    steady state ``S`` (a number or a table). For each group they are
    computed from the group's own ``dt`` and the values that ``Q`` and ``S``
    take for that group, so the code that calls the table is the same for
    every ``dt``; its own values are for ``dt`` (unitless, in seconds). With
    ``fraction`` the step is that fraction of the group's ``dt`` (half steps
    of a splitting scheme).
    """

    def _keep(self, rate, dt, steady, fraction):
        self.rate, self.dt, self.steady, self.fraction = rate, dt, steady, fraction
        self._steady_samples = {}
        kind = "decay" if steady is None else "input"
        if fraction != 1.0:
            kind += f"_{fraction:g}dt".replace(".", "p")
        return f"{rate.name}_{kind}*"

    def values_for(self, owner):
        dt = self.fraction * (float(owner.clock.dt_) if hasattr(owner, "clock") else self.dt)
        decay = np.exp(-dt * self.rate.values_for(owner))
        if self.steady is None:
            return decay
        if not isinstance(self.steady, (Table, Table2D)):
            return float(self.steady) * (1 - decay)
        if self.steady.grid_key == self.rate.grid_key:
            return self.steady.values_for(owner) * (1 - decay)
        # grids chosen from a tolerance: the steady state sampled exactly on the rate's grid, once per constants
        constants = self.steady.constants_for(owner)
        key = _key(constants)
        if key not in self._steady_samples:
            if len(self._steady_samples) >= ExpressionTable.CACHED_VALUE_SETS:
                del self._steady_samples[next(iter(self._steady_samples))]
            self._steady_samples[key] = self._steady_on_rate_grid(constants)
        return self._steady_samples[key] * (1 - decay)


class StepTable(_StepValues, Table):
    """A `Table` of one variable for an exact gating step (see `_StepValues`)."""

    def __init__(self, rate, dt, steady=None, fraction=1.0):
        name = self._keep(rate, dt, steady, fraction)
        Table.__init__(self, self.values_for(None)[:-1], rate.low, rate.step, name=name, log=rate.log)

    def _steady_on_rate_grid(self, constants):
        grid = Grid(self.steady.grid_spec.name, self.rate.low, self.rate.high, self.rate.step, self.rate.log)
        return padded(self.steady.sample(grid, constants))


class StepTable2D(_StepValues, Table2D):
    """A `Table2D` for an exact gating step whose rate depends on two variables (see `_StepValues`)."""

    def __init__(self, rate, dt, steady=None, fraction=1.0):
        name = self._keep(rate, dt, steady, fraction)
        axes = rate.axes
        Table2D.__init__(self, self.values_for(None)[:-1, :-1], [a.low for a in axes], [a.step for a in axes],
                         name=name, log=[a.log for a in axes])

    def _steady_on_rate_grid(self, constants):
        grids = [Grid(g.name, a.low, a.high, a.step, a.log) for g, a in zip(self.steady.grids, self.rate.axes)]
        return padded(np.asarray(evaluate_on_grids(self.steady.code, grids, constants, self.steady.functions)))


#: Step tables by (rate table, steady state): built once and kept.
_step_tables = {}


def step_table(rate, dt, steady=None, fraction=1.0):
    """The decay (``steady=None``) or input `StepTable` of ``rate``, first made for the time step ``dt`` (seconds)."""
    key = (rate.name, getattr(steady, "name", steady), fraction)
    if key not in _step_tables:
        kind = StepTable2D if isinstance(rate, Table2D) else StepTable
        _step_tables[key] = kind(rate, dt, steady, fraction)
        register_function(_step_tables[key])
    return _step_tables[key]


def with_step_tables(variables):
    """A state updater's ``variables`` with the step tables it may have added, by name."""
    return dict(variables, **{table.name: table for table in _step_tables.values()})


def _table_of(expr, functions):
    """
    The `Table` or `Table2D` that ``expr`` calls, if ``expr`` is a single
    table call; ``functions`` holds the functions by name (the state
    updater's ``variables``).
    """
    if isinstance(expr, sympy.Function):
        table = functions.get(type(expr).__name__)
        if isinstance(table, (Table, Table2D)) and len(expr.args) == (1 if isinstance(table, Table) else 2):
            return table
    return None


def _gates(equations, dt, functions, fraction=1.0):
    """
    The equations ``dx/dt = Q(v)*(S - x)`` with ``Q`` a table call and ``S``
    free of ``x``: their exact updates over ``fraction*dt``, keyed by variable.
    """
    updates = {}
    for name in equations.diff_eq_names:
        x = sympy.Symbol(name, real=True)
        expr = str_to_sympy(equations[name].expr.code)
        rate = -sympy.diff(expr, x)
        table = _table_of(rate, functions)
        if table is None:
            continue
        steady = expr.subs(x, 0) / rate  # sympy cancels the rate of Q*(S - x)
        if x in steady.free_symbols:
            continue
        arguments = rate.args
        decay = sympy.Function(step_table(table, dt, fraction=fraction).name)(*arguments)
        steady_table = _table_of(steady, functions)
        same_grid = steady_table is not None and steady.args == arguments and (
            steady_table.grid_key == table.grid_key or isinstance(steady_table, (ExpressionTable, ExpressionTable2D)))
        if steady.is_number or same_grid:
            # x*D + S*(1 - D) with S*(1 - D) tabulated: one multiply-add
            source = steady_table if steady_table is not None else float(steady)
            updates[name] = x * decay + sympy.Function(step_table(table, dt, source, fraction).name)(*arguments)
        else:
            updates[name] = steady + (x - steady) * decay
    return updates


#: One `GridIndex` per grid, shared by every table on it.
_grid_indices = {}


def _grid_index(table):
    if table.grid_key not in _grid_indices:
        _grid_indices[table.grid_key] = GridIndex(table.low, table.step, table.size, log=table.log)
        register_function(_grid_indices[table.grid_key])
    index = _grid_indices[table.grid_key]
    index.tables.add(table.name)
    return index


def _fuse_lookups(expressions, functions, prefix="_lut_"):
    """
    Replace the table calls in ``expressions`` by ``table.at(i, w)``, with the
    grid index of each (grid, argument) pair computed once; returns the
    abstract code lines for those indices (temporaries named from ``prefix``)
    and the new expressions.
    """
    pairs, replacements = {}, {}
    for call in set().union(*(e.atoms(sympy.Function) for e in expressions)):
        table = _table_of(call, functions)
        if not isinstance(table, Table) or call.args[0].atoms(sympy.Function):
            continue  # not a 1-D table, or one of a computed argument: left as it is
        pair = pairs.setdefault((table.grid_key, call.args[0]), (len(pairs), _grid_index(table)))
        i, w = sympy.symbols(f"{prefix}i{pair[0]} {prefix}w{pair[0]}", real=True)
        register_function(table.at)
        replacements[call] = sympy.Function(table.at.name)(i, w)
    lines = []
    for (_, argument), (k, index) in sorted(pairs.items(), key=lambda item: item[1][0]):
        lines += [f"{prefix}f{k} = {index.name}({sympy_to_str(argument)})",
                  f"{prefix}i{k} = int({prefix}f{k})",
                  f"{prefix}w{k} = {prefix}f{k} - {prefix}i{k}"]
    return lines, [e.xreplace(replacements) for e in expressions]


def exponential_euler_updates(equations, variables=None):
    """
    ``{x: new value of x}`` as sympy, one step of Brian2's exponential Euler
    for conditionally linear ``equations``, built from the system Brian2's
    ``get_conditionally_linear_system`` returns (``dx/dt = A*x + B``):
    ``(x + B/A)*exp(A*dt) - B/A``, or ``x + dt*B`` where ``A`` is 0.
    """
    dt = _symbol("dt")
    updates = {}
    for name, (A, B) in get_conditionally_linear_system(equations, variables).items():
        x = _symbol(name)
        updates[name] = x + dt * B if A == 0 else (x + B / A) * sympy.exp(A * dt) - B / A
    return updates


def optimise_update(updates, functions=None):
    """
    State-updater abstract code for ``updates`` (``{x: new value of x}`` as
    sympy), with every repeated subexpression computed once, into
    temporaries ``_lut_cse*``, and, given the ``functions`` by name (the
    state updater's ``variables``), tables on one grid sharing their index
    computation. Every new value is computed before any variable changes.
    """
    names, expressions = list(updates), list(updates.values())
    lines = []
    if functions is not None:
        lines, expressions = _fuse_lookups(expressions, functions)
    temporaries, reduced = sympy.cse(expressions, symbols=sympy.numbered_symbols("_lut_cse"),
                                     optimizations="basic")
    lines += [f"{symbol} = {sympy_to_str(value)}" for symbol, value in temporaries]
    lines += [f"_{name} = {sympy_to_str(value)}" for name, value in zip(names, reduced)]
    lines += [f"{name} = _{name}" for name in names]
    return "\n".join(lines)


def _symbol(name):
    return sympy.Symbol(name, real=True)


def _refused(equation, why, instead, method):
    return UnsupportedEquationsException(
        f"{method} cannot integrate 'd{equation.varname}/dt = {equation.expr.code}': {why}. "
        f"Use method={instead} for these equations.")


def linear_coefficients(equations, variables=None, method="lut_strang"):
    """
    ``{x: (M, C)}`` with ``dx/dt = M*x + C`` and ``M``, ``C`` as sympy
    expressions (subexpressions substituted). Raises
    `UnsupportedEquationsException` naming the first equation that is
    stochastic or not linear in its own variable, and what to use instead
    of ``method``.
    """
    if equations.is_stochastic:
        noisy = next(eq for eq in equations.ordered if eq.type == "differential equation" and eq.stochastic_variables)
        raise _refused(noisy, "it is stochastic, and the splitting is defined for deterministic equations only",
                       "'euler' or 'heun' (Brian2's stochastic integrators)", method)
    coefficients = {}
    for name, expression in equations.get_substituted_expressions(variables):
        x = _symbol(name)
        rhs = str_to_sympy(expression.code, variables)
        # derivatives, not expand(): the rates keep their form (and their exprel)
        M = sympy.diff(rhs, x)
        if M.has(x) and sympy.diff(M, x) != 0:
            raise _refused(equations[name], f"the right-hand side is not linear in {name} (M*{name} + C, with M "
                           f"and C free of {name}, as in Hodgkin-Huxley gates and membranes)",
                           "'rk4' (which also runs tabulated equations)", method)
        coefficients[name] = (M, rhs.subs(x, 0))
    return coefficients


def _explain_refusal(equations, variables):
    """Where ``exponential_euler`` would refuse ``equations``, raise naming the equation and the integrator to use."""
    try:
        if not equations.is_stochastic:
            get_conditionally_linear_system(equations, variables)
            return
    except ValueError:
        pass
    linear_coefficients(equations, variables, method="lut_exponential_euler")


class LutExponentialEuler(StateUpdateMethod):
    """
    Exponential Euler for equations with lookup tables (``method='lut_exponential_euler'``).

    Every gating equation that `lut4brian.tabulate` turned into
    ``dx/dt = Q(v)*(x_inf(v) - x)`` is integrated with the exact exponential
    step ``x <- x_inf(v) + (x - x_inf(v))*exp(-dt*Q(v))``, computed as
    ``x*D(v) + K(v)`` from two tables built for the group's own ``dt``, the
    decay ``D = exp(-dt*Q)`` and the input ``K = x_inf*(1 - D)``: the per-step
    code has no ``exp()`` for these variables, only two lookups and one
    multiply-add. All other variables are integrated as by Brian2's
    ``exponential_euler``. Tables on one grid share one index computation, and
    repeated subexpressions (``n**4``, shared denominators) are computed once
    per step. With ``prefs.lut4brian.enabled = False`` this is exactly Brian2's
    ``exponential_euler``.

    Examples
    --------
    >>> from brian2 import NeuronGroup, mV, run, ms
    >>> from lut4brian import models, tabulate
    >>> eqs, namespace = models.hh1952()
    >>> eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
    >>> G = NeuronGroup(10, eqs, method='lut_exponential_euler', namespace=namespace)
    >>> G.v = -65*mV
    >>> run(1*ms)
    """

    def can_integrate(self, equations, variables, method_options=None):
        return exponential_euler.can_integrate(equations, variables, method_options)

    def __call__(self, equations, variables=None, method_options=None):
        extract_method_options(method_options, {})
        _explain_refusal(equations, variables)
        if not tables_enabled() or variables is None:
            return exponential_euler(equations, variables, method_options)
        dt = float(variables["dt"].owner.dt_)
        gates = _gates(equations, dt, variables)
        if not gates:
            logger.info(f"lut_exponential_euler found no gate dx/dt = Q(v)*(x_inf(v) - x) with a tabulated "
                        f"rate Q among {', '.join(sorted(equations.diff_eq_names))} (a gate with a constant "
                        "time constant needs none): it integrates them as exponential_euler does, with "
                        "common subexpressions computed once.", name_suffix="no_gates", once=True)
        others = Equations([eq for eq in equations.ordered if eq.varname not in gates])
        updates = exponential_euler_updates(others, variables) if others.diff_eq_names else {}
        return optimise_update({**updates, **gates}, with_step_tables(variables))


lut_exponential_euler = LutExponentialEuler()
StateUpdateMethod.register("lut_exponential_euler", lut_exponential_euler)
