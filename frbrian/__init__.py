"""
frbrian: firing-rate populations inside Brian2 networks.

Rate units with transfer functions, spatial kernels, fixed points and
stability, bridges to spiking groups, and fitting with PyTorch. This package
is being built; see the project's issue tracker.
"""

__all__ = []
