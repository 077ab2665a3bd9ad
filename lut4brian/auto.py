"""
``prefs.lut4brian.auto``: tables for groups written for exact Brian2.

With the preference set, each `NeuronGroup` and `SpatialNeuron` is
tabulated when its state-update code is made at ``run()``: `tabulate`
rewrites the equations that its state updater integrates, looking up every
external name through the group itself in that run (its ``namespace``, then
the run namespace), so each group, in each run, gets tables of the values
exact Brian2 would use. The group keeps its exact equations for everything
else (threshold, reset, monitors of subexpressions).
"""

import contextlib
import logging
import re

import numpy as np
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.equations.equations import PARAMETER, Equations
from brian2.stateupdaters.exponential_euler import exponential_euler
from brian2.units.fundamentalunits import get_dimensions, get_unit
from brian2.utils.logger import get_logger

from ._brian_internals import GroupNamespace, set_state_update_hook
from .preferences import auto_tables, excluded
from .rewrite import tabulate
from .table import Table

__all__ = ["AutoTablesError", "auto_error", "tabulated_groups", "group_tables"]

logger = get_logger(__name__)


class AutoTablesError(RuntimeError):
    """
    A group that ``prefs.lut4brian.auto`` tabulated cannot run with its
    tables. ``group`` is the group's name and ``expression`` what failed.
    """

    def __init__(self, group, expression, reason):
        self.group, self.expression = group, expression
        super().__init__(
            f"prefs.lut4brian.auto could not tabulate group '{group}' at '{expression}': {reason}\n"
            f"Without prefs.lut4brian.auto this group runs exact. To keep it exact and tabulate the "
            f"others, add `prefs.lut4brian.exclude = ['{group}']` to the script (or to its "
            f"preference file), or change prefs.lut4brian.auto's grid.")


#: For every group tabulated so far, by name: the tables made for it (name,
#: expression, points, step), the equations changed and the integrator used;
#: a group with nothing worth a table has no tables. Read by `lut4brian.cli`.
tabulated_groups = {}

#: Rewritten equations by (equations, setting, constant values): a group run
#: again with the same constants is not tabulated again.
_rewrites = {}


def _state_equations(equations):
    """The part of ``equations`` that a state updater integrates: differential equations, what they use, parameters."""
    needed, todo = set(), list(equations.diff_eq_names)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += [n for n in equations[name].expr.identifiers if n in equations.subexpr_names]
    return Equations([eq for eq in equations.values() if eq.varname in needed or eq.type == PARAMETER])


@contextlib.contextmanager
def _quiet(*suffixes):
    # auto lists groups with nothing to tabulate once, by group name, in its own words
    loggers = [logging.getLogger(f"brian2.lut4brian.rewrite.{suffix}") for suffix in suffixes]
    previous = [each.disabled for each in loggers]
    for each in loggers:
        each.disabled = True
    try:
        yield
    finally:
        for each, state in zip(loggers, previous):
            each.disabled = state


def _key(equations, setting, constants):
    return (tuple((eq.type, eq.varname, str(eq.expr), repr(eq.dim), tuple(sorted(eq.flags)))
                  for eq in equations.values()),
            tuple((name, tuple(float(np.asarray(b)) for b in bounds) if name != "tolerance" else repr(bounds))
                  for name, bounds in sorted(setting.items())),
            tuple((name, float(np.asarray(value)), repr(get_dimensions(value)))
                  for name, value in sorted(constants.items())))


