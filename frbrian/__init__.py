"""
frbrian: firing-rate populations for Brian2 networks.

Built so far: transfer functions (`power_law`, `sigmoid`, `tanh`,
`threshold_linear`, or any expression in ``I``), regular 1-D/2-D grids with
translation-invariant kernels (`Gaussian`, `WrappedGaussian`, `Exponential`,
their sums and products) as dense matrices or FFT convolutions, coupling
between cell types (`Coupling`), and the analysis of fixed points
(`steady_state`, `linear_response`, `stability`, `paradoxical_response`),
and rate populations as Brian2 groups (`RateNetwork`). Bridges to spiking
groups and fitting with PyTorch are the next steps (see the issue tracker).
"""

from .brian import RateNetwork
from .analysis import SteadyState, SteadyStateError, linear_response, paradoxical_response, stability, steady_state
from .kernels import Coupling, DenseCoupling, Exponential, Gaussian, Grid, Kernel, WrappedGaussian
from .transfer import Transfer, power_law, sigmoid, tanh, threshold_linear, transfer_function

__all__ = [
    "Transfer", "power_law", "sigmoid", "tanh", "threshold_linear", "transfer_function",
    "Grid", "Kernel", "Gaussian", "WrappedGaussian", "Exponential", "Coupling", "DenseCoupling",
    "RateNetwork", "SteadyState", "SteadyStateError", "steady_state", "linear_response", "stability", "paradoxical_response",
]
