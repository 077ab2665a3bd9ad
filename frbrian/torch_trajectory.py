"""
Trajectories of the PyTorch rate model, integrated by torchdiffeq: Brian2's
Euler step, fourth-order Runge-Kutta, and Dormand-Prince 5(4) with error
control, all differentiable by autograd and stopped by a
`frbrian.deadlines.deadline`.
"""

from .torch_required import torch, torchdiffeq
from .deadlines import check_time
from .newton import SteadyStateError
from .rate_arguments import seconds

__all__ = ["Trajectory"]

#: torchdiffeq's name for each method, and whether it takes fixed steps of dt.
METHODS = {"euler": ("euler", True), "rk4": ("rk4", True), "adaptive": ("dopri5", False)}
#: Outputs per call of odeint: torchdiffeq allocates all outputs of a call at once, so a long
#: trajectory is integrated in pieces (and stopped by a deadline before it would fill the memory).
OUTPUTS_PER_CALL = 1000


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
        torchdiffeq's solvers: ``'euler'`` is Brian2's ``euler`` step for
        step (the drive read at the start of each step); ``'rk4'`` a
        fourth-order Runge-Kutta step (Kutta's 3/8 rule) of the whole
        coupled system; ``'adaptive'`` Dormand-Prince 5(4) (``dopri5``)
        with error control (``rtol``, ``atol`` in Hz), its step size kept
        from one output to the next (within each `OUTPUTS_PER_CALL`
        outputs). All are differentiable by autograd.
    drive : tensor or callable, optional
        The input: a tensor of shape (..., types, size) (a batch of
        inputs), or a function of the time in seconds (a float) returning
        one.
    every : int
        Keep every ``every``-th step.

    Returns
    -------
    Trajectory
        ``(times, rates)``, the rates of shape (K, ..., types, size), the
        first one ``initial``.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use 'euler', 'rk4' or 'adaptive'.")
    duration, dt = float(seconds(duration, "duration")), float(seconds(dt, "dt"))
    steps = int(round(duration / dt))
    operator = model.operator()
    if callable(drive):
        source = lambda t: model.total_drive(drive(t), operator)
    else:
        fixed = model.total_drive(drive, operator)
        source = lambda t: fixed

    def derivative(t, r):
        check_time()
        return (model.rates_of(operator.apply(r) + source(float(t))) - r) / model.tau[:, None]

    r = model.initial if initial is None else torch.as_tensor(initial, dtype=model.drive.dtype,
                                                             device=model.drive.device)
    r = r + torch.zeros_like(source(0.0))  # the batch shape of the drive
    times = torch.arange(0, steps + 1, every, dtype=torch.float64) * dt
    # each piece in its own time from 0: float64 times k*dt, the same numbers as torchdiffeq's grid of
    # fixed steps, so that every output falls on a step
    piece = torch.arange(0, (OUTPUTS_PER_CALL + 1) * every, every, dtype=torch.float64) * dt
    states = [r[None]]
    for start in range(0, len(times) - 1, OUTPUTS_PER_CALL):
        offset, outputs = float(times[start]), min(OUTPUTS_PER_CALL, len(times) - 1 - start)
        shifted = lambda t, r, offset=offset: derivative(t + offset, r)
        states.append(_odeint(shifted, states[-1][-1], piece[:outputs + 1], method, dt, rtol, atol)[1:])
    return Trajectory(times.to(r.dtype), torch.cat(states))


def _odeint(derivative, r, times, method, dt, rtol, atol):
    name, fixed = METHODS[method]
    options = dict(step_size=dt) if fixed else {}
    try:
        rates = torchdiffeq.odeint(derivative, r, times, method=name, rtol=rtol, atol=atol, options=options)
    except AssertionError as error:  # torchdiffeq's "underflow in dt" when the rates run away
        raise SteadyStateError(f"The {method} integrator failed: {error}.") from error
    if not torch.isfinite(rates[-1]).all():
        raise SteadyStateError(f"The {method} integrator met a NaN or infinite rate.")
    return rates
