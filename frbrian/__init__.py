"""
frbrian: firing-rate populations for Brian2 networks.

* rate populations as Brian2 groups: `RateNetwork`, coupled by
  `Coupling` (kernels on a `Grid`: `Gaussian`, `WrappedGaussian`,
  `Exponential`, their sums and products; FFT) or `DenseCoupling`;
* transfer functions: `power_law`, `sigmoid`, `rectified_tanh`, `threshold_linear`,
  or any expression in ``I`` (`Transfer`);
* bridges to spiking groups: `poisson_spikes`, `rate_input`,
  `population_rate` (`PopulationRate`);
* fixed points and their linearisation: `steady_state`, `linear_response`,
  `stability`, `paradoxical_response`;
* the PyTorch twin of a rate network, `RateModel` (trajectories, steady
  states differentiable by implicit differentiation), and `fit`, returning
  a `FitResult`.

The PyTorch parts load on first use (``frbrian.RateModel``, or ``from
frbrian.torch_model import RateModel``), so ``import frbrian`` works without
torch; using them without it raises an ImportError that says ``pip install
lut4brian[fit]``. They are not in ``__all__``, so ``from frbrian import *``
never needs torch.
"""

from .rate_network import RateNetwork
from .bridges import PopulationRate, poisson_spikes, population_rate, rate_input
from .analysis import SteadyState, SteadyStateError, linear_response, paradoxical_response, stability, steady_state
from .coupling import Coupling, DenseCoupling
from .grid import Grid
from .kernels import Exponential, Gaussian, Kernel, ResolutionWarning, WrappedGaussian
from .transfer import Transfer, power_law, rectified_tanh, sigmoid, threshold_linear, transfer_function

# name -> module, imported on first access (they need torch)
_LAZY = {"RateModel": "torch_model", "TorchTransfer": "torch_transfer", "fit": "fitting", "FitResult": "fitting",
         "normalized_rms": "fitting"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Transfer", "power_law", "sigmoid", "rectified_tanh", "threshold_linear", "transfer_function",
    "Grid", "Kernel", "Gaussian", "WrappedGaussian", "Exponential", "Coupling", "DenseCoupling", "ResolutionWarning",
    "RateNetwork", "poisson_spikes", "rate_input", "population_rate", "PopulationRate",
    "SteadyState", "SteadyStateError", "steady_state", "linear_response", "stability", "paradoxical_response",
]
