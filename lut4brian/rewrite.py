"""
The preprocessor: find the parts of Brian2 equations that depend only on one
variable and replace them by `Table` calls.
"""

import functools
import sys

import numpy as np
import sympy
from brian2.core.functions import DEFAULT_FUNCTIONS, Function
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS
from brian2.equations.codestrings import Expression
from brian2.equations.equations import DIFFERENTIAL_EQUATION, SUBEXPRESSION, Equations, SingleEquation
from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
from brian2.units.fundamentalunits import Quantity
from brian2.utils.logger import get_logger

from ._brian_internals import register_function
from .grid import ExpressionTable, Grid, coarsest_grid
from .table import Table
from .preferences import tables_enabled

__all__ = ["tabulate", "tabulated"]

logger = get_logger(__name__)

#: Names that change during a run, or that the group defines, though no equation does
#: (the last ones are SpatialNeuron's compartment variables).
_RUN_TIME_NAMES = {"t", "dt", "t_in_timesteps", "i", "j", "N", "lastspike", "not_refractory",
                   "area", "diameter", "length", "distance", "x", "y", "z", "Cm", "Ri", "volume",
                   "r_length_1", "r_length_2"}
_IMPURE_FUNCTIONS = {"rand", "randn", "poisson", "timestep"}
#: sympy class names of Brian2's deterministic default functions.
_PURE_SYMPY_FUNCTIONS = {
    type(str_to_sympy(f"{name}(x)")).__name__
    for name in DEFAULT_FUNCTIONS
    if name not in _IMPURE_FUNCTIONS and name not in ("clip",)
}
#: Functions that jump: linear interpolation across a jump is wrong on a whole
#: grid interval, so expressions with them (or with comparisons) stay exact.
_JUMPING_SYMPY_FUNCTIONS = {"int_", "floor", "ceil", "sign"}


def tabulate(equations, namespace=None, level=0, tolerance=None, **grid):
    """
    Replace the parts of ``equations`` that depend only on one variable by
    lookup tables.

    Parameters
    ----------
    equations : str or `Equations`
        The model equations.
    namespace : dict, optional
        Values of external constants. By default they are taken from the
        caller's namespace, as Brian2's ``run()`` does.
    level : int, optional
        How many frames above the caller to look for external constants.
    tolerance : float or (float, float), optional
        ``rtol`` or ``(rtol, atol)``: instead of a fixed step, each table gets
        the coarsest uniform step on which its linear interpolation stays
        within ``rtol*|f(v)| + atol*max|f|`` between grid points (``atol`` is
        relative to the table's largest magnitude, so one number suits tables
        in any unit; it defaults to ``rtol/100``). The grid is then given as
        ``(low, high)``. The chosen steps are logged and shown by `report`.
    **grid
        Exactly one keyword: the table variable, with its grid as
        ``(low, high, step)`` in the variable's unit, e.g.
        ``v=(-100*mV, 50*mV, 0.1*mV)``, or ``(low, high)`` with ``tolerance``.

    Returns
    -------
    `Equations`
        The equations with table calls, ready for `NeuronGroup` or
        `SpatialNeuron` (e.g. with ``method='exponential_euler'``).

    Notes
    -----
    Subexpressions that depend only on the table variable are inlined; the
    largest subtrees that depend only on the table variable and constants and
    contain something costly (a function call or a division) become tables.
    An equation ``dx/dt = P(v) - Q(v)*x`` (gating kinetics in any of the usual
    forms) becomes ``dx/dt = Q(v)*(x_inf(v) - x)`` with two tables, the rate
    ``Q`` and the steady state ``x_inf = P/Q``. Outside the grid, tables are
    clamped to their end values and a warning is given after the run. A table
    is rebuilt before a run when a constant it depends on has changed.

    Examples
    --------
    >>> from brian2 import mV, ms
    >>> eqs = tabulate('''dn/dt = (n_inf - n)/(5*ms) : 1
    ...                   n_inf = 1/(1 + exp(-(v + 40*mV)/(5*mV))) : 1
    ...                   v : volt''', v=(-100*mV, 50*mV, 0.1*mV))
    >>> print(eqs['n'].expr)  # doctest: +ELLIPSIS
    (-n + lut_n_inf...(v))/(5*ms)
    """
    if len(grid) != 1:
        raise TypeError(
            "Name exactly one table variable with its grid, e.g. "
            f"tabulate(eqs, v=(-100*mV, 50*mV, 0.1*mV)); got {sorted(grid) or 'none'}."
        )
    (var, bounds), = grid.items()
    if not isinstance(equations, Equations):
        equations = Equations(equations)
    if not tables_enabled():
        logger.info("prefs.lut4brian.enabled is False: the equations stay exact.", name_suffix="disabled")
        return equations
    if var in equations:
        dim = equations[var].dim
    elif var in equations.identifiers:
        dim = None  # e.g. v in SpatialNeuron equations: its unit comes from the grid
    else:
        raise ValueError(
            f"The equations have no variable '{var}' to tabulate over; they define "
            f"{', '.join(sorted(equations.names))}."
        )
    grid = Grid.from_range(var, bounds, dim, with_step=tolerance is None)
    resolve = _resolver(namespace, sys._getframe(level + 1))
    return _Rewriter(equations, grid, resolve, _tolerances(tolerance)).run()


