"""
lut4brian: automatic lookup tables for Hodgkin-Huxley-type models in Brian2.

`tabulate` (or the `tabulated` decorator) rewrites the parts of Brian2
equations that depend only on one variable into `Table` calls;
``method='lut_exponential_euler'`` integrates their gating variables without
exp(); `report` shows each table's grid, memory and error;
``prefs.lut4brian.enabled = False`` switches back to exact equations. The names of
lut4brian 0.1.0 (``lut4brian.Xmin/Xmax/dX/tbl``, `lutinit`, `lutinterpol`)
remain for the scripts written for it.
"""

from . import compat as lut4brian
from . import cuda  # registers the generators for brian2cuda's device
from .auto import AutoTablesError  # installs prefs.lut4brian.auto (inactive until set)
from .compat import lutinit, lutinterpol
from .grid import log_grid
from .integrate import lut_exponential_euler
from .report import TableInfo, TableReport, report
from .rewrite import tabulate, tabulated
from .strang import lut_strang
from .table import GridIndex, Table, TableAt
from .table2d import Table2D

__all__ = [
    "Table", "GridIndex", "TableAt", "tabulate", "tabulated", "lut_exponential_euler", "lut_strang", "report", "TableInfo", "TableReport",
    "lut4brian", "lutinit", "lutinterpol", "AutoTablesError", "Table2D", "log_grid",
]
