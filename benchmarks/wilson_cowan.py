"""
PyRates' population benchmark model as one frbrian `RateNetwork` with dense
coupling, against a plain numpy loop.

    python benchmarks/wilson_cowan.py --target {numpy,cython,cpp_standalone} --n 2000 [--repeats 3] [--peer]

N Wilson-Cowan units, Euler with dt = 1 ms for 5 s, tau = 10 s::

    r <- r + dt*((1 - k*r)*m - r)/tau,   m = sigma(s*(W r + I_ext - theta)) - sigma(-s*theta)

with sigma the logistic function, k = 1 (1 s in frbrian's units: r is in
Hz), s = 1, theta = 2, I_ext = 0, ``W = default_rng(42).normal(0,
1/sqrt(N), (N, N))`` with its diagonal set to 15 (``W[target, source]``, in
1/Hz), and r(0) from U(0, 1) with ``default_rng(1)``.

Prints one JSON line ``{"target", "n", "build_s", "run_s", "total_s", ...}``:
the best of ``--repeats`` total times (network set-up, code generation and
compilation included), with that repeat's build and run times (for
cpp_standalone ``run_s`` is the binary's wall time, loading included), the plain
numpy loop's best time (``numpy_loop_s``) and ``max_rel_diff``, the largest
difference of r(T) from the numpy loop relative to max |r| (checked ≤ 1e-10).
The line is also appended, with the machine, the versions and the date, to
``benchmarks/results/wilson_cowan.jsonl`` (``--results``).

``--peer`` then runs PyRates' own benchmark of this network in PyRates'
environment (``benchmarks/peers/pyrates_wilson_cowan.py``, made by ``bash
benchmarks/peers/setup``) with the same weights and initial rates, in float32
and float64, and puts its result in the same line under ``pyrates``.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from brian2 import Hz, Network, defaultclock, device, prefs, second, set_device
from brian2.devices.device import reinit_devices, reset_device

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

from frbrian import DenseCoupling, RateNetwork, Transfer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DT, T, TAU, K, SLOPE, THETA = 1e-3, 5.0, 10.0, 1.0, 1.0, 2.0


def model(n):
    """The weights and the initial rates."""
    weights = np.random.default_rng(42).normal(0, 1 / np.sqrt(n), (n, n))
    np.fill_diagonal(weights, 15.0)
    return weights, np.random.default_rng(1).uniform(0, 1, n)


def numpy_loop(weights, r):
    offset = 1 / (1 + np.exp(SLOPE * THETA))
    for _ in range(round(T / DT)):
        m = 1 / (1 + np.exp(-SLOPE * (weights @ r - THETA))) - offset
        r = r + DT * ((1 - K * r) * m - r) / TAU
    return r


def frbrian_run(weights, r0):
    """Builds and runs the model on the current target; returns its group."""
    defaultclock.dt = DT * second
    transfer = Transfer(f"1/(1 + exp(-{SLOPE}*(I - {THETA}))) - 1/(1 + exp({SLOPE}*{THETA}))", name="wilson_cowan")
    net = RateNetwork(DenseCoupling(weights), tau=TAU * second, transfer=transfer, initial=r0 * Hz,
                      dynamics="-r + (1 - k*r)*F")
    Network(net).run(T * second, namespace={"k": K * second})
    return net.groups[0]


def bench(target, weights, r0):
    """One repeat: (build_s, run_s, total_s, final rates)."""
    start = time.perf_counter()
    if target == "cpp_standalone":
        directory = tempfile.mkdtemp(prefix="frbrian_wc_")
        try:
            set_device("cpp_standalone", directory=directory, build_on_run=True, with_output=False)
            group = frbrian_run(weights, r0)
            # wall time of the binary (last_run_info.txt holds CPU time, which counts every thread)
            run_s = device.timers["run_binary"]
            rates = np.array(group.r_)
        finally:
            reset_device("runtime")
            reinit_devices()
            shutil.rmtree(directory, ignore_errors=True)
        total = time.perf_counter() - start
        return total - run_s, run_s, total, rates
    prefs.codegen.target = target
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    group = frbrian_run(weights, r0)
    total = time.perf_counter() - start
    run_s = device._last_run_time  # Brian2's own measure of the simulation loop, set by Network.run
    return total - run_s, run_s, total, np.array(group.r_)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="numpy")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", action="store_true", help="also run PyRates' benchmark (its own venv)")
    record.add_argument(parser, "wilson_cowan")
    args = parser.parse_args()
    weights, r0 = model(args.n)
    loop_times, runs = [], []
    for _ in range(args.repeats):  # alternate, so that both see the same machine load
        start = time.perf_counter()
        reference = numpy_loop(weights, r0)
        loop_times.append(time.perf_counter() - start)
        runs.append(bench(args.target, weights, r0))
    build_s, run_s, total_s, rates = min(runs, key=lambda run: run[2])
    difference = float(np.max(np.abs(rates - reference)) / np.max(np.abs(reference)))
    line = {"target": args.target, "n": args.n, "repeats": args.repeats, "build_s": build_s, "run_s": run_s,
            "total_s": total_s, "numpy_loop_s": min(loop_times), "ratio_to_numpy_loop": total_s / min(loop_times),
            "max_rel_diff": difference}
    if args.peer:
        folder = tempfile.mkdtemp(prefix="pyrates_peer_")
        np.savez(os.path.join(folder, "model.npz"), W=weights, r0=r0)
        line["pyrates"] = record.run_peer(".venv-pyrates", "pyrates_wilson_cowan.py", "--model",
                                          os.path.join(folder, "model.npz"), "--repeats", args.repeats)
        shutil.rmtree(folder, ignore_errors=True)
    record.emit(line, args.results)
    if not difference <= 1e-10:
        raise SystemExit(f"r(T) differs from the numpy loop by {difference:.3g} (relative), more than 1e-10")


if __name__ == "__main__":
    main()
