"""
Brian2's COBAHH network (examples/COBAHH.py) run with its exact equations and
with lut4brian's tables, side by side in one process.

    python benchmarks/cobahh.py --target {numpy,cython,cpp_standalone,cuda_standalone} \\
        [--method exponential_euler lut_exponential_euler] --neurons 4000 --duration-ms 200 [--repeats 3]

The variants, built with the same seed: ``exact`` (the exact equations,
Brian2's ``exponential_euler``), the tables of a 0.1 mV grid integrated with
each ``--method``, and the control (the exact equations integrated by
``exponential_euler_cse``: Brian2's ``exponential_euler`` with the same
removal of repeated subexpressions that ``lut_exponential_euler`` does,
``optimise_update(exponential_euler_updates(...))``), so that
``speedup_over_control`` tells how much of the speed-up the tables give
(``--no-control`` leaves it out).

Prints one JSON line per method and appends it, with the machine, the
versions and the date, to ``benchmarks/results/cobahh.jsonl``
(``--results``); with several methods the exact and control runs are shared
(the same numbers in each line). Times are
medians of the simulation alone (for the standalone targets the network's
run inside the binary, as Brian2 records it in
``results/last_run_info.txt``; the run at build time is the first repeat);
the variants alternate ``--repeats`` times so that their ratios hold on a
noisy machine, and every speed-up is the median of the per-repeat ratios.
Code generation and compilation are reported apart (``build_s``, all
variants together). On numpy every variant runs with ``discard_units =
True``; ``--default-units`` also times the exact equations with Brian2's
default preferences (``exact_default_s``, ``speedup_vs_default``), where
exprel checks units on every call and formats its argument for an error
message it then does not raise: numpy prints arrays of up to 1000 values in
full, so groups of up to 1000 neurons run some 30 times slower (use a short
``--duration-ms``), larger ones a little. ``max_dv_first_5ms_mV`` compares
the recorded voltages of the tables with the exact ones
(``control_max_dv_first_5ms_mV`` those of the control).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from brian2 import SpikeMonitor, defaultclock, device, mV, ms, prefs, set_device
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.stateupdaters.exponential_euler import exponential_euler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

from lut4brian import models, tabulate  # noqa: E402
from lut4brian.integrate import exponential_euler_updates, optimise_update  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExponentialEulerCSE(StateUpdateMethod):
    """
    The control integrator: Brian2's ``exponential_euler``, then every repeated
    subexpression computed once, as ``lut_exponential_euler`` does for the
    tabulated equations (``optimise_update`` without its table-index fusion).
    """

    def can_integrate(self, equations, variables, method_options=None):
        return exponential_euler.can_integrate(equations, variables, method_options)

    def __call__(self, equations, variables=None, method_options=None):
        return optimise_update(exponential_euler_updates(equations, variables))


if "exponential_euler_cse" not in StateUpdateMethod.stateupdaters:
    StateUpdateMethod.register("exponential_euler_cse", ExponentialEulerCSE())


def variants(step_mV, methods, control=True):
    """
    ``{name: (equations, namespace, integrator)}``: ``exact``, ``lut:<method>``
    for each of ``methods`` and, with ``control``, ``cse``.
    """
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV, step_mV * mV), namespace=namespace)
    result = {"exact": (equations, namespace, "exponential_euler")}
    result.update({f"lut:{method}": (lut, namespace, method) for method in methods})
    if control:
        result["cse"] = (equations, namespace, "exponential_euler_cse")
    return result


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


def median_ratio(times, slower, faster):
    return float(np.median(np.array(times[slower]) / np.array(times[faster])))


def summary(method, medians, times, nets):
    """The JSON fields of the tables integrated with ``method``."""
    lut = f"lut:{method}"
    result = dict(exact_s=medians["exact"], lut_s=medians[lut], speedup=median_ratio(times, "exact", lut))
    if "exact_default" in times:  # numpy with Brian2's default preferences (exprel checks units)
        result.update(exact_default_s=medians["exact_default"],
                      speedup_vs_default=median_ratio(times, "exact_default", lut))
    if "cse" in times:
        result.update(control_s=medians["cse"], control_speedup=median_ratio(times, "exact", "cse"),
                      speedup_over_control=median_ratio(times, "cse", lut))
    (_, spikes_exact, trace_exact), (_, spikes_lut, trace_lut) = nets["exact"], nets[lut]
    result.update(spikes_exact=int(spikes_exact.num_spikes), spikes_lut=int(spikes_lut.num_spikes),
                  max_dv_first_5ms_mV=max_dv_first_5ms(trace_exact, trace_lut))
    if "cse" in nets:
        _, spikes_control, trace_control = nets["cse"]
        result.update(spikes_control=int(spikes_control.num_spikes),
                      control_max_dv_first_5ms_mV=max_dv_first_5ms(trace_exact, trace_control))
    return result


def numpy_discard_units(discard):
    """
    Set ``prefs.codegen.runtime.numpy.discard_units`` and apply it at once to
    exprel, expm1 and log1p: Brian2 gives these functions their numpy
    implementation when a numpy code object first uses them, with the
    preference of that moment, and keeps it for the rest of the process.
    """
    prefs.codegen.runtime.numpy.discard_units = discard
    for name in ("exprel", "expm1", "log1p"):
        function = DEFAULT_FUNCTIONS[name]
        function.implementations.add_numpy_implementation(function.pyfunc, discard_units=discard)


def bench_runtime(args, duration):
    """numpy or cython: ``(medians, times, nets, build_s)``."""
    prefs.codegen.target = args.target
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    if args.target == "numpy":
        numpy_discard_units(True)
    nets = {}
    build_s = 0.0
    for name, (equations, namespace, method) in variants(args.step_mv, args.method, args.control).items():
        nets[name] = models.cobahh_network(equations, namespace, args.neurons, args.record, method=method)
        start = time.time()
        nets[name][0].run(defaultclock.dt)  # code generation and compilation, outside the timed runs
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

    names = list(nets) + (["exact_default"] if args.target == "numpy" and args.default_units else [])
    medians, times = timed_runs(run, names, args.repeats)
    return medians, times, nets, build_s


def bench_standalone(args, duration):
    """cpp_standalone or cuda_standalone: ``(medians, times, nets, build_s)``."""
    workdir = tempfile.mkdtemp(prefix="lut4brian_bench_")
    nets, dirs, build_s, first = {}, {}, 0.0, {}

    def run_time(name):
        # The network's own run time, as Brian2 measures it: the simulation
        # without loading the arrays and writing the results.
        with open(os.path.join(dirs[name], "results", "last_run_info.txt")) as info:
            return float(info.read().split()[0])

    try:
        for name, (equations, namespace, method) in variants(args.step_mv, args.method, args.control).items():
            dirs[name] = os.path.join(workdir, name.replace(":", "_"))
            set_device(args.target, directory=dirs[name], build_on_run=False)
            defaultclock.dt = args.dt_ms * ms  # device.reinit() resets it
            nets[name] = models.cobahh_network(equations, namespace, args.neurons, args.record, method=method)
            nets[name][0].run(duration)
            start = time.time()
            device.build(directory=dirs[name], compile=True, run=True, with_output=False)
            binary = (getattr(device, "timers", None) or {}).get("run_binary")
            build_s += time.time() - start - (binary or 0.0)  # without the binary's run, where Brian2 timed it
            first[name] = run_time(name)  # the run at build time is the first repeat
            nets[name] = (None,) + tuple(_Fetched(mon) for mon in nets[name][1:])
            device.reinit()
            device.activate()

        def run(name):
            if name in first:
                return first.pop(name)
            subprocess.run(["./main"], cwd=dirs[name], check=True, stdout=subprocess.DEVNULL)
            return run_time(name)

        medians, times = timed_runs(run, list(nets), args.repeats)
        return medians, times, nets, build_s
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Fetched:
    """A monitor's results, kept after the standalone device is reset."""

    def __init__(self, monitor):
        if isinstance(monitor, SpikeMonitor):
            self.num_spikes = monitor.num_spikes
        else:
            self.t, self.v = monitor.t[:], monitor.v[:]


