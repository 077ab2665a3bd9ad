"""
Trajectories of the PyTorch rate model: Brian2's Euler step, classical
Runge-Kutta, and Dormand-Prince 5(4) with error control, all differentiable
by autograd and stopped by a `frbrian.deadlines.deadline`.
"""

import numpy as np

from .torch_required import torch
from .deadlines import check_time
from .newton import SteadyStateError
from .rate_arguments import seconds

__all__ = ["Trajectory"]


class Trajectory(tuple):
    """``(times, rates)``: times in seconds, shape (K,); rates in Hz, shape (K, ..., types, size)."""

    def __new__(cls, times, rates):
        return super().__new__(cls, (times, rates))

    times = property(lambda self: self[0])
    rates = property(lambda self: self[1])


def trajectory(model, duration, dt, method="euler", initial=None, drive=None, every=1, rtol=1e-8, atol=1e-10):
    """
    Integrate from ``initial`` (default: the model's) for ``duration``.

    Parameters
    ----------
    duration, dt : `Quantity` or float (seconds)
        ``dt`` is the step of the fixed-step methods and the interval
        between outputs of the adaptive one.
    method : {'euler', 'rk4', 'adaptive'}
        ``'euler'`` is Brian2's ``euler`` step for step; ``'rk4'`` the
        classical Runge-Kutta step of the whole coupled system;
        ``'adaptive'`` Dormand-Prince 5(4) with error control
        (``rtol``, ``atol`` in Hz). All are differentiable by autograd.
    drive : tensor or callable, optional
        The input: a tensor of shape (..., types, size) (a batch of
        inputs), or a function of the time in seconds returning one.
    every : int
        Keep every ``every``-th step.

    Returns
    -------
    Trajectory
        ``(times, rates)``, the rates of shape (K, ..., types, size), the
        first one ``initial``.
    """
    duration, dt = float(seconds(duration, "duration")), float(seconds(dt, "dt"))
    steps = int(round(duration / dt))
    operator = model.operator()
    if callable(drive):
        source = lambda t: model.total_drive(drive(t), operator)
    else:
        fixed = model.total_drive(drive, operator)
        source = lambda t: fixed

    def derivative(t, r):
        return (model.rates_of(operator.apply(r) + source(t)) - r) / model.tau[:, None]

    r = model.initial if initial is None else torch.as_tensor(initial, dtype=model.drive.dtype,
                                                             device=model.drive.device)
    r = r + torch.zeros_like(source(0.0))  # the batch shape of the drive
    step = {"euler": _euler, "rk4": _rk4, "adaptive": None}.get(method, False)
    if step is False:
        raise ValueError(f"Unknown method {method!r}: use 'euler', 'rk4' or 'adaptive'.")
    states, times = [r], [0.0]
    for k in range(steps):
        check_time()
        t = k * dt
        r = step(derivative, t, r, dt) if step else _adaptive(derivative, t, r, dt, rtol, atol)
        if (k + 1) % every == 0:
            states.append(r)
            times.append(t + dt)
    return Trajectory(torch.tensor(times, dtype=r.dtype), torch.stack(states))

# fixed points ---------------------------------------------------------------------------------


def _euler(derivative, t, r, dt):
    return r + dt * derivative(t, r)


def _rk4(derivative, t, r, dt):
    k1 = derivative(t, r)
    k2 = derivative(t + dt / 2, r + dt / 2 * k1)
    k3 = derivative(t + dt / 2, r + dt / 2 * k2)
    k4 = derivative(t + dt, r + dt * k3)
    return r + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980)
_DP_C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
_DP_A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
         [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
         [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
         [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_DP_B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
_DP_B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]


def _adaptive(derivative, t, r, interval, rtol, atol, max_steps=10000):
    """Integrate over one output interval with Dormand-Prince steps; step sizes are chosen without gradient."""
    end, h = t + interval, interval
    for _ in range(max_steps):
        check_time()
        if t >= end - 1e-15 * max(1.0, abs(end)):
            return r
        h = min(h, end - t)
        k = []
        for c, a in zip(_DP_C, _DP_A):
            k.append(derivative(t + c * h, r + h * sum(ai * ki for ai, ki in zip(a, k)) if a else r))
        high = r + h * sum(b * ki for b, ki in zip(_DP_B5, k) if b)
        low = r + h * sum(b * ki for b, ki in zip(_DP_B4, k) if b)
        with torch.no_grad():
            scale = atol + rtol * torch.maximum(r.abs(), high.abs())
            error = float(torch.sqrt(torch.mean(((high - low) / scale) ** 2)))
        if not np.isfinite(error):
            raise SteadyStateError("The adaptive integrator met a NaN or infinite rate.")
        if error <= 1.0:
            t, r = t + h, high
        h = h * min(5.0, max(0.2, 0.9 * (error + 1e-16) ** -0.2))
    raise SteadyStateError(f"The adaptive integrator needed more than {max_steps} steps for one interval.")
