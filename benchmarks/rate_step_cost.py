"""
The cost of one simulation step of a kernel-coupled rate network against a
Hodgkin-Huxley group of as many units, on one Brian2 target.

    python benchmarks/rate_step_cost.py --target {numpy,cython,cpp_standalone} [--grid 1501] [--steps 2000]

The rate network is the 2-cell-type Gaussian SSN of
``benchmarks/frmodels_response.py`` on ``--grid`` points (2 x grid units,
FFT coupling); the HH group is Brian2's COBAHH neuron (``lut4brian.models
.cobahh``, exact equations, ``exponential_euler``, threshold and refractory
period, no synapses) with 2 x grid neurons. Both run ``--steps`` steps of
dt = 0.1 ms, alternating ``--repeats`` times; prints one JSON line with the
median time per step of each (code generation and compilation excluded; for
cpp_standalone the network's run inside the binary, from Brian2's
``results/last_run_info.txt``) and ``ratio`` = rate / HH, median of the
per-repeat ratios. On numpy both run with ``discard_units = True``. The
line is also appended, with the machine, the versions and the date, to
``benchmarks/results/rate_step_cost.jsonl`` (``--results``).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from brian2 import Hz, Network, NeuronGroup, defaultclock, device, ms, prefs, set_device
from brian2.devices.device import reinit_devices, reset_device

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402
from cobahh import numpy_discard_units  # noqa: E402
from frmodels_response import benchmark_model  # noqa: E402

from frbrian import RateNetwork, power_law  # noqa: E402
from lut4brian import models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DT = 0.1 * ms


def rate_network(points):
    coupling, baseline, drive = benchmark_model(points)
    return Network(RateNetwork(coupling, tau=[10 * ms, 10 * ms], transfer=power_law(), drive=drive,
                               names=["E", "I"], initial=baseline * Hz))


def hh_network(neurons):
    equations, namespace = models.cobahh()
    group = NeuronGroup(neurons, equations, threshold="v > -20*mV", refractory=3 * ms, method="exponential_euler",
                        namespace=namespace)
    group.v = "El + (randn()*5 - 5)*mV"
    return Network(group)


def bench_runtime(args, names, builders):
    prefs.codegen.target = args.target
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    if args.target == "numpy":
        numpy_discard_units(True)
    nets = {name: build() for name, build in zip(names, builders)}
    for net in nets.values():
        net.run(DT)  # code generation and compilation, outside the timed runs
        net.store()

    def run(name):
        nets[name].restore()
        start = time.perf_counter()
        nets[name].run(args.steps * DT)
        return time.perf_counter() - start

    return run


def bench_standalone(args, names, builders, workdir):
    directories = {}
    for name, build in zip(names, builders):
        directories[name] = os.path.join(workdir, name)
        set_device("cpp_standalone", directory=directories[name], build_on_run=False)
        defaultclock.dt = DT
        build().run(args.steps * DT)
        device.build(directory=directories[name], compile=True, run=False)
        reset_device("runtime")
        reinit_devices()

    def run(name):
        subprocess.run(["./main"], cwd=directories[name], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(directories[name], "results", "last_run_info.txt")) as info:
            return float(info.read().split()[0])

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="numpy")
    parser.add_argument("--grid", type=int, default=1501)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    record.add_argument(parser, "rate_step_cost")
    args = parser.parse_args()
    defaultclock.dt = DT
    names = ["rate", "hh"]
    builders = [lambda: rate_network(args.grid), lambda: hh_network(2 * args.grid)]
    workdir = tempfile.mkdtemp(prefix="frbrian_step_")
    try:
        if args.target == "cpp_standalone":
            run = bench_standalone(args, names, builders, workdir)
        else:
            run = bench_runtime(args, names, builders)
        times = {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:
                times[name].append(run(name))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    per_step = {name: float(np.median(t)) / args.steps * 1e6 for name, t in times.items()}
    ratio = float(np.median(np.array(times["rate"]) / np.array(times["hh"])))
    record.emit({"target": args.target, "grid": args.grid, "rate_units": 2 * args.grid, "hh_neurons": 2 * args.grid,
                 "steps": args.steps, "repeats": args.repeats, "rate_us_per_step": per_step["rate"],
                 "hh_us_per_step": per_step["hh"], "ratio": ratio}, args.results)


if __name__ == "__main__":
    main()