def cuda_setup():
    """
    brian2cuda's device, and what its build needs beyond Brian2's defaults:
    C++17 for nvcc and gcc (CUB refuses C++11) and, where the CUDA toolkit of
    ``nvcc`` has no cuRAND, the one of the ``nvidia-curand`` wheel (headers, a
    ``libcurand.so`` link and an rpath for the binary). The GPU and its
    compute capability are detected by brian2cuda.
    """
    import brian2cuda  # noqa: F401 (registers the device)

    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.extra_compile_args_nvcc = [a for a in backend.extra_compile_args_nvcc if not a.startswith("-std")] + [
        "-std=c++17"]
    prefs.codegen.cpp.extra_compile_args_gcc = [
        a for a in prefs.codegen.cpp.extra_compile_args_gcc if not a.startswith("-std")] + ["-std=c++17"]
    nvcc = shutil.which("nvcc")
    toolkit = os.path.dirname(os.path.dirname(os.path.realpath(nvcc))) if nvcc else None
    if toolkit and os.path.exists(os.path.join(toolkit, "include", "curand.h")):
        return  # the toolkit's own cuRAND matches its nvcc
    try:
        import nvidia
    except ImportError:
        return
    roots = [os.path.join(base, sub) for base in nvidia.__path__ for sub in os.listdir(base)
             if os.path.exists(os.path.join(base, sub, "include", "curand.h"))]
    if not roots:
        return
    include, library = os.path.join(roots[0], "include"), os.path.join(roots[0], "lib")
    links = tempfile.mkdtemp(prefix="lut4brian_curand_")
    os.symlink(os.path.join(library, "libcurand.so.10"), os.path.join(links, "libcurand.so"))
    backend.extra_compile_args_nvcc = list(backend.extra_compile_args_nvcc) + [f"-I{include}"]
    prefs.codegen.cpp.extra_link_args = list(prefs.codegen.cpp.extra_link_args) + [
        f"-L{links}", f"-Wl,-rpath,{library}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone", "cuda_standalone"],
                        default="cython", help="cuda_standalone needs brian2cuda and a GPU")
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dt-ms", type=float, default=0.01)
    parser.add_argument("--step-mv", type=float, default=0.1, help="table grid step in mV")
    parser.add_argument("--method", nargs="+", choices=["exponential_euler", "lut_exponential_euler"],
                        default=["exponential_euler"], help="integrator(s) of the tabulated model")
    parser.add_argument("--record", type=int, default=10, help="neurons whose v is compared")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="leave out the control (exact equations, exponential_euler_cse)")
    parser.add_argument("--default-units", action="store_true",
                        help="numpy: also time the exact equations with Brian2's default discard_units = False "
                             "(slow for groups of up to 1000 neurons)")
    record.add_argument(parser, "cobahh")
    args = parser.parse_args()
    args.method = list(dict.fromkeys(args.method))
    defaultclock.dt = args.dt_ms * ms
    duration = args.duration_ms * ms
    if args.target == "cuda_standalone":
        cuda_setup()
    bench = bench_standalone if args.target.endswith("_standalone") else bench_runtime
    medians, times, nets, build_s = bench(args, duration)
    for method in args.method:
        line = dict(target=args.target, method=method, neurons=args.neurons, duration_ms=args.duration_ms,
                    dt_ms=args.dt_ms, step_mV=args.step_mv, repeats=args.repeats)
        line.update(summary(method, medians, times, nets))
        line.update(build_s=build_s, variants=sorted(times))
        record.emit(line, args.results)


if __name__ == "__main__":
    main()
