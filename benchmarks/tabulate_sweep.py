"""
A parameter sweep that calls ``tabulate`` in its loop, as scripts do.

    python benchmarks/tabulate_sweep.py [--calls 2000] [--runs 5]

Part one tabulates Brian2's COBAHH equations ``--calls`` times, each with
another threshold ``VT``, and prints one JSON line with the memory the
process grew by (resident set, MB), the entries Brian2's default function
namespace gained, the median time per call over the first and the last 100
calls, and the time of a 0.1 ms ``run()`` of one tabulated neuron (numpy)
before and after the sweep. Part two runs ``--runs`` iterations of
tabulate + a 1 ms run of one neuron on cython, each with another ``VT``, and
prints the time of each iteration (the first one compiles). Lines are
appended, with machine, versions and date, to
``benchmarks/results/tabulate_sweep.jsonl`` (``--results``).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from brian2 import Network, NeuronGroup, mV, ms, nA, prefs
from brian2.core.functions import DEFAULT_FUNCTIONS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

from lut4brian import models, tabulate  # noqa: E402

GRID = (-100 * mV, 100 * mV, 0.1 * mV)


def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed_run(equations, namespace, duration):
    start = time.perf_counter()
    group = NeuronGroup(1, equations, method="exponential_euler", namespace=namespace)
    group.v, group.I = -65 * mV, 0.5 * nA
    Network(group).run(duration)
    return time.perf_counter() - start


def sweep_memory_and_time(calls):
    equations, namespace = models.cobahh()
    prefs.codegen.target = "numpy"
    timed_run(tabulate(equations, v=GRID, namespace=namespace), namespace, 0.1 * ms)  # warm-up
    run_before = timed_run(tabulate(equations, v=GRID, namespace=namespace), namespace, 0.1 * ms)
    memory, functions, per_call = resident_mb(), len(DEFAULT_FUNCTIONS), []
    for k in range(calls):
        start = time.perf_counter()
        tabulate(equations, v=GRID, namespace=dict(namespace, VT=(-63 + 1e-3 * k) * mV))
        per_call.append(time.perf_counter() - start)
    run_after = timed_run(tabulate(equations, v=GRID, namespace=namespace), namespace, 0.1 * ms)
    return {
        "case": "tabulate_sweep", "calls": calls,
        "memory_growth_mb": round(resident_mb() - memory, 1),
        "default_functions_added": len(DEFAULT_FUNCTIONS) - functions,
        "first_100_ms_per_call": round(1e3 * float(np.median(per_call[:100])), 2),
        "last_100_ms_per_call": round(1e3 * float(np.median(per_call[-100:])), 2),
        "run_before_s": round(run_before, 3), "run_after_s": round(run_after, 3),
    }


def sweep_on_cython(runs):
    equations, namespace = models.cobahh()
    prefs.codegen.target = "cython"
    prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="lut4brian_sweep_")  # starts cold
    times = []
    for k in range(runs):
        namespace = dict(namespace, VT=(-63 + 0.5 * k) * mV)
        start = time.perf_counter()
        timed_run(tabulate(equations, v=GRID, namespace=namespace), namespace, 1 * ms)
        times.append(round(time.perf_counter() - start, 3))
    return {"case": "tabulate_and_run_cython", "runs": runs, "iteration_s": times}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    record.add_argument(parser, "tabulate_sweep")
    args = parser.parse_args()
    record.emit(sweep_memory_and_time(args.calls), args.results)
    record.emit(sweep_on_cython(args.runs), args.results)


if __name__ == "__main__":
    main()
