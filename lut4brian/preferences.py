"""
lut4brian's Brian2 preferences (``prefs.lut4brian.*``).
"""

import numbers

from brian2.core.preferences import BrianPreference, prefs

__all__ = ["tables_enabled", "auto_tables", "excluded", "range_checked"]


def _is_auto_setting(value):
    """``None``/``False`` (off), or a dict with one grid variable and optionally ``tolerance``."""
    if value is None or value is False:
        return True
    if not isinstance(value, dict):
        return False
    grid = {name: bounds for name, bounds in value.items() if name != "tolerance"}
    tolerance = value.get("tolerance")
    if len(grid) != 1 or not isinstance(next(iter(grid.values())), (tuple, list)):
        return False
    if tolerance is None:
        return len(next(iter(grid.values()))) == 3
    return isinstance(tolerance, (numbers.Real, tuple, list)) and len(next(iter(grid.values()))) == 2


def _is_name_list(value):
    return isinstance(value, (list, tuple, set)) and all(isinstance(name, str) for name in value)


prefs.register_preferences(
    "lut4brian",
    "Lookup tables for Brian2 equations (lut4brian)",
    enabled=BrianPreference(
        default=True,
        docs="""
        Whether ``lut4brian.tabulate`` builds tables. With ``False`` it returns
        the equations unchanged and ``method='lut_exponential_euler'`` is
        Brian2's ``exponential_euler``: the same script then runs the exact
        model, like NEURON's ``usetable_hh = 0``.
        """,
    ),
    auto=BrianPreference(
        default=None,
        validator=_is_auto_setting,
        docs="""
        Tabulate every `NeuronGroup` and `SpatialNeuron` that runs from now
        on, with no change to its equations: ``None`` (the default) leaves
        them exact; a grid, ``dict(v=(-100*mV, 100*mV, 0.1*mV))``, or a range
        and a tolerance, ``dict(v=(-100*mV, 100*mV), tolerance=1e-4)``, as
        for `lut4brian.tabulate`, tabulates the parts of each group's
        equations that depend only on that variable, with the constants the
        group resolves in each run. Groups integrated with
        ``exponential_euler`` then use ``lut_exponential_euler``.
        """,
    ),
    range_check=BrianPreference(
        default=True,
        docs="""
        Whether compiled tables record how far their argument left the grid,
        for the warning after each run. With ``False``, tables on
        cpp_standalone have no branch and their samples are compiled into the
        code, so that gcc can vectorise the loop that calls them (it also
        needs ``'--param=vect-max-version-for-alias-checks=200'`` in
        ``prefs.codegen.cpp.extra_compile_args_gcc`` to check at run time that
        Brian2's arrays do not overlap); an argument outside the grid is then
        clamped silently, for tables of two variables too (whose own NaN
        checks keep their loops scalar). The numpy and cython targets always
        keep the record.
        """,
    ),
    exclude=BrianPreference(
        default=[],
        validator=_is_name_list,
        docs="""
        Names of groups (shell patterns such as ``'neurongroup_*'`` allowed)
        that ``prefs.lut4brian.auto`` leaves exact.
        """,
    ),
)


def tables_enabled():
    """``prefs.lut4brian.enabled``."""
    return prefs["lut4brian.enabled"]


def auto_tables():
    """``prefs.lut4brian.auto`` when it asks for tables (and tables are enabled), else ``None``."""
    setting = prefs["lut4brian.auto"]
    return setting if setting and tables_enabled() else None


def range_checked():
    """``prefs.lut4brian.range_check``."""
    return prefs["lut4brian.range_check"]


def excluded(name):
    """True if ``prefs.lut4brian.exclude`` names the group ``name``."""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(name, pattern) for pattern in prefs["lut4brian.exclude"])
