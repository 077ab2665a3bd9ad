"""
lut4brian: automatic lookup tables for Hodgkin-Huxley-type models in Brian2.

`tabulate` (or the `tabulated` decorator) rewrites the parts of Brian2
equations that depend only on one variable, or on two, into `Table` and
`Table2D` calls (on uniform grids, or on a `log_grid` for concentrations);
``prefs.lut4brian.auto`` does it for every group of an unchanged script, and
``python -m lut4brian --compare SCRIPT`` compares such a script with and
without tables. ``method='lut_exponential_euler'`` integrates the gating
variables without exp(), ``method='lut_strang'`` and ``'lut_staggered'`` at
second order; `report`
shows each table's grid, memory and error; ``prefs.lut4brian.enabled = False``
switches back to exact equations. The names of lut4brian 0.1.0
(``lut4brian.Xmin/Xmax/dX/tbl``, `lutinit`, `lutinterpol`) remain for the
scripts written for it.
"""

from . import compat as lut4brian
from . import cuda  # registers the generators for brian2cuda's device
from .auto import AutoTablesError  # installs prefs.lut4brian.auto (inactive until set)
from .compat import lutinit, lutinterpol
from .grid import log_grid
from .integrate import lut_exponential_euler
from .report import TableInfo, TableReport, report
from .rewrite import tabulate, tabulated
from .strang import lut_staggered, lut_strang
from .table import Table
from .table2d import Table2D

__all__ = [
    "Table", "tabulate", "tabulated", "lut_exponential_euler", "lut_strang", "lut_staggered", "report", "TableInfo",
    "TableReport",
    "lut4brian", "lutinit", "lutinterpol", "AutoTablesError", "Table2D", "log_grid",
]
