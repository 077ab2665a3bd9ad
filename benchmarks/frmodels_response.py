"""
fr-models' README speed test, with frbrian's steady-state solver.

    python benchmarks/frmodels_response.py --grid N [--out FILE.npz] [--peer]

Two cell types (E, I) on a non-periodic 1-D grid linspace(-1, 1, N),
Gaussian coupling ``W_pop[i,j] exp(-(x-y)^2/(2 sigma_ij^2))/sqrt(2 pi
sigma_ij^2) dx``, f(u) = [u]+^2, tau = 1; the uniform steady state r* held by
h* = sqrt(r*) - W r*; a point input to E at index N//2. The response
``dr = r - r*`` is the new steady state (fr-models integrates 500 tau to reach
it). Prints one JSON line, appends it with the machine, the versions and the
date to ``benchmarks/results/frmodels_response.jsonl`` (``--results``) and
saves ``dr`` (shape (2, N)) under ``dr`` (``--out``). The time is the best of
``--repeats``, model set-up included.

``--peer`` then runs fr-models' own speed test on the same model and grid
in fr-models' environment (``benchmarks/peers/frmodels_speed.py``, made by
``bash benchmarks/peers/setup``) and puts its result in the same line under
``frmodels``, with ``speedup_vs_frmodels`` (its best time over frbrian's) and
``max_abs_diff_frmodels`` (the largest difference of the two responses).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

from frbrian.analysis import steady_state  # noqa: E402
from frbrian import Coupling, Gaussian, Grid  # noqa: E402
from frbrian.transfer import power_law  # noqa: E402

W_POP = [[1.09546555, -0.89098157], [0.90011321, -0.28263247]]
SIGMA = [[0.2173913, 0.17391304], [0.17391304, 0.22608696]]
R_STAR = np.array([1.36740442, 1.0928196])
AMPLITUDE = 1.45305475949474


def benchmark_model(points):
    """The coupling, the baseline rates r* and the drive (h* plus the point input) on ``points`` grid points."""
    coupling = Coupling(Grid((points,)), W_POP, [[Gaussian(s) for s in row] for row in SIGMA])
    baseline = np.repeat(R_STAR[:, None], points, axis=1)
    drive = np.sqrt(baseline) - coupling(baseline)
    drive[0, points // 2] += AMPLITUDE
    return coupling, baseline, drive


def response(points):
    """The steady-state response of the fr-models benchmark model on ``points`` grid points."""
    coupling, baseline, drive = benchmark_model(points)
    fixed = steady_state(coupling, power_law(), drive, initial=baseline)
    return fixed.rates - baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, default=1501)
    parser.add_argument("--out", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", action="store_true", help="also run fr-models' speed test (its own venv)")
    record.add_argument(parser, "frmodels_response")
    args = parser.parse_args()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        dr = response(args.grid)
        times.append(time.perf_counter() - start)
    if args.out:
        np.savez(args.out, dr=dr)
    centre = dr[:, args.grid // 2]
    line = {"grid": args.grid, "neurons": 2 * args.grid, "repeats": args.repeats, "seconds": min(times),
            "centre": [float(centre[0]), float(centre[1])]}
    if args.peer:
        line.update(peer(args, dr, min(times)))
    record.emit(line, args.results)


def peer(args, dr, seconds):
    """fr-models' speed test on the same model, in its own environment."""
    folder = tempfile.mkdtemp(prefix="frmodels_peer_")
    params, out = os.path.join(folder, "params.json"), os.path.join(folder, "dr.npz")
    with open(params, "w") as handle:
        json.dump({"W_pop": W_POP, "sigma": SIGMA, "r_star": R_STAR.tolist(), "amplitude": AMPLITUDE}, handle)
    other = record.run_peer(".venv-frmodels", "frmodels_speed.py", "--params", params, "--grid", args.grid,
                            "--repeats", args.repeats, "--out", out)
    with np.load(out) as data:
        difference = float(np.max(np.abs(data["dr"] - dr)))
    return {"frmodels": other, "speedup_vs_frmodels": other["seconds"] / seconds, "max_abs_diff_frmodels": difference}


if __name__ == "__main__":
    main()
