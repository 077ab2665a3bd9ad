"""
Newton's method with backtracking for the fixed point ``r = f(W r + h)``,
written once for numpy (`frbrian.steady_state`) and PyTorch
(`frbrian.torch_model.RateModel.steady_state`): both give it the residual
and the linear solve of their own arrays.
"""

import math

__all__ = ["SteadyStateError"]


class SteadyStateError(RuntimeError):
    """The steady-state solver did not converge."""


def _size(residual):
    return float(abs(residual).max())


def newton(residual_of, step_of, rates, tolerance=1e-10, max_iterations=60, check=lambda: None):
    """
    Solve ``residual_of(r) = 0`` from ``rates`` by Newton steps
    ``step_of(r, residual)``; a step that does not lower the largest
    residual is halved (up to 30 times).

    Parameters
    ----------
    residual_of : callable
        ``r -> r - f(W r + h)`` (numpy arrays or torch tensors).
    step_of : callable
        ``(r, residual) -> dr``, solving ``J dr = -residual``.
    tolerance : float
        The largest allowed ``|residual|``, relative to ``1 + max|r|``.
    check : callable
        Called before each evaluation (a time limit's check).

    Returns
    -------
    (rates, iterations, residual)
        The fixed point, the steps taken, and the largest ``|residual|``.

    Raises
    ------
    SteadyStateError
        On NaN or inf, or without convergence within ``max_iterations``.

    Examples
    --------
    >>> import numpy as np
    >>> rates, steps, residual = newton(lambda r: r - np.sqrt(r + 2), lambda r, res: -res / (1 - 0.5 / np.sqrt(r + 2)),
    ...                                 np.array([0.0]))
    >>> round(float(rates[0]), 12), residual < 1e-10
    (2.0, True)
    """
    residual = residual_of(rates)
    for iteration in range(max_iterations + 1):
        check()
        size = _size(residual)
        if not math.isfinite(size):
            raise SteadyStateError("The steady-state iteration met a NaN or infinite rate.")
        if size <= tolerance * (1 + _size(rates)):
            return rates, iteration, size
        if iteration == max_iterations:
            break
        step = step_of(rates, residual)
        for _ in range(30):  # backtracking: halve until the residual falls
            check()
            trial = residual_of(rates + step)
            if _size(trial) < size:
                break
            step = step / 2
        rates, residual = rates + step, trial
    raise SteadyStateError(
        f"No steady state within {max_iterations} Newton steps (residual {_size(residual):.3g}); the fixed point may "
        "not exist or be unstable: try another initial state or a smaller input.")
