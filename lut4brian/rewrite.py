"""
The preprocessor: find the parts of Brian2 equations that depend only on one
or two table variables and replace them by `Table` or `Table2D` calls.
"""

import functools

import numpy as np
import sympy
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS, get_local_namespace
from brian2.equations.codestrings import Expression
from brian2.equations.equations import DIFFERENTIAL_EQUATION, SUBEXPRESSION, Equations, SingleEquation
from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
from brian2.units.fundamentalunits import Quantity
from brian2.utils.logger import get_logger

from ._brian_internals import register_function
from .expression_table import expression_table, is_constant
from .grid import Grid, coarsest_grid
from .table import Table
from .table2d import Table2D
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
    Replace the parts of ``equations`` that depend only on one variable, or
    on two, by lookup tables.

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
        The table variables, each with its grid as ``(low, high, step)`` in
        the variable's unit, e.g. ``v=(-100*mV, 50*mV, 0.1*mV)``, or
        ``(low, high)`` with ``tolerance``, or a logarithmic grid,
        ``Ca_i=log_grid(1e-5*mM, 1e-1*mM, points=41)`` (without ``points``
        with ``tolerance``), for variables that span decades.

    Returns
    -------
    `Equations`
        The equations with table calls, ready for `NeuronGroup` or
        `SpatialNeuron` (e.g. with ``method='exponential_euler'``).

    Notes
    -----
    Subexpressions that depend only on table variables are inlined; the
    largest subtrees that depend only on one or two table variables and
    constants and contain something costly (a function call or a division)
    become tables, bilinear `Table2D` for two variables. With ``tolerance``,
    each axis of a two-variable table gets the coarsest step that meets the
    tolerance along it, at 5 values of the other variable.
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
    if not grid:
        raise TypeError("Name the table variable with its grid, e.g. tabulate(eqs, v=(-100*mV, 50*mV, 0.1*mV)).")
    if not isinstance(equations, Equations):
        equations = Equations(equations)
    if not tables_enabled():
        logger.info("prefs.lut4brian.enabled is False: the equations stay exact.", name_suffix="disabled")
        return equations
    grids = [Grid.from_range(var, bounds, _dimensions_of(equations, var), with_step=tolerance is None)
             for var, bounds in grid.items()]
    resolve = _resolver(namespace if namespace is not None else get_local_namespace(level + 1))
    return _Rewriter(equations, grids, resolve, _tolerances(tolerance)).run()


def _dimensions_of(equations, var):
    if var in equations:
        return equations[var].dim
    if var in equations.identifiers:
        return None  # e.g. v in SpatialNeuron equations: its unit comes from the grid
    raise ValueError(
        f"The equations have no variable '{var}' to tabulate over; they define "
        f"{', '.join(sorted(equations.names))}."
    )


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
            # the caller's names first, then those of the module that defines the function
            fallback = namespace
            if fallback is None:
                fallback = dict(make_equations.__globals__, **get_local_namespace(1))
            return tabulate(equations, namespace=fallback, tolerance=tolerance, **grid)

        return make_tabulated

    return decorate


def _resolver(namespace):
    """Look up an external name the way Brian2's ``run()`` will."""
    scopes = [namespace, DEFAULT_CONSTANTS, DEFAULT_UNITS, DEFAULT_FUNCTIONS]

    def resolve(name):
        return next((scope[name] for scope in scopes if name in scope), None)

    return resolve