def group_tables(group, run_namespace, setting):
    """
    The equations of ``group`` with the tables of ``setting`` (a value of
    ``prefs.lut4brian.auto``), constants resolved as ``group`` resolves them
    with ``run_namespace``, and the tables made; ``(None, [])`` when nothing
    is worth a table.
    """
    var = next(name for name in setting if name != "tolerance")
    equations = _state_equations(group.equations)
    if var not in equations.identifiers and var not in equations:
        return None, []
    namespace = GroupNamespace(group, run_namespace)
    key = _key(equations, setting, namespace.constants(equations.identifiers - set(equations.names)))
    if key not in _rewrites:
        if len(_rewrites) >= 64:  # a sweep over constants: keep the latest
            del _rewrites[next(iter(_rewrites))]
        grid = {var: setting[var]}
        with _quiet("nothing_tabulated"):
            rewritten = tabulate(equations, namespace=namespace, tolerance=setting.get("tolerance"), **grid)
        _rewrites[key] = None if rewritten is equations else rewritten
    rewritten = _rewrites[key]
    if rewritten is None:
        return None, []
    replaced = {eq.varname: eq for eq in rewritten.values()}
    changed = [eq for eq in group.equations.values()
               if eq.varname in replaced and str(replaced[eq.varname].expr) != str(eq.expr)]
    tables = sorted({DEFAULT_FUNCTIONS[name] for eq in changed for name in replaced[eq.varname].identifiers
                     if isinstance(DEFAULT_FUNCTIONS.get(name), Table)}, key=lambda table: table.name)
    full = Equations([replaced.get(eq.varname, eq) for eq in group.equations.values()])
    return full, tables


def auto_error(error):
    """The `AutoTablesError` behind ``error`` (Brian2 wraps errors raised while preparing a run), or ``None``."""
    while error is not None:
        if isinstance(error, AutoTablesError):
            return error
        error = error.__cause__ or error.__context__
    return None


def _lut_method(choice):
    """The integrator with tables: exponential_euler becomes lut_exponential_euler, others stay."""
    if choice is exponential_euler or (isinstance(choice, str) and choice.lower() == "exponential_euler"):
        return "lut_exponential_euler"
    if isinstance(choice, (tuple, list)):
        return type(choice)(_lut_method(one) for one in choice)
    return choice


def _describe(equations):
    return "; ".join(f"{eq.varname} = {eq.expr}" for eq in equations)


def _record(group, tables, method, changed):
    tabulated_groups[group.name] = dict(
        tables=[dict(name=t.name, expression=getattr(t, "code", t.name), points=int(t.size),
                     step=float(t.step_), unit=str(get_unit(t.arg_dim))) for t in tables],
        method=method if isinstance(method, (str, type(None))) else repr(method),
        equations=[f"{eq.varname} = {eq.expr}" for eq in changed],
    )


def _state_update(updater, run_namespace, generate):
    """The state-update code of ``updater``'s group: with tables when ``prefs.lut4brian.auto`` asks for them."""
    setting = auto_tables()
    group = updater.group
    if setting is None or excluded(group.name):
        return generate()
    try:
        equations, tables = group_tables(group, run_namespace, setting)
    except Exception as error:
        named = re.search(r"[Ee]xpression '([^']*)'", str(error))
        expression = named.group(1) if named else _describe(_state_equations(group.equations).values())
        raise AutoTablesError(group.name, expression, str(error)) from error
    if equations is None:
        if group.name not in tabulated_groups:
            logger.info(f"prefs.lut4brian.auto: nothing in the equations of '{group.name}' is worth a table; "
                        "it runs exact.", name_suffix="nothing_tabulated")
        _record(group, [], updater.method_choice, [])
        return generate()
    method = _lut_method(updater.method_choice)
    changed = [eq for eq in equations.values() if str(eq.expr) != str(group.equations[eq.varname].expr)]
    try:
        code = generate(equations, method)
    except Exception as error:
        generate()  # the exact equations fail as well: the script's own error, raised as it is
        raise AutoTablesError(group.name, _describe(changed), f"{type(error).__name__}: {error}") from error
    _record(group, tables, method, changed)
    logger.debug(f"prefs.lut4brian.auto: '{group.name}' integrated with {method} and "
                 f"{len(tables)} tables ({', '.join(t.name for t in tables)}).", name_suffix="tabulated")
    return code


set_state_update_hook(_state_update)
