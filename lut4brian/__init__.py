"""lut4brian: automatic lookup tables for Brian2 equations."""
from .rewrite import tabulate, tabulated
from .table import Table

__all__ = ["Table", "tabulate", "tabulated"]
