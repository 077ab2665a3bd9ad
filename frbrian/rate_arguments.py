"""
The checks of a rate network's arguments, shared by `frbrian.RateNetwork`
(Brian2) and `frbrian.torch_model.RateModel` (PyTorch) and by the functions
of `frbrian.analysis`, so that both say the same about the same mistake.
"""

import numpy as np
from brian2.units.allunits import second
from brian2.units.fundamentalunits import Quantity, fail_for_dimension_mismatch

from .transfer import transfer_function

__all__ = []


def names_of(names, types):
    """The cell type names: the given ones (one per type) or ``type0, type1, ...``."""
    names = list(names) if names is not None else [f"type{k}" for k in range(types)]
    if len(names) != types:
        raise ValueError(f"Give one name per cell type ({types}); got {names}.")
    return names


def per_type(value, types, what):
    """One value per cell type: the list as given, or one value repeated."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * types
    if len(values) != types:
        raise ValueError(f"Give one {what}, or one per cell type ({types}); got {len(values)}.")
    return values


def transfers_of(transfer, types):
    """One `frbrian.Transfer` per cell type."""
    return [transfer_function(f) for f in per_type(transfer, types, "transfer function")]


def seconds(value, what):
    """A time as float seconds (an array for a list): a `Quantity` in seconds, or plain numbers taken as seconds."""
    if isinstance(value, (list, tuple)):
        return np.array([float(seconds(v, what)) for v in value])
    if isinstance(value, Quantity):
        fail_for_dimension_mismatch(value, second, what)
        return np.asarray(value / second, dtype=float)
    return np.asarray(value, dtype=float)


def time_constants(tau, types, plain_seconds=False):
    """
    One time constant per cell type, as given (Quantities), each checked:
    in seconds (plain numbers are taken as seconds with ``plain_seconds``),
    positive and finite.
    """
    taus = per_type(tau, types, "tau")
    for value in taus:
        if plain_seconds:
            value = seconds(value, "The time constants tau")
        else:
            fail_for_dimension_mismatch(value, second, "The time constants tau")
        if not (np.all(np.asarray(value, dtype=float) > 0) and np.all(np.isfinite(np.asarray(value, dtype=float)))):
            raise ValueError(f"The time constants tau must be positive and finite: give one positive tau (finite), "
                             f"or one per cell type ({types}); got {tau}.")
    return taus


def check_shape(value, what, types, size):
    """A number or array that must broadcast to ``(types, size)`` (expressions, as strings, pass)."""
    if isinstance(value, str):
        return
    try:
        if np.broadcast_shapes(np.shape(value), (types, size)) == (types, size):
            return
    except ValueError:
        pass
    raise ValueError(f"The {what} must be one value or broadcast to shape (types, size) = {(types, size)}; got shape "
                     f"{np.shape(value)}.")


def check_finite(what, value):
    """NaN or inf in a numeric argument would turn every unit it reaches into NaN, silently."""
    if isinstance(value, str):
        return
    bad = ~np.isfinite(np.asarray(value, dtype=float))
    if bad.any():
        raise ValueError(f"The {what} contains NaN or infinite values ({int(bad.sum())} of {bad.size}).")
