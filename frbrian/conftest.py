"""Without torch, the doctests of frbrian's PyTorch modules are not collected (their tests skip too)."""

import glob
import importlib.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_TORCH_MODULES = [os.path.basename(p) for p in glob.glob(os.path.join(_HERE, "torch_*.py"))] + ["fitting.py",
                                                                                               "fit_variables.py"]
collect_ignore = [] if importlib.util.find_spec("torch") else _TORCH_MODULES
