"""
lut4brian's Brian2 preferences (``prefs.lut4brian.*``).
"""

from brian2.core.preferences import BrianPreference, prefs

__all__ = ["tables_enabled"]

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
)


def tables_enabled():
    """``prefs.lut4brian.enabled``."""
    return prefs["lut4brian.enabled"]
