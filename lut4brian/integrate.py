"""
``lut_exponential_euler``: exponential Euler without exp() for tabulated
gating variables, and with common subexpressions computed once.
"""

import numpy as np
import sympy
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.equations.equations import Equations
from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, extract_method_options
from brian2.stateupdaters.exponential_euler import exponential_euler

from ._brian_internals import register_function
from .preferences import tables_enabled
from .table import GridIndex, Table

__all__ = ["DecayTable", "LutExponentialEuler", "lut_exponential_euler", "optimise_update"]


class DecayTable(Table):
    """
    ``exp(-dt*rate(x))``, the one-step decay factor of a rate `Table`, on the
    rate's grid for one time step ``dt`` (unitless, in seconds). It follows
    the rate table when that is rebuilt.
    """

    def __init__(self, rate, dt):
        self.rate, self.dt = rate, dt
        self._rate_values = rate.values_.copy()
        Table.__init__(self, self._decay(), rate.low, rate.step, name=f"{rate.name}_decay*")

    def _decay(self):
        return np.exp(-self.dt * self.rate.values_[:-1])

    def before_codegen(self):
        self.rate.before_codegen()
        if not np.array_equal(self.rate.values_, self._rate_values):
            self._rate_values = self.rate.values_.copy()
            self.set_values(self._decay())


#: Decay tables by (rate table, dt): built once per clock step and kept.
_decay_tables = {}


def decay_table(rate, dt):
    """The `DecayTable` of ``rate`` for the time step ``dt`` (seconds)."""
    key = (rate.name, dt)
    if key not in _decay_tables:
        _decay_tables[key] = DecayTable(rate, dt)
        register_function(_decay_tables[key])
    return _decay_tables[key]


def _table_of(expr):
    """The `Table` that ``expr`` calls, if ``expr`` is a single table call."""
    if isinstance(expr, sympy.Function) and len(expr.args) == 1:
        table = DEFAULT_FUNCTIONS.get(type(expr).__name__)
        if isinstance(table, Table):
            return table
    return None


def _gates(equations, dt):
    """
    The equations ``dx/dt = Q(v)*(S - x)`` with ``Q`` a table call and ``S``
    free of ``x``: their exact one-step updates, keyed by variable.
    """
    updates = {}
    for name in equations.diff_eq_names:
        x = sympy.Symbol(name, real=True)
        expr = str_to_sympy(equations[name].expr.code)
        rate = -sympy.diff(expr, x)
        table = _table_of(rate)
        if table is None:
            continue
        steady = expr.subs(x, 0) / rate  # sympy cancels the rate of Q*(S - x)
        if x in steady.free_symbols:
            continue
        decay = sympy.Function(decay_table(table, dt).name)(*rate.args)
        updates[name] = steady + (x - steady) * decay
    return updates


#: One `GridIndex` per grid, shared by every table on it.
_grid_indices = {}


def _grid_index(table):
    if table.grid_key not in _grid_indices:
        _grid_indices[table.grid_key] = GridIndex(table.low, table.step, table.size)
        register_function(_grid_indices[table.grid_key])
    index = _grid_indices[table.grid_key]
    index.tables.add(table.name)
    return index


def _fuse_lookups(expressions):
    """
    Replace the table calls in ``expressions`` by ``table.at(i, w)``, with the
    grid index of each (grid, argument) pair computed once; returns the
    abstract code lines for those indices and the new expressions.
    """
    pairs, replacements = {}, {}
    for call in set().union(*(e.atoms(sympy.Function) for e in expressions)):
        table = _table_of(call)
        if table is None or isinstance(call.args[0], sympy.Function) and _table_of(call.args[0]):
            continue
        pair = pairs.setdefault((table.grid_key, call.args[0]), (len(pairs), _grid_index(table)))
        i, w = sympy.symbols(f"_lut_i{pair[0]} _lut_w{pair[0]}", real=True)
        register_function(table.at)
        replacements[call] = sympy.Function(table.at.name)(i, w)
    lines = []
    for (_, argument), (k, index) in sorted(pairs.items(), key=lambda item: item[1][0]):
        lines += [f"_lut_f{k} = {index.name}({sympy_to_str(argument)})",
                  f"_lut_i{k} = int(_lut_f{k})",
                  f"_lut_w{k} = _lut_f{k} - _lut_i{k}"]
    return lines, [e.xreplace(replacements) for e in expressions]


def _parse(code):
    """``name = expression`` lines as sympy, earlier definitions inlined, and the ``x = _x`` lines."""
    definitions, assignments = {}, []
    for line in code.strip().splitlines():
        target, expression = (part.strip() for part in line.split("=", 1))
        if expression == f"_{target}":
            assignments.append(f"{target} = {expression}")
        else:
            definitions[target] = str_to_sympy(expression).xreplace(
                {sympy.Symbol(name, real=True): value for name, value in definitions.items()})
    return definitions, assignments


def optimise_update(code, fuse_lookups=True):
    """
    Rewrite state-updater abstract code (``name = expression`` lines ending
    with ``x = _x`` assignments) so that every repeated subexpression is
    computed once, into temporaries ``_lut_cse*``, and, with
    ``fuse_lookups``, tables on one grid share their index computation.
    """
    definitions, assignments = _parse(code)
    new_values = [line.split("=")[1].strip() for line in assignments]
    expressions = [definitions[name] for name in new_values]
    lines = []
    if fuse_lookups:
        lines, expressions = _fuse_lookups(expressions)
    temporaries, reduced = sympy.cse(expressions, symbols=sympy.numbered_symbols("_lut_cse"),
                                     optimizations="basic")
    lines += [f"{symbol} = {sympy_to_str(value)}" for symbol, value in temporaries]
    lines += [f"{name} = {sympy_to_str(value)}" for name, value in zip(new_values, reduced)]
    return "\n".join(lines + assignments)


class LutExponentialEuler(StateUpdateMethod):
    """
    Exponential Euler for equations with lookup tables (``method='lut_exponential_euler'``).

    Every gating equation that `lut4brian.tabulate` turned into
    ``dx/dt = Q(v)*(x_inf(v) - x)`` is integrated with the exact exponential
    step ``x <- x_inf(v) + (x - x_inf(v))*exp(-dt*Q(v))``, where the factor
    ``exp(-dt*Q(v))`` comes from a table built for the group's own ``dt``, so
    the per-step code has no ``exp()`` for these variables. All other
    variables are integrated as by Brian2's ``exponential_euler``. Repeated
    subexpressions (table calls, ``n**4``, shared denominators) are computed
    once per step. With ``prefs.lut4brian.enabled = False`` this is exactly
    Brian2's ``exponential_euler``.
    """

    def can_integrate(self, equations, variables, method_options=None):
        return exponential_euler.can_integrate(equations, variables, method_options)

    def __call__(self, equations, variables=None, method_options=None):
        extract_method_options(method_options, {})
        if not tables_enabled() or variables is None:
            return exponential_euler(equations, variables, method_options)
        dt = float(variables["dt"].owner.dt_)
        gates = _gates(equations, dt)
        others = Equations([eq for eq in equations.ordered if eq.varname not in gates])
        code = exponential_euler(others, variables, method_options) if others.diff_eq_names else ""
        code += "".join(f"\n_{name} = {sympy_to_str(update)}\n{name} = _{name}" for name, update in gates.items())
        return optimise_update(code)


lut_exponential_euler = LutExponentialEuler()
StateUpdateMethod.register("lut_exponential_euler", lut_exponential_euler)