def _tolerances(tolerance):
    if tolerance is None:
        return None
    rtol, atol = tolerance if isinstance(tolerance, (tuple, list)) else (tolerance, tolerance / 100)
    if not (np.isfinite([rtol, atol]).all() and rtol >= 0 and atol >= 0 and rtol + atol > 0):
        raise ValueError(f"The tolerance must be rtol or (rtol, atol), non-negative and not both 0; got {tolerance!r}.")
    return float(rtol), float(atol)


def tabulated(namespace=None, tolerance=None, **grid):
    """
    Decorator: the decorated function returns equations, the result of the
    decorated function is their tabulated version (see `tabulate`, which
    takes the same arguments). Constants are looked up where the decorated
    function is called, then in the module that defines it.

    Examples
    --------
    >>> from brian2 import mV, ms
    >>> @tabulated(v=(-100*mV, 50*mV, 0.1*mV))
    ... def gate():
    ...     return '''dn/dt = (1/(1 + exp(-(v + 40*mV)/(5*mV))) - n)/(5*ms) : 1
    ...               v : volt'''
    >>> 'lut_n_inf' in str(gate())
    True
    """

    def decorate(make_equations):
        @functools.wraps(make_equations)
        def make_tabulated(*args, **kwargs):
            equations = make_equations(*args, **kwargs)
            caller = sys._getframe(1)
            fallback = namespace if namespace is not None else _ChainedFrame(caller, make_equations.__globals__)
            return tabulate(equations, namespace=fallback, tolerance=tolerance, **grid)

        return make_tabulated

    return decorate


class _ChainedFrame(dict):
    """The caller's locals and globals, then the defining module's globals."""

    def __init__(self, frame, extra):
        super().__init__()
        self.frame, self.extra = frame, extra

    def __missing__(self, name):
        for scope in (self.frame.f_locals, self.frame.f_globals, self.extra):
            if name in scope:
                return scope[name]
        raise KeyError(name)

    def __contains__(self, name):
        try:
            self[name]
        except KeyError:
            return False
        return True


def _resolver(namespace, frame):
    """Look up an external name the way Brian2's ``run()`` will."""
    scopes = [namespace] if namespace is not None else [frame.f_locals, frame.f_globals]
    scopes += [DEFAULT_CONSTANTS, DEFAULT_UNITS, DEFAULT_FUNCTIONS]

    def resolve(name):
        if namespace is None:
            scopes[0] = frame.f_locals  # refreshed: locals may have changed
        for scope in scopes:
            if name in scope:
                return scope[name]
        return None

    return resolve


