"""
Fit the fr-models E/I Gaussian network (``benchmarks/frmodels_response.py``)
to a measured response, with frbrian's PyTorch fitter.

    python benchmarks/fit_response.py --make-data FILE.npz [--grid 101] [--noise 0.05] [--seed 0]
    python benchmarks/fit_response.py --data FILE.npz --grid 101 --out RESULT.json [--restarts 1] [--progress]
    python benchmarks/fit_response.py --time-gradient --grid 1501 [--device cuda]

FILE.npz holds ``x`` (distances from the stimulus, in grid units where the
grid spans [-1, 1]), ``y`` (the response Δr of the E cells there, Hz, to a
point input to the E cells at the grid middle) and ``r_star`` (the E and I
baseline rates, Hz). ``--make-data`` writes one from the known parameters of
frmodels_response.py (W_pop, sigma, amplitude), computed with
``frbrian.steady_state`` (numpy), at 12 distances 0, 0.04, ..., 0.44,
optionally with Gaussian noise of ``--noise`` times max|y|; the file also
keeps the true parameters under ``W_pop``, ``sigma`` and ``amplitude``, and
``noise`` (a fit's line reports ``data_noise``, ``data_amplitude`` and
``data_truth_loss``, the misfit of the true parameters: the noise alone).

The model: two cell types, power law f(u) = [u]+^2, tau = 1 s, Gaussian
kernels on a non-periodic grid of ``--grid`` points on [-1, 1]; the baseline
rates r* are held fixed (the input holding them follows W), and the point
input is ``amplitude`` at the middle unit of E. Free: W_pop (Dale's law: E
column >= 0, I column <= 0), sigma in [0.01, 0.5] per pair, amplitude > 0;
stability constraint on (at r*); ``--regularization`` adds a weight-norm
term to the loss (0 by default; the reported loss is the misfit alone). Start: W_pop = [[1, -1], [1, -0.5]],
sigma = 0.2, amplitude = 1; ``--restarts`` adds runs from random points.

Writes (and prints, one line) ``{"loss": normalised RMS of prediction - y,
"params": {"W_pop", "sigma", "amplitude"}, "seconds", "iterations",
"success", ...}``. ``--time-gradient`` instead times one steady-state
response with its gradient with respect to all parameters (best of
``--repeats``; the first, cold call is reported too). ``--device cuda`` runs
the model on the GPU (float64). The lines of a fit and of ``--time-gradient``
are appended, with the machine, the versions and the date, to
``benchmarks/results/fit_response.jsonl`` (``--results``).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from brian2 import Hz, second

from frbrian.fitting import fit, normalized_rms
from frbrian import Coupling, Gaussian, Grid
from frbrian.torch_model import RateModel
from frbrian.transfer import power_law
from frmodels_response import AMPLITUDE, R_STAR, SIGMA, W_POP, response

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

DISTANCES = 0.04 * np.arange(12)
START = dict(W_pop=[[1.0, -1.0], [1.0, -0.5]], sigma=[[0.2, 0.2], [0.2, 0.2]], amplitude=1.0)


def model_of(points, W_pop, sigma, amplitude, r_star, device=None):
    """The benchmark model as a RateModel: baseline r* held, point input to the middle E unit."""
    coupling = Coupling(Grid((points,)), W_pop, [[Gaussian(s) for s in row] for row in sigma])
    drive = np.zeros((2, points))
    drive[0, points // 2] = amplitude
    baseline = np.repeat(np.asarray(r_star, dtype=float)[:, None], points, axis=1) * Hz
    return RateModel(coupling, 1 * second, power_law(), drive=drive, names=["E", "I"], baseline=baseline,
                     device=device)


def sampler(x, points):
    """``model -> Δr_E at the distances x`` (linear interpolation between grid points), differentiable."""
    cell = 2.0 / (points - 1)
    position = np.asarray(x, dtype=float) / cell
    if np.any(position < 0) or np.any(position > points // 2):
        raise ValueError(f"The distances x must lie in [0, {points // 2 * cell:g}] (half the grid); "
                         f"got {np.min(x):g} to {np.max(x):g}.")
    low = np.minimum(np.floor(position).astype(int), points // 2 - 1)
    index = torch.as_tensor(points // 2 + low)
    weight = torch.as_tensor(position - low)

    def predict(model):
        change = (model.steady_rates(initial=model.baseline) - model.baseline)[0]
        at, w = index.to(change.device), weight.to(change.device)
        return change[at] * (1 - w) + change[at + 1] * w

    return predict


def load(path):
    with np.load(path) as data:
        missing = {"x", "y", "r_star"} - set(data.files)
        if missing:
            raise ValueError(f"{path} lacks {sorted(missing)}: it needs x, y and r_star.")
        x, y, r_star = (np.asarray(data[k], dtype=float) for k in ("x", "y", "r_star"))
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D arrays of the same length; got shapes {x.shape} and {y.shape}.")
    if r_star.shape != (2,):
        raise ValueError(f"r_star must hold the two baseline rates (E, I); got shape {r_star.shape}.")
    for name, value in (("x", x), ("y", y), ("r_star", r_star)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or infinite values.")
    if np.any(r_star <= 0):
        raise ValueError(f"The baseline rates r_star must be positive; got {r_star}.")
    return x, y, r_star


def make_data(path, points, noise, seed):
    change = response(points)[0]
    grid = np.linspace(-1, 1, points)
    y = np.interp(DISTANCES, grid[points // 2:] - grid[points // 2], change[points // 2:])
    y = y + noise * np.abs(y).max() * np.random.default_rng(seed).normal(size=y.shape)
    np.savez(path, x=DISTANCES, y=y, r_star=R_STAR, W_pop=W_POP, sigma=SIGMA, amplitude=AMPLITUDE, noise=noise,
             seed=seed)
    return dict(data=path, grid=points, points=len(y), noise=noise)


def run_fit(path, points, restarts=1, time_limit=55.0, progress=False, regularization=0.0, tolerance=1e-10,
            device=None):
    x, y, r_star = load(path)  # every check before any work
    model = model_of(points, START["W_pop"], START["sigma"], START["amplitude"], r_star, device)
    predict = sampler(x, points)
    amplitude = np.zeros((2, points), dtype=bool)
    amplitude[0, points // 2] = True
    result = fit(model, y, predict, free={"weights": True, "kernel.sigma": True, "drive": amplitude},
                 bounds={"kernel.sigma": (0.01, 0.5), "drive": (0.0, None)}, dale=[+1, -1], stability_margin=0.0,
                 regularization=regularization, restarts=restarts, time_limit=time_limit, progress=progress,
                 tolerance=tolerance)
    with torch.no_grad():  # the data misfit alone, without the regulariser
        prediction = predict(result.model)
        misfit = float(normalized_rms(prediction, torch.as_tensor(y, device=prediction.device)))
    params = dict(W_pop=np.asarray(result.params["weights"] / (1 / Hz)).tolist(),
                  sigma=result.params["kernel.sigma"].tolist(),
                  amplitude=float(result.params["drive"][0, points // 2]))
    with np.load(path) as data:  # what --make-data knew, if it made the file
        truth = {f"data_{key}": data[key].tolist() for key in ("noise", "amplitude") if key in data.files}
        if {"W_pop", "sigma", "amplitude"} <= set(data.files):  # the misfit of the true model: the noise alone
            true_model = model_of(points, data["W_pop"], data["sigma"], float(data["amplitude"]), r_star, device)
            with torch.no_grad():
                prediction = predict(true_model)
                truth["data_truth_loss"] = float(normalized_rms(prediction, torch.as_tensor(y, device=prediction.device)))
    return dict(action="fit", data=os.path.basename(path), **truth, loss=misfit, params=params, seconds=result.seconds,
                iterations=result.nit, success=result.success, message=result.message, grid=points,
                points=len(y), failures=result.failures, restarts=restarts, regularization=regularization,
                device=str(model.weights.device))


def synchronise(device):
    if torch.device(device or "cpu").type == "cuda":
        torch.cuda.synchronize()


def time_gradient(points, repeats, device=None):
    model = model_of(points, W_POP, SIGMA, AMPLITUDE, R_STAR, device)
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        change = model.steady_rates(initial=model.baseline) - model.baseline
        model.zero_grad()
        (change[0] ** 2).sum().backward()
        synchronise(device)
        times.append(time.perf_counter() - start)
    return dict(action="time_gradient", grid=points, neurons=2 * points, repeats=repeats,
                steady_state_and_gradient_s=min(times), first_call_s=times[0],
                centre=float(change[0, points // 2].detach()), device=str(model.weights.device))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--data", help="fit the response in this .npz file")
    action.add_argument("--make-data", help="write a data file from the known parameters")
    action.add_argument("--time-gradient", action="store_true", help="time a steady state with its gradient")
    parser.add_argument("--grid", type=int, default=101)
    parser.add_argument("--out", default=None, help="write the JSON result here")
    parser.add_argument("--restarts", type=int, default=1, help="more: random starts (slower)")
    parser.add_argument("--time-limit", type=float, default=55.0, help="seconds for the whole fit")
    parser.add_argument("--progress", action="store_true", help="print each iteration to stderr")
    parser.add_argument("--regularization", type=float, default=0.0,
                        help="weight of |W_pop|^2 in the loss (noisy data: the fit is ill-posed without it)")
    parser.add_argument("--tolerance", type=float, default=1e-10, help="SLSQP's ftol (noisy data: 1e-6)")
    parser.add_argument("--noise", type=float, default=0.0, help="--make-data: noise, in units of max|y|")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier timings)")
    parser.add_argument("--device", default="cpu", help="torch device of the model: cpu or cuda")
    record.add_argument(parser, "fit_response")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        if args.make_data:
            line = make_data(args.make_data, args.grid, args.noise, args.seed)
        elif args.time_gradient:
            line = time_gradient(args.grid, args.repeats, args.device)
        else:
            line = run_fit(args.data, args.grid, args.restarts, args.time_limit, args.progress, args.regularization,
                           args.tolerance, args.device)
    except (ValueError, OSError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(line, handle, indent=1)
    if args.make_data:  # data, not a measurement
        print(json.dumps(line))
    else:
        line = record.emit(dict(line, threads=args.threads), args.results)


if __name__ == "__main__":
    main()
