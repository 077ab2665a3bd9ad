"""
Brian2's COBAHH network (examples/COBAHH.py) run with its exact equations and
with lut4brian's tables, side by side in one process.

    python benchmarks/cobahh.py --target {numpy,cython,cpp_standalone,cuda_standalone} \\
        --neurons 4000 --duration-ms 200 [--repeats 3]

Prints one JSON line. Times are medians of the simulation alone (for
cpp_standalone the network's run inside the binary, as Brian2 records it in
``results/last_run_info.txt``); the two variants alternate ``--repeats``
times so that their ratio holds on a noisy machine, and ``speedup`` is the
median of the per-repeat ratios. Compilation is reported apart (``build_s``).
For numpy, the exact equations are timed with Brian2's default preferences
(``exact_default_s``) and with ``discard_units = True`` (``exact_s``);
``speedup`` is against the faster of the two in each repeat,
``speedup_vs_default`` against the default.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
from brian2 import SpikeMonitor, defaultclock, device, mV, ms, prefs, set_device
from brian2.core.functions import DEFAULT_FUNCTIONS

from lut4brian import models, tabulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def variants(step_mV, method):
    """The exact model with Brian2's exponential_euler; the tabulated one with ``method``."""
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV, step_mV * mV), namespace=namespace)
    return {"exact": (equations, namespace, "exponential_euler"), "lut": (lut, namespace, method)}


def max_dv_first_5ms(trace_exact, trace_lut):
    first = trace_exact.t < 5 * ms
    return float(np.max(np.abs(trace_exact.v[:, first] - trace_lut.v[:, first])) / mV)


def timed_runs(run, names, repeats):
    """Alternate the variants; per-variant medians and the per-repeat times."""
    times = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            times[name].append(run(name))
    return {name: float(np.median(t)) for name, t in times.items()}, times


def median_ratio(times, exact, lut="lut"):
    return float(np.median(np.array(times[exact]) / np.array(times[lut])))


def numpy_discard_units(discard):
    """
    Set ``prefs.codegen.runtime.numpy.discard_units`` as if it had been set
    before Brian2 was imported: Brian2 wraps the numpy versions of exprel,
    expm1 and log1p at import time, so they are wrapped again here.
    """
    prefs.codegen.runtime.numpy.discard_units = discard
    for name in ("exprel", "expm1", "log1p"):
        function = DEFAULT_FUNCTIONS[name]
        function.implementations.add_numpy_implementation(function.pyfunc, discard_units=discard)


def bench_runtime(args, duration):
    prefs.codegen.target = args.target
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    nets = {}
    build_s = 0.0
    for name, (equations, namespace, method) in variants(args.step_mv, args.method).items():
        nets[name] = models.cobahh_network(equations, namespace, args.neurons, args.record, method=method)
        start = time.time()
        nets[name][0].run(defaultclock.dt)  # compiles (cython) outside the timed runs
        build_s += time.time() - start
        nets[name][0].store()

    def run(name):
        if args.target == "numpy":
            numpy_discard_units(name != "exact_default")
        net = nets["exact" if name == "exact_default" else name][0]
        net.restore()
        start = time.time()
        net.run(duration)
        return time.time() - start

    names = ["exact", "lut"] + (["exact_default"] if args.target == "numpy" else [])
    medians, times = timed_runs(run, names, args.repeats)
    result = dict(exact_s=medians["exact"], lut_s=medians["lut"], speedup=median_ratio(times, "exact"),
                  build_s=build_s)
    if args.target == "numpy":
        # exact_s is with discard_units = True; the speed-up counts against the faster exact run.
        faster = {"exact_fastest": list(np.minimum(times["exact"], times["exact_default"])), "lut": times["lut"]}
        result.update(exact_default_s=medians["exact_default"], speedup=median_ratio(faster, "exact_fastest"),
                      speedup_vs_default=median_ratio(times, "exact_default"))
    result.update(outcome(nets))
    return result


def outcome(nets):
    (_, sp_e, tr_e), (_, sp_l, tr_l) = nets["exact"], nets["lut"]
    return dict(spikes_exact=int(sp_e.num_spikes), spikes_lut=int(sp_l.num_spikes),
                max_dv_first_5ms_mV=max_dv_first_5ms(tr_e, tr_l))


def bench_standalone(args, duration):
    workdir = tempfile.mkdtemp(prefix="lut4brian_bench_")
    nets, dirs, build_s = {}, {}, 0.0
    try:
        for name, (equations, namespace, method) in variants(args.step_mv, args.method).items():
            dirs[name] = os.path.join(workdir, name)
            set_device(args.target, directory=dirs[name], build_on_run=False)
            defaultclock.dt = args.dt_ms * ms  # device.reinit() resets it
            nets[name] = models.cobahh_network(equations, namespace, args.neurons, args.record, method=method)
            nets[name][0].run(duration)
            start = time.time()
            device.build(directory=dirs[name], compile=True, run=True, with_output=False)
            build_s += time.time() - start - device.timers["run_binary"]
            nets[name] = (None,) + tuple(_Fetched(mon) for mon in nets[name][1:])
            device.reinit()
            device.activate()

        def run(name):
            subprocess.run(["./main"], cwd=dirs[name], check=True, stdout=subprocess.DEVNULL)
            # The network's own run time, as Brian2 measures it: the simulation
            # without loading the arrays and writing the results.
            with open(os.path.join(dirs[name], "results", "last_run_info.txt")) as info:
                return float(info.read().split()[0])

        medians, times = timed_runs(run, ["exact", "lut"], args.repeats)
        result = dict(exact_s=medians["exact"], lut_s=medians["lut"], speedup=median_ratio(times, "exact"),
                      build_s=build_s)
        result.update(outcome(nets))
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Fetched:
    """A monitor's results, kept after the standalone device is reset."""

    def __init__(self, monitor):
        if isinstance(monitor, SpikeMonitor):
            self.num_spikes = monitor.num_spikes
        else:
            self.t, self.v = monitor.t[:], monitor.v[:]




def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone", "cuda_standalone"],
                        default="cython", help="cuda_standalone needs brian2cuda and a GPU")
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dt-ms", type=float, default=0.01)
    parser.add_argument("--step-mv", type=float, default=0.1, help="table grid step in mV")
    parser.add_argument("--method", choices=["exponential_euler", "lut_exponential_euler"],
                        default="exponential_euler", help="integrator of the tabulated model")
    parser.add_argument("--record", type=int, default=10, help="neurons whose v is compared")
    args = parser.parse_args()
    defaultclock.dt = args.dt_ms * ms
    duration = args.duration_ms * ms
    if args.target == "cuda_standalone":
        import brian2cuda  # noqa: F401 (registers the device)
    bench = bench_standalone if args.target.endswith("_standalone") else bench_runtime
    result = dict(target=args.target, method=args.method, neurons=args.neurons, duration_ms=args.duration_ms,
                  dt_ms=args.dt_ms, step_mV=args.step_mv, repeats=args.repeats)
    result.update(bench(args, duration))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
