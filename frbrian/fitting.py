"""
Fitting a `frbrian.torch_model.RateModel` to data: scipy's SLSQP driven by
torch gradients, with free and fixed parameters, bounds, Dale's law, a
stability constraint, optionally the paradoxical (ISN) constraint, a weight
regulariser and user losses; several restarts, a time limit, progress, and a
result that never crashes on a numerical failure.

torch is needed (``pip install lut4brian[fit]``).
"""

import sys
import time

import numpy as np
import scipy.optimize

from .deadlines import TimeUp, check_time, deadline, time_is_up
from .fit_variables import FreeEntries, dale_signs
from .newton import SteadyStateError
from .torch_model import device_of
from .torch_required import torch

__all__ = ["fit", "FitResult", "normalized_rms"]

# What scipy sees for a failed evaluation (the history records inf): finite, so that SLSQP's line
# search backs off instead of turning the merit function into NaN.
_FAILED_LOSS = 1e10
_FAILED_CONSTRAINT = -1e3
_FEASIBLE = 1e-8  # constraint values down to -_FEASIBLE count as satisfied


def normalized_rms(prediction, target):
    """``|prediction - target| / |target|`` (2-norms): the RMS error in units of the data's RMS."""
    return torch.linalg.vector_norm(prediction - target) / torch.linalg.vector_norm(target)


class FitResult(scipy.optimize.OptimizeResult):
    """
    The outcome of `fit`: a `scipy.optimize.OptimizeResult` with scipy's
    names, and what a rate model adds.

    Attributes
    ----------
    x : ndarray
        The best feasible values of the free entries (SLSQP's variables).
    fun : float
        The best feasible total loss (``inf`` if no feasible point was met).
    nit : int
        SLSQP iterations over all restarts.
    success : bool
        Whether the restart that found the best point converged and the point is feasible (a
        later restart cut short by the time limit does not change it; the message says so).
    message : str
    params : dict
        The fitted parameters (those with free entries), whole, with their
        Brian2 units where they have one (``weights`` in 1/Hz, ``tau`` in s).
    model : `RateModel`
        The model, holding the best parameters; ``network()`` is it as a
        `frbrian.RateNetwork` for Brian2.
    seconds : float
    history : list of dict
        One entry per iteration: ``restart``, ``iteration``, ``loss``, ``best``.
    restarts : list of dict
        Per restart: ``start`` loss, final ``loss``, ``success``, ``message``, ``iterations``.
    failures : int
        Evaluations that failed numerically (no steady state, NaN), counted as infinite loss.
    """

    def network(self, **kwargs):
        """The fitted model as a `frbrian.RateNetwork` (``kwargs`` as for `RateModel.to_network`)."""
        return self.model.to_network(**kwargs)


def _target(target, device):
    array = np.asarray(target, dtype=float)
    if array.size == 0:
        raise ValueError("The data (target) are empty.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The data (target) contain NaN or infinite values "
                         f"({int(np.sum(~np.isfinite(array)))} of {array.size}).")
    if not np.any(array):
        raise ValueError("The data are all zero: the normalised RMS loss is undefined.")
    return torch.as_tensor(array, dtype=torch.float64, device=device)


