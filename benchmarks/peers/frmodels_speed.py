"""
fr-models' own speed test (its README's "Speed" section, ``test/speed.py``
in its repository), run by fr-models itself in its own venv
(``benchmarks/peers/setup`` makes ``benchmarks/peers/.venv-frmodels``).

    benchmarks/peers/.venv-frmodels/bin/python benchmarks/peers/frmodels_speed.py \\
        --params PARAMS.json --grid N [--repeats 3] [--out DR.npz]

As in that test: a ``GaussianSSNModel`` (two cell types, E and I, Gaussian
kernels, power law f(u) = [u]+^2, non-periodic) on a grid of N points on
[-1, 1]; its numerical model, linearised nothing: ``nonlinear_perturbed_model(r_star)``;
a point input ``amplitude`` to E at the middle (``get_h``); the response
``delta_r`` after integrating 500 tau (``rtol=1e-5, atol=1e-7``, torchdiffeq's
dopri5 without fr-models' default cap of 100 steps), in torch's default
float32 like the test. The time of one run is set-up plus response;
the line reports the best and all of ``--repeats``. ``PARAMS.json`` holds
``W_pop``, ``sigma``, ``r_star`` and ``amplitude`` (written by
``benchmarks/frmodels_response.py --peer``, so both programs solve the same
model). Prints one JSON line; ``--out`` saves ``dr`` (shape (2, N)).
"""

import argparse
import json
import platform
import time
from importlib import metadata

import numpy as np
import torch
from fr_models import analytic_models, gridtools, response_models

#: fr-models 0.1.14 caps the adaptive solver at 100 steps unless told otherwise (the
#: speed test predates the cap; 500 tau need more here); torchdiffeq's own default is 2**31 - 1.
MAX_STEPS = 2**31 - 1


def response(params, points, dtype, device="cpu"):
    W = torch.tensor(params["W_pop"], dtype=dtype, device=device)
    sigma = torch.tensor(params["sigma"], dtype=dtype, device=device)[..., None]  # one spatial dimension
    r_star = torch.tensor(params["r_star"], dtype=dtype, device=device)
    model = analytic_models.GaussianSSNModel(W, sigma, w_dims=[])
    grid = gridtools.Grid([2.0], (points,), w_dims=[], device=device)  # linspace(-1, 1, points)
    perturbed = model.numerical_model(grid).nonlinear_perturbed_model(r_star)
    delta_h = response_models.get_h(perturbed, torch.tensor(params["amplitude"], dtype=dtype, device=device), 0)
    delta_r0 = torch.tensor(0.0, dtype=dtype, device=device)
    with torch.no_grad():
        delta_r, _ = perturbed(delta_h, delta_r0, torch.tensor(500.0, dtype=dtype, device=device),
                               rtol=1e-5, atol=1e-7, options={"max_num_steps": MAX_STEPS})
    return delta_r.detach().cpu().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", required=True)
    parser.add_argument("--grid", type=int, default=1501)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    with open(args.params) as handle:
        params = json.load(handle)
    dtype = getattr(torch, args.dtype)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        dr = response(params, args.grid, dtype)
        times.append(time.perf_counter() - start)
    if args.out:
        np.savez(args.out, dr=dr)
    centre = dr[:, args.grid // 2]
    print(json.dumps({"program": "fr-models", "grid": args.grid, "neurons": 2 * args.grid, "dtype": args.dtype,
                      "torch_threads": torch.get_num_threads(), "seconds": min(times), "times": times,
                      "centre": [float(centre[0]), float(centre[1])],
                      "versions": {"python": platform.python_version(),
                                   **{name: metadata.version(name) for name in ("fr-models", "torch", "numpy")}}}))


if __name__ == "__main__":
    main()