class _Rewriter:
    def __init__(self, equations, grids, resolve, tolerances=None):
        self.equations = equations
        self.grids = {grid.name: grid for grid in grids}
        self.tolerances = tolerances
        self.vars = {sympy.Symbol(name, real=True) for name in self.grids}
        self.constants = {}
        self.tables = {}  # sympy expression -> ExpressionTable or ExpressionTable2D
        self.functions = {n: f for n, f in DEFAULT_FUNCTIONS.items() if n not in _IMPURE_FUNCTIONS}
        external = equations.identifiers - set(equations.names) - _RUN_TIME_NAMES - set(self.grids)
        unresolved = []
        for name in sorted(external):
            value = resolve(name)
            if value is None:
                unresolved.append(name)
            elif is_constant(value):
                self.constants[name] = value if isinstance(value, Quantity) else Quantity(value)
        if unresolved:
            logger.warn(
                f"lut4brian could not resolve {', '.join(repr(n) for n in unresolved)} when tabulating: "
                "expressions with these names are not tabulated. Define them before calling tabulate, "
                "or pass them in its namespace= argument.", name_suffix="unresolved")
        self.jumps = set()
        self._var_only_subexpressions()
        self.membrane = {name: self._membrane_equations(name) for name in self.grids}

    # --- what depends on the table variables only ------------------------
    # Subexpressions that depend only on table variables stay symbols while
    # the structure is analysed (so that x_inf**3 is still a power of x_inf)
    # and are inlined when a table is built.
    def _only_var(self, expr):
        """True if ``expr`` depends on nothing but table variables and constants."""
        names = {str(s) for s in expr.free_symbols} - set(self.grids)
        if not names <= set(self.constants) | self.inline_names:
            return False
        jumps = ([f for f in expr.atoms(sympy.Function) if type(f).__name__ in _JUMPING_SYMPY_FUNCTIONS]
                 or expr.atoms(sympy.core.relational.Relational))
        if jumps:
            self.jumps.update(sympy_to_str(f) for f in jumps if self.vars & f.free_symbols)
            return False
        return all(type(f).__name__ in _PURE_SYMPY_FUNCTIONS for f in expr.atoms(sympy.Function))

    def _table_vars(self, expr):
        """The table variables that ``expr`` depends on, subexpressions included."""
        return self.vars & self._expand(expr).free_symbols

    def _has_linear_factor(self, expr, var):
        """True for a product with a factor linear in ``var``, such as (v - E_Na)."""
        factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
        for factor in map(self._expand, factors):
            if var in factor.free_symbols and factor.is_polynomial(var):
                if sympy.degree(factor, var) == 1:
                    return True
        return False

    def _expand(self, expr):
        return expr.xreplace(self.inline)

    def _worth_a_table(self, expr):
        if not self._only_var(expr):
            return False
        expr = self._expand(expr)
        used = self.vars & expr.free_symbols
        if not used or len(used) > 2:
            return False
        if expr.atoms(sympy.Function):
            return True
        return any(p.exp.is_negative or not p.exp.is_integer for p in expr.atoms(sympy.Pow)
                   if used & (p.base.free_symbols | p.exp.free_symbols))

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
            used = self._table_vars(expr)
            grids = [grid for name, grid in self.grids.items() if sympy.Symbol(name, real=True) in used]
            if self.tolerances is not None:
                grids = self._coarsest(code, grids, constants, hint)
            table = expression_table(hint, code, grids, constants, self.functions)
            self.tables[expr] = table
        return sympy.Function(table.name)(*(sympy.Symbol(grid.name, real=True) for grid in table.grids))

    def _coarsest(self, code, grids, constants, hint):
        """The coarsest grids that meet the tolerance; along each axis of two, at 5 values of the other."""
        chosen = []
        for k, grid in enumerate(grids):
            others = [{}] if len(grids) == 1 else [
                {grids[1 - k].name: value} for value in grids[1 - k].with_points(5).points]
            sizes = [coarsest_grid(code, grid, dict(constants, **other), self.functions, *self.tolerances).size
                     for other in others]
            chosen.append(grid.with_points(max(sizes)))
            logger.info(f"Table for '{hint}': {chosen[-1].size} points along '{grid.name}' for "
                        f"rtol={self.tolerances[0]}, atol={self.tolerances[1]}.", name_suffix="step")
        return chosen

    def _constants_of(self, expr):
        return {str(s): self.constants[str(s)] for s in expr.free_symbols if str(s) in self.constants}

    def _replace(self, expr, hint, keep_linear=frozenset()):
        """
        Replace the largest costly subtrees of ``expr`` that depend only on
        table variables by tables. In sums and products they are grouped,
        with constant factors, into one table per set of variables they
        depend on (f(v)*g(Ca) is two 1-D tables, not one 2-D table). In the
        equations of the variables in ``keep_linear`` (their own, and the
        subexpressions they sum), factors without a cost such as (v - E_Na)
        stay outside, so that exponential_euler still sees that equation as
        linear in the variable, exactly as in the original equations.
        """
        if self._is_power_of_table(expr):
            # x_inf(v)**3 interpolated is 3 times less accurate than x_inf(v) interpolated, then cubed
            return self._table_call(expr.base, hint) ** expr.exp
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            groups, outside = {}, []
            for arg in expr.args:
                used = frozenset(self._table_vars(arg))
                constant = isinstance(expr, sympy.Mul) and not used
                wanted = self._worth_a_table(arg) or (self._only_var(arg) and (constant or not keep_linear))
                if isinstance(expr, sympy.Add) and any(self._has_linear_factor(arg, v) for v in keep_linear):
                    wanted = False  # a current g*m_inf(v)*(v - E): the table goes inside, (v - E) outside
                if self._is_power_of_table(arg) or not wanted:
                    outside.append(arg)
                else:
                    groups.setdefault(used, []).append(arg)
            constants, inside = groups.pop(frozenset(), []), []
            for args in groups.values():
                group = expr.func(*args, *constants)
                if self._worth_a_table(group):
                    inside.append(self._table_call(group, hint))
                    constants = []  # constant factors join the first table
                else:
                    inside += args
            inside += constants
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
        """``P - Q*x`` as ``Q*(x_inf - x)``, or None (``P``, ``Q`` of table variables)."""
        x = sympy.Symbol(varname, real=True)
        rate = -sympy.diff(expr, x)
        drive = expr.subs(x, 0)
        if rate == 0 or x in rate.free_symbols or not (self._only_var(rate) and self._only_var(drive)):
            return None
        if not (self._worth_a_table(rate) or self._worth_a_table(drive)):
            return None
        rate_call = rate
        if self._table_vars(rate):
            known = set(self.tables)
            rate_call = self._table_call(rate, f"{varname}_rate")
            key = self._expand(rate)
            if np.any(np.asarray(self.tables[key].values) == 0):
                if key not in known:
                    del self.tables[key]
                return None  # the steady state would be 0/0 where the rate vanishes
        steady = drive / rate
        if len(self._table_vars(steady)) == 2:  # f(v)*g(Ca) is better two 1-D tables than one 2-D table
            steady_call = self._replace(self._expand(steady), f"{varname}_inf")
        elif self._worth_a_table(steady):
            steady_call = self._table_call(steady, f"{varname}_inf")
        else:
            steady_call = steady
        return rate_call * (steady_call - x)

    def _membrane_equations(self, var):
        """
        The equations Brian2 treats as the equation of the table variable
        ``var``: its own (`NeuronGroup`) or ``Im`` for the membrane potential
        of a `SpatialNeuron` (where it is not defined in the equations), with
        every subexpression they use, such as the currents they sum.
        """
        if var in self.equations.diff_eq_names:
            root = var
        elif var not in self.equations and "Im" in self.equations:
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
        keep_linear = frozenset(v for v in self.vars if eq.varname in self.membrane[str(v)])
        spatial = [v for v in keep_linear if str(v) not in self.equations]
        if spatial:
            self._refuse_tables_in_membrane_current(eq, expr, spatial)
            return None  # SpatialNeuron differentiates Im with respect to v: no table can be there
        if keep_linear:
            # linear factors hidden in subexpressions (I_Ca = g*m_inf(v)*(v - E_Ca), v*G(v) in a GHK
            # current) must be seen; other subexpressions stay symbols (see _is_power_of_table)
            expr = expr.xreplace({s: e for s, e in self.inline.items()
                                  if any(self._has_linear_factor(e, v) for v in keep_linear)})
        new = None
        if eq.type == DIFFERENTIAL_EQUATION and eq.varname not in self.grids:
            new = self._gating(expr, eq.varname)
        if new is None:
            new = self._replace(expr, eq.varname, keep_linear)
        return None if new == expr else new

    def _refuse_tables_in_membrane_current(self, eq, expr, variables):
        tables = [f for f in expr.atoms(sympy.Function)
                  if isinstance(DEFAULT_FUNCTIONS.get(type(f).__name__), (Table, Table2D))
                  and set(variables) & f.free_symbols]
        if tables:
            names = ", ".join(f"'{v}'" for v in sorted(map(str, variables)))
            raise ValueError(
                f"'{eq.varname} = {eq.expr.code}' calls the table(s) {', '.join(map(sympy_to_str, tables))} "
                f"of {names}, but SpatialNeuron differentiates the membrane current Im and what it "
                f"uses with respect to {names}, which a table cannot provide. Write these terms "
                "with their exact expressions; lut4brian keeps them exact and tabulates the gates.")

    def run(self):
        rewritten = []
        for eq in self.equations.ordered:
            new = self._rewrite(eq) if eq.expr is not None else None
            if new is not None:
                eq = SingleEquation(eq.type, eq.varname, dimensions=eq.dim, var_type=eq.var_type,
                                    expr=Expression(sympy_to_str(new)), flags=eq.flags)
            rewritten.append(eq)
        names = " and ".join(f"'{name}'" for name in self.grids)
        if self.jumps:
            logger.info(f"Kept exact, since they jump within the grid of {names}: "
                        + ", ".join(sorted(self.jumps)) + ".", name_suffix="jumps")
        spatial = [name for name in self.grids if name not in self.equations]
        spatial_exact = sorted(set().union(*(self.membrane[name] for name in spatial)))
        if spatial_exact:
            logger.info(f"Kept exact for SpatialNeuron, which differentiates them with respect to "
                        f"{', '.join(map(repr, spatial))}: {', '.join(spatial_exact)}.",
                        name_suffix="membrane_current")
        if not self.tables:
            logger.warn(
                f"Nothing in these equations is worth tabulating over {names}: "
                "they are returned unchanged.", name_suffix="nothing_tabulated")
            return self.equations
        for table in self.tables.values():
            register_function(table)
        logger.debug(f"Tabulated {len(self.tables)} expressions: "
                     + "; ".join(f"{t.name} = {t.code}" for t in self.tables.values()))
        return Equations(rewritten)
