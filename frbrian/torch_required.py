"""
PyTorch for the torch_* modules, imported in this one place: ``import
frbrian`` works without it, and using the PyTorch parts without it raises an
ImportError that names the extra to install.
"""

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("Fitting rate models in frbrian needs PyTorch: pip install lut4brian[fit]") from error

__all__ = ["torch"]