def fit(model, target, predict=None, *, free, bounds=None, dale=None, stability_margin=0.0, paradoxical=False,
        inhibitory=None, regularization=0.0, losses=(), restarts=1, time_limit=None, max_iterations=200,
        tolerance=1e-10, progress=False, seed=0, device=None):
    """
    Fit the free parameters of ``model`` so that ``predict(model)`` matches
    ``target``, minimising ``normalized_rms(prediction, target) +
    regularization*sum(weights**2) + sum(loss(model, prediction, target) for
    loss in losses)`` with SLSQP (gradients by torch; steady states by
    implicit differentiation).

    Parameters
    ----------
    model : `RateModel`
        The start; it holds the best parameters when `fit` returns.
    target : array
        The data, in the units of the prediction (Hz for rates).
    predict : callable, optional
        ``predict(model) -> tensor`` of the target's shape; by default
        ``model.steady_rates()``.
    free : dict or list
        ``{'weights': True, 'kernel.sigma': mask, ...}``: the parameters
        (names from ``model.named_parameters()``) and, by a boolean mask,
        which of their entries to fit; all others stay fixed.
    bounds : dict, optional
        ``{name: (low, high)}``, each a number, an array of the parameter's
        shape, or None (unbounded); in the parameter's units (SI).
    dale : None, True, or sequence of +1/-1
        Dale's law on ``weights``: the outgoing weights (columns) of
        excitatory types stay >= 0, those of inhibitory types <= 0; True
        reads the signs from the start.
    stability_margin : float or None
        Constrains the largest real part of the eigenvalues of the
        linearised dynamics at ``model.reference()`` to at most
        ``-stability_margin`` (1/s); None drops the constraint.
    paradoxical : bool
        Also constrain the network to be inhibition-stabilised there: the
        mean rate of the ``inhibitory`` type (default: the first inhibitory
        type under ``dale``, else type 1) falls when its input rises.
    regularization : float
        Weight of the squared norm of ``weights`` in the loss.
    losses : sequence of callables
        More loss terms, ``loss(model, prediction, target) -> scalar tensor``.
    restarts : int
        Runs of SLSQP: the first from the model's values, the others from
        random points (seeded by ``seed``): uniform within finite bounds,
        else the start scaled by ``exp(N(0, 0.5))``.
    time_limit : float, optional
        Seconds for the whole call; the best feasible point so far is
        returned when it is reached. The time is checked inside the long
        loops (Newton steps, GMRES, integration steps, Arnoldi iteration,
        SLSQP iterations), so a fit overruns it by about one such step.
    max_iterations : int
        SLSQP iterations per restart.
    tolerance : float
        SLSQP's ``ftol``.
    progress : bool or callable
        True prints ``restart, iteration, loss, best`` to stderr each
        iteration; a callable is called with the history entry (a dict).
    device : str, optional
        Move the model there first ('cpu', 'cuda').

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        Before any work: data with NaN or not matching the prediction's
        shape, fewer data points than free parameters, unknown parameters,
        bounds with NaN or that exclude the start, a NaN or negative
        ``time_limit``, a non-finite ``regularization`` or
        ``stability_margin``.
    RuntimeError
        A device that is not available.

    Notes
    -----
    A numerical failure of an evaluation (no steady state, NaN, a singular
    system) counts as an infinite loss (scipy is given 1e10); the result
    holds the best feasible parameters met, never raising.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from frbrian import DenseCoupling, power_law
    >>> from frbrian.torch_model import RateModel
    >>> inputs = torch.tensor([[[1.0], [0.5]], [[2.0], [0.5]]])      # two inputs, one batch
    >>> respond = lambda m: m.steady_rates(drive=inputs)
    >>> truth = RateModel(DenseCoupling([[0.5, -1.0], [1.0, -1.5]], types=2), 0.01, power_law())
    >>> data = respond(truth).detach().numpy()                         # Hz, shape (2, 2, 1)
    >>> model = RateModel(DenseCoupling([[0.3, -0.6], [1.0, -1.5]], types=2), 0.01, power_law())
    >>> result = fit(model, data, respond, free={"weights": [[True, True], [False, False]]}, dale=True)
    >>> bool(result.success), result.fun < 1e-6
    (True, True)
    >>> np.round(np.asarray(result.params["weights"]), 3).tolist()
    [[0.5, -1.0], [1.0, -1.5]]
    """
    start_time = time.perf_counter()
    _check_numbers(time_limit=time_limit, stability_margin=stability_margin, regularization=regularization)
    if time_limit is not None and time_limit < 0:
        raise ValueError(f"time_limit must be a number of seconds >= 0 or None; got {time_limit!r}.")
    if device is not None:
        model.to(device_of(device))
    device = model.weights.device
    target = _target(target, device)
    predict = predict or (lambda m: m.steady_rates())
    variables = FreeEntries(model, free)
    if target.numel() < variables.size:
        raise ValueError(f"Fewer data points ({target.numel()}) than free parameters ({variables.size}): "
                         "fix some parameters or give more data.")
    signs = dale_signs(model, dale)
    low, high = variables.bounds(model, bounds, signs)
    start = variables.get()
    outside = np.flatnonzero((start < low) | (start > high))
    if len(outside):
        labels = variables.labels()
        details = "; ".join(f"{labels[k]} = {start[k]:.6g} not in [{low[k]:.6g}, {high[k]:.6g}]" for k in outside[:5])
        raise ValueError(f"The bounds (with Dale's law) exclude the start: {details}.")
    if paradoxical and inhibitory is None:
        inhibitory = int(np.flatnonzero(signs < 0)[0]) if signs is not None and np.any(signs < 0) else 1
    problem = _Problem(model, target, predict, variables, stability_margin, paradoxical, inhibitory,
                       regularization, losses, start_time, progress)
    rng = np.random.default_rng(seed)
    starts = [start] + [_random_start(start, low, high, rng) for _ in range(max(1, int(restarts)) - 1)]
    records = []
    with deadline(None if time_limit is None else start_time + time_limit):
        problem.check_shape()
        for number, x0 in enumerate(starts):
            problem.restart = number
            records.append(problem.minimize(x0, low, high, max_iterations, tolerance))
            if problem.timed_out:
                break
    stopped = problem.restart if problem.timed_out else None
    return problem.result(records, stopped, start, len(starts), time_limit)


