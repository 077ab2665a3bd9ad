"""Without torch, the doctests of frbrian's PyTorch modules are not collected (their tests skip too)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["torch_model.py", "fitting.py"]