#: Every table made, by what defines it: the same expression on the same grid,
#: tabulated again (in a sweep, say), is the same table with the same name,
#: so nothing grows with the number of calls and compiled code is reused.
_tables = {}


def _expression_table(hint, code, grid, constants, functions):
    key = (hint, code, grid.name, float(grid.low), float(grid.step), grid.size, repr(grid.dim),
           tuple(sorted((name, repr(value.dim)) for name, value in constants.items())))
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = ExpressionTable(code, grid, constants, functions, name=f"lut_{hint}*")
    else:
        table.retabulate(constants)
    return table


def _is_constant(value):
    if isinstance(value, (Function, bool, str)) or value is None:
        return False
    try:
        return np.ndim(value) == 0 and np.isfinite(float(np.asarray(value)))
    except (TypeError, ValueError):
        return False


class _Rewriter:
    def __init__(self, equations, grid, resolve, tolerances=None):
        self.equations = equations
        self.grid = grid
        self.tolerances = tolerances
        self.var = sympy.Symbol(grid.name, real=True)
        self.constants = {}
        self.tables = {}  # sympy expression -> ExpressionTable
        self.functions = {n: f for n, f in DEFAULT_FUNCTIONS.items() if n not in _IMPURE_FUNCTIONS}
        external = equations.identifiers - set(equations.names) - _RUN_TIME_NAMES - {grid.name}
        unresolved = []
        for name in sorted(external):
            value = resolve(name)
            if value is None:
                unresolved.append(name)
            elif _is_constant(value):
                self.constants[name] = value if isinstance(value, Quantity) else Quantity(value)
        if unresolved:
            logger.warn(
                f"lut4brian could not resolve {', '.join(repr(n) for n in unresolved)} when tabulating: "
                "expressions with these names are not tabulated. Define them before calling tabulate, "
                "or pass them in its namespace= argument.", name_suffix="unresolved")
        self.jumps = set()
        self._var_only_subexpressions()
        self.membrane = self._membrane_equations()

    # --- what depends on the table variable only -------------------------
    # Subexpressions that depend only on the table variable stay symbols while
    # the structure is analysed (so that x_inf**3 is still a power of x_inf)
    # and are inlined when a table is built.
    def _only_var(self, expr):
        """True if ``expr`` depends on nothing but the table variable and constants."""
        names = {str(s) for s in expr.free_symbols} - {self.grid.name}
        if not names <= set(self.constants) | self.inline_names:
            return False
        jumps = ([f for f in expr.atoms(sympy.Function) if type(f).__name__ in _JUMPING_SYMPY_FUNCTIONS]
                 or expr.atoms(sympy.core.relational.Relational))
        if jumps:
            self.jumps.update(sympy_to_str(f) for f in jumps if self.var in f.free_symbols)
            return False
        return all(type(f).__name__ in _PURE_SYMPY_FUNCTIONS for f in expr.atoms(sympy.Function))

    def _has_linear_factor(self, expr):
        """True for a product with a factor linear in the table variable, such as (v - E_Na)."""
        factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
        for factor in map(self._expand, factors):
            if self.var in factor.free_symbols and factor.is_polynomial(self.var):
                if sympy.degree(factor, self.var) == 1:
                    return True
        return False

    def _expand(self, expr):
        return expr.xreplace(self.inline)

    def _worth_a_table(self, expr):
        if not self._only_var(expr):
            return False
        expr = self._expand(expr)
        if self.var not in expr.free_symbols:
            return False
        if expr.atoms(sympy.Function):
            return True
        return any(p.exp.is_negative or not p.exp.is_integer for p in expr.atoms(sympy.Pow)
                   if self.var in p.base.free_symbols or self.var in p.exp.free_symbols)

    def _var_only_subexpressions(self):
        self.inline, self.inline_names = {}, set()
        for eq in self.equations.ordered:
            if eq.type != SUBEXPRESSION or "constant over dt" in eq.flags:
                continue
            expr = str_to_sympy(eq.expr.code)
            if self._only_var(expr):
                self.inline[sympy.Symbol(eq.varname, real=True)] = self._expand(expr)
                self.inline_names.add(eq.varname)

    # --- replacing subtrees by tables -------------------------------------
    def _table_call(self, expr, hint):
        if expr in self.inline:
            hint = str(expr)  # the table of a subexpression is named after it
        expr = self._expand(expr)
        table = self.tables.get(expr)
        if table is None:
            code, constants = sympy_to_str(expr), self._constants_of(expr)
            grid = self.grid
            if self.tolerances is not None:
                grid = coarsest_grid(code, grid, constants, self.functions, *self.tolerances)
                logger.info(f"Table for '{hint}': step {grid.step} ({grid.size} points) for "
                            f"rtol={self.tolerances[0]}, atol={self.tolerances[1]}.", name_suffix="step")
            table = _expression_table(hint, code, grid, constants, self.functions)
            self.tables[expr] = table
        return sympy.Function(table.name)(self.var)

    def _constants_of(self, expr):
        return {str(s): self.constants[str(s)] for s in expr.free_symbols if str(s) in self.constants}

    def _replace(self, expr, hint, keep_linear=False):
        """
        Replace the largest costly subtrees of ``expr`` that depend only on the
        table variable by tables. In sums and products they are grouped, with
        constant factors, into one table. With ``keep_linear`` (in the table
        variable's own equation), factors without a cost such as (v - E_Na)
        stay outside, so that exponential_euler still sees that equation as
        linear in the variable, exactly as in the original equations.
        """
        if self._is_power_of_table(expr):
            # x_inf(v)**3 interpolated is 3 times less accurate than x_inf(v) interpolated, then cubed
            return self._table_call(expr.base, hint) ** expr.exp
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            inside, outside = [], []
            for arg in expr.args:
                constant = isinstance(expr, sympy.Mul) and self.var not in self._expand(arg).free_symbols
                wanted = self._worth_a_table(arg) or (self._only_var(arg) and (constant or not keep_linear))
                if keep_linear and isinstance(expr, sympy.Add) and self._has_linear_factor(arg):
                    wanted = False  # a current g*m_inf(v)*(v - E): the table goes inside, (v - E) outside
                (outside if self._is_power_of_table(arg) or not wanted else inside).append(arg)
            group = expr.func(*inside)
            if self._worth_a_table(group):
                inside = [self._table_call(group, hint)]
            return expr.func(*inside, *(self._replace(a, hint, keep_linear) for a in outside))
        if self._worth_a_table(expr):
            return self._table_call(expr, hint)
        if expr.args:
            return expr.func(*(self._replace(a, hint, keep_linear) for a in expr.args))
        return expr

    def _is_power_of_table(self, expr):
        return (isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 1
                and self._worth_a_table(expr.base))

    def _gating(self, expr, varname):
        """``P(v) - Q(v)*x`` as ``Q(v)*(x_inf(v) - x)``, or None."""
        x = sympy.Symbol(varname, real=True)
        rate = -sympy.diff(expr, x)
        drive = expr.subs(x, 0)
        if rate == 0 or x in rate.free_symbols or not (self._only_var(rate) and self._only_var(drive)):
            return None
        if not (self._worth_a_table(rate) or self._worth_a_table(drive)):
            return None
        rate_call = rate
        if self.var in self._expand(rate).free_symbols:
            known = set(self.tables)
            rate_call = self._table_call(rate, f"{varname}_rate")
            key = self._expand(rate)
            if np.any(np.asarray(self.tables[key].values) == 0):
                if key not in known:
                    del self.tables[key]
                return None  # the steady state would be 0/0 where the rate vanishes
        steady = drive / rate
        steady_call = self._table_call(steady, f"{varname}_inf") if self._worth_a_table(steady) else steady
        return rate_call * (steady_call - x)

    def _membrane_equations(self):
        """
        The equations Brian2 treats as the membrane equation: the table
        variable's own (`NeuronGroup`) or ``Im`` (`SpatialNeuron`, where the
        variable is not defined in the equations), with every subexpression
        they use, such as the currents they sum.
        """
        if self.grid.name in self.equations.diff_eq_names:
            root = self.grid.name
        elif self.grid.name not in self.equations and "Im" in self.equations:
            root = "Im"
        else:
            return set()
        names, todo = set(), [root]
        while todo:
            name = todo.pop()
            if name in names or name in self.inline_names:
                continue
            names.add(name)
            todo += [n for n in self.equations[name].expr.identifiers if n in self.equations.subexpr_names]
        return names

    def _rewrite(self, eq):
        if eq.varname in self.inline_names:
            return None  # inlined wherever it is used; kept exact for monitors
        expr = str_to_sympy(eq.expr.code)
        if eq.varname in self.membrane and self.grid.name not in self.equations:
            self._refuse_tables_in_membrane_current(eq, expr)
            return None  # SpatialNeuron differentiates Im with respect to v: no table can be there
        if eq.varname in self.membrane:
            # linear factors hidden in subexpressions (I_Ca = g*m_inf(v)*(v - E_Ca), v*G(v) in a GHK
            # current) must be seen; other subexpressions stay symbols (see _is_power_of_table)
            expr = expr.xreplace({s: e for s, e in self.inline.items() if self._has_linear_factor(e)})
        new = None
        if eq.type == DIFFERENTIAL_EQUATION and eq.varname != self.grid.name:
            new = self._gating(expr, eq.varname)
        if new is None:
            new = self._replace(expr, eq.varname, keep_linear=eq.varname in self.membrane)
        return None if new == expr else new

    def _refuse_tables_in_membrane_current(self, eq, expr):
        tables = [f for f in expr.atoms(sympy.Function)
                  if isinstance(DEFAULT_FUNCTIONS.get(type(f).__name__), Table) and self.var in f.free_symbols]
        if tables:
            raise ValueError(
                f"'{eq.varname} = {eq.expr.code}' calls the table(s) {', '.join(map(sympy_to_str, tables))} "
                f"of '{self.grid.name}', but SpatialNeuron differentiates the membrane current Im and what it "
                f"uses with respect to '{self.grid.name}', which a table cannot provide. Write these terms "
                "with their exact expressions; lut4brian keeps them exact and tabulates the gates.")

    def run(self):
        rewritten = []
        for eq in self.equations.ordered:
            new = self._rewrite(eq) if eq.expr is not None else None
            if new is not None:
                eq = SingleEquation(eq.type, eq.varname, dimensions=eq.dim, var_type=eq.var_type,
                                    expr=Expression(sympy_to_str(new)), flags=eq.flags)
            rewritten.append(eq)
        if self.jumps:
            logger.info(f"Kept exact, since they jump within the grid of '{self.grid.name}': "
                        + ", ".join(sorted(self.jumps)) + ".", name_suffix="jumps")
        spatial_exact = sorted(self.membrane) if self.grid.name not in self.equations else []
        if spatial_exact:
            logger.info(f"Kept exact for SpatialNeuron, which differentiates them with respect to "
                        f"'{self.grid.name}': {', '.join(spatial_exact)}.", name_suffix="membrane_current")
        if not self.tables:
            logger.warn(
                f"Nothing in these equations is worth tabulating over '{self.grid.name}': "
                "they are returned unchanged.", name_suffix="nothing_tabulated")
            return self.equations
        for table in self.tables.values():
            register_function(table)
        logger.debug(f"Tabulated {len(self.tables)} expressions: "
                     + "; ".join(f"{t.name} = {t.code}" for t in self.tables.values()))
        return Equations(rewritten)