def _check_numbers(**values):
    for name, value in values.items():
        if value is not None and not np.isfinite(float(value)):
            raise ValueError(f"{name} must be a finite number; got {value!r}.")


def _random_start(start, low, high, rng):
    finite = np.isfinite(low) & np.isfinite(high)
    x = start * np.exp(rng.normal(0.0, 0.5, start.shape)) + (start == 0) * rng.normal(0.0, 0.1, start.shape)
    x[finite] = rng.uniform(low[finite], high[finite])
    return np.clip(x, low, high)


class _Problem:
    """Loss, constraints and their gradients at a point, cached per point; the best feasible point so far."""

    def __init__(self, model, target, predict, variables, stability_margin, paradoxical, inhibitory,
                 regularization, losses, start_time, progress):
        self.model, self.target, self.predict, self.variables = model, target, predict, variables
        self.stability_margin, self.paradoxical, self.inhibitory = stability_margin, paradoxical, inhibitory
        self.regularization, self.losses = regularization, list(losses)
        self.start_time, self.progress = start_time, progress
        # constraints in units of the fastest time constant, so that SLSQP sees numbers of order one
        self.time_scale = float(model.tau.detach().min())
        self.cache, self.history = {}, []
        self.best_loss, self.best_x, self.best_restart = np.inf, None, None
        self.failures, self.last_failure, self.restart, self.iteration = 0, "", 0, 0
        self.timed_out = False

    @property
    def constrained(self):
        return self.stability_margin is not None or self.paradoxical

    def check_shape(self):
        """One prediction at the start: its shape must be the target's (skipped if it fails numerically)."""
        try:
            with torch.no_grad():
                shape = tuple(self.predict(self.model).shape)
        except (SteadyStateError, RuntimeError, ValueError, ArithmeticError, TimeUp):
            return
        if shape != tuple(self.target.shape):
            raise ValueError(f"The prediction has shape {shape} but the data have shape {tuple(self.target.shape)}.")

    def evaluate(self, x):
        key = x.tobytes()
        if key not in self.cache:
            try:
                check_time()
                self.variables.set(x)
                loss, gradient = self._loss()
                check_time()  # the constraints (a dense eigenproblem) can take as long as the loss
                constraints = self._constraints() if self.constrained else (np.zeros(0), np.zeros((0, len(x))))
            except TimeUp:  # a failed point, not cached; the next callback stops SLSQP
                self.timed_out = True
                count = (self.stability_margin is not None) + bool(self.paradoxical)
                return np.inf, np.zeros(len(x)), np.full(count, _FAILED_CONSTRAINT), np.zeros((count, len(x)))
            if len(self.cache) > 64:
                self.cache.clear()
            self.cache[key] = (loss, gradient) + constraints
            if np.isfinite(loss) and np.all(constraints[0] >= -_FEASIBLE) and loss < self.best_loss:
                self.best_loss, self.best_x, self.best_restart = loss, x.copy(), self.restart
        return self.cache[key]

    def _failed(self, error):
        self.failures += 1
        self.last_failure = f"{type(error).__name__}: {error}"

    def _value_and_gradient(self, compute, what, failed_value):
        """``compute(model)`` and its gradient on the free variables; a numerical failure is recorded
        and gives ``failed_value`` with a zero gradient."""
        self.model.zero_grad(set_to_none=True)
        try:
            with torch.enable_grad():
                value = compute(self.model)
                if not torch.isfinite(value):
                    raise FloatingPointError(f"the {what} is NaN or infinite")
                value.backward()
            gradient = self.variables.gradient()
            if not np.all(np.isfinite(gradient)):
                raise FloatingPointError(f"the gradient of the {what} is NaN or infinite")
            return float(value.detach()), gradient
        except (SteadyStateError, RuntimeError, ValueError, ArithmeticError) as error:
            self._failed(error)
            return failed_value, np.zeros(self.variables.size)

    def _loss(self):
        def loss_of(model):
            prediction = self.predict(model)
            loss = normalized_rms(prediction, self.target)
            if self.regularization:
                loss = loss + self.regularization * (model.weights**2).sum()
            for term in self.losses:
                loss = loss + term(model, prediction, self.target)
            return loss

        return self._value_and_gradient(loss_of, "loss", np.inf)

    def _constraints(self):
        """Values (>= 0 when satisfied) and gradients of the stability and paradoxical constraints."""
        terms = []
        if self.stability_margin is not None:
            terms.append(lambda m: -(m.largest_real_eigenvalue() + self.stability_margin) * self.time_scale)
        if self.paradoxical:
            terms.append(lambda m: -m.paradoxical_response(inhibitory=self.inhibitory))
        results = [self._value_and_gradient(term, "constraint", _FAILED_CONSTRAINT) for term in terms]
        return np.array([v for v, _ in results]), np.array([g for _, g in results]).reshape(len(terms), -1)

    def loss_at(self, x):
        return self.evaluate(x)[0]

    def _callback(self, x):
        self.iteration += 1
        entry = dict(restart=self.restart, iteration=self.iteration, loss=self.loss_at(x), best=self.best_loss)
        self.history.append(entry)
        if callable(self.progress):
            self.progress(entry)
        elif self.progress:
            print(f"restart {entry['restart']}  iteration {entry['iteration']:4d}  loss {entry['loss']:.6g}  "
                  f"best {entry['best']:.6g}", file=sys.stderr, flush=True)
        if self.timed_out or time_is_up():
            self.timed_out = True
            raise StopIteration  # SLSQP ends here and returns

    def _message(self, records, stopped, planned, time_limit):
        """What happened, each event said once: the best point's restart, and where the time ran out."""
        stop = None if stopped is None else (f"the time limit of {time_limit:g} s was reached in restart "
                                             f"{stopped + 1} of {planned}")
        if self.best_x is None:
            message = "no feasible point with a finite loss was found; the start is returned"
            if self.last_failure:
                message += f" (last failure: {self.last_failure})"
            return message if stop is None else f"{stop}; {message}"
        best = f"restart {self.best_restart + 1} of {planned}"
        if stopped == self.best_restart:
            return f"{stop}; the best feasible point met so far, in that restart, is returned"
        message = f"the best feasible point is from {best}, which ended: {records[self.best_restart]['message']}"
        return message if stop is None else f"{message}; then {stop}"

    def minimize(self, x0, low, high, max_iterations, tolerance):
        """One run of SLSQP from ``x0``: its record (``loss``, ``success``, ``message``, ``iterations``, ``start``)."""
        first, start = self.iteration, self.loss_at(x0)
        stopped = dict(loss=self.best_loss, success=False, message="stopped by the time limit", start=np.nan)
        if self.timed_out:
            return dict(stopped, iterations=0)
        loss = lambda x: min(self.evaluate(x)[0], _FAILED_LOSS)
        jacobian = lambda x: self.evaluate(x)[1]
        constraints = ([dict(type="ineq", fun=lambda x: self.evaluate(x)[2], jac=lambda x: self.evaluate(x)[3])]
                       if self.constrained else [])
        bounds = scipy.optimize.Bounds(low, high)
        outcome = scipy.optimize.minimize(loss, x0, jac=jacobian, method="SLSQP", bounds=bounds,
                                          constraints=constraints, callback=self._callback,
                                          options=dict(maxiter=max_iterations, ftol=tolerance))
        if self.timed_out:
            return dict(stopped, iterations=self.iteration - first)
        x = np.clip(outcome.x, low, high)
        value, _, constraint, _ = self.evaluate(x)
        feasible = np.isfinite(value) and np.all(constraint >= -_FEASIBLE)
        message = outcome.message if feasible else f"{outcome.message} (the final point is not feasible)"
        return dict(loss=value, success=bool(outcome.success and feasible), message=message,
                    iterations=self.iteration - first, start=start)

    def result(self, records, stopped, start, planned, time_limit):
        best_x = self.best_x if self.best_x is not None else start
        self.variables.set(best_x)
        for parameter in self.model.parameters():  # back to a plain module: every parameter differentiable
            parameter.grad = None
            parameter.requires_grad_(True)
        # success describes the best point: its restart converged (a later one cut short by the
        # time limit does not undo that; the message says so)
        success = self.best_x is not None and bool(records[self.best_restart]["success"])
        message = self._message(records, stopped, planned, time_limit)
        fitted = {name for name, _, _ in self.variables.entries}
        params = {name: value for name, value in self.model.parameters_with_units().items() if name in fitted}
        return FitResult(x=np.array(best_x), fun=float(self.best_loss), nit=self.iteration, success=success,
                         message=message, params=params, seconds=time.perf_counter() - self.start_time,
                         history=self.history, model=self.model, restarts=records, failures=self.failures)
