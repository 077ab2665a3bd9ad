"""
Time limits for the long loops of frbrian's PyTorch code (Newton steps,
GMRES, integration steps, Arnoldi iteration): `frbrian.fit`'s
``time_limit`` reaches inside one evaluation through them.
"""

import contextlib
import time

__all__ = ["TimeUp", "deadline"]


class TimeUp(Exception):
    """A computation ran past the deadline set by `deadline` (`frbrian.fit`'s ``time_limit``)."""


_DEADLINE = [None]  # time.perf_counter() value; a list, so that autograd's threads see it too


@contextlib.contextmanager
def deadline(when):
    """
    Within this block, the long loops of frbrian's torch code (Newton steps,
    GMRES, integration steps, Arnoldi iteration) raise `TimeUp` once
    ``time.perf_counter()`` passes ``when`` (None: never).
    """
    previous, _DEADLINE[0] = _DEADLINE[0], when
    try:
        yield
    finally:
        _DEADLINE[0] = previous


def time_is_up():
    """Whether the deadline of an enclosing `deadline` block has passed."""
    return _DEADLINE[0] is not None and time.perf_counter() > _DEADLINE[0]


def check_time():
    """Raise `TimeUp` if the deadline of an enclosing `deadline` block has passed."""
    if time_is_up():
        raise TimeUp
