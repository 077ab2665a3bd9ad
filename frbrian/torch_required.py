"""
PyTorch (and torchdiffeq, for trajectories) for the torch_* modules,
imported in this one place: ``import frbrian`` works without them, and using
the PyTorch parts without them raises an ImportError that names the extra
to install.
"""

try:
    import torch
    import torchdiffeq
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(f"Fitting rate models in frbrian needs PyTorch and torchdiffeq ({error.name} is missing): "
                      "pip install lut4brian[fit]") from error

__all__ = ["torch", "torchdiffeq"]
