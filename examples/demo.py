"""
lut4brian in one minute: Brian2's COBAHH network, exact and tabulated.

    python examples/demo.py [--target cython] [--neurons 4000] [--duration-ms 100] [--repeats 3]

The only changes to the Brian2 script are one call and, for the exp-free
updates, the integrator's name::

    eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
    P = NeuronGroup(..., method='lut_exponential_euler')

The three networks (same seed) are built and compiled first, then run in
turn ``--repeats`` times; the times are medians and each speed-up is the
median of the per-round ratios, as in ``benchmarks/cobahh.py`` (which runs
200 ms and also the control with the exact equations' repeated
subexpressions removed). A single run of each, one after the other, can be
off by a factor of two on a machine that is busy with something else.
On numpy, Brian2's ``discard_units`` preference is on for all three
networks (Brian2 fixes exprel's numpy version at its first use, with the
preference of that moment; see ``numpy_discard_units``).
"""

import argparse
import os
import time

import numpy as np
from brian2 import defaultclock, mV, ms, prefs
from brian2.core.functions import DEFAULT_FUNCTIONS

from lut4brian import models, report, tabulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def numpy_discard_units():
    """
    numpy target: skip the unit checks of exprel, expm1 and log1p. Brian2
    gives these functions their numpy version when a numpy code object first
    uses them, with the ``discard_units`` preference of that moment, and keeps
    it for the rest of the process; setting the preference after that changes
    nothing, so the versions are replaced here too.
    """
    prefs.codegen.runtime.numpy.discard_units = True
    for name in ("exprel", "expm1", "log1p"):
        function = DEFAULT_FUNCTIONS[name]
        function.implementations.add_numpy_implementation(function.pyfunc, discard_units=True)


def build(equations, namespace, neurons, method):
    network, spikes, trace = models.cobahh_network(equations, namespace, neurons, method=method)
    network.run(defaultclock.dt)  # code generation and compilation, not timed
    network.store()
    return network, spikes, trace


def timed_run(network, duration):
    network.restore()
    start = time.perf_counter()
    network.run(duration)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython"], default="cython")
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--duration-ms", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    prefs.codegen.target = args.target
    if args.target == "numpy":
        numpy_discard_units()
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    defaultclock.dt = 0.01 * ms
    duration = args.duration_ms * ms

    equations, namespace = models.cobahh()
    tabulated = tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace)
    print("Tabulated equations:\n" + "\n".join(f"  {line}" for line in str(tabulated).splitlines()))
    print("\nTables:\n" + str(report(tabulated)))

    print(f"\nCOBAHH, {args.neurons} neurons, {duration}, dt = {defaultclock.dt}, target {args.target}; "
          f"medians of {args.repeats} rounds")
    variants = [("exact equations", equations, "exponential_euler"),
                ("tables", tabulated, "exponential_euler"),
                ("tables, exp-free", tabulated, "lut_exponential_euler")]
    start = time.perf_counter()
    networks = [build(eqs, namespace, args.neurons, method) for _, eqs, method in variants]
    print(f"  (code generation and compilation: {time.perf_counter() - start:.1f} s)")
    times = np.array([[timed_run(network, duration) for network, _, _ in networks] for _ in range(args.repeats)])

    _, _, exact_trace = networks[0]
    first = exact_trace.t < 5 * ms
    for k, ((label, _, method), (_, spikes, trace)) in enumerate(zip(variants, networks)):
        line = f"  {label:<18} {method:<22} {np.median(times[:, k]):6.2f} s  {spikes.num_spikes:6d} spikes"
        if k:
            speedup = np.median(times[:, 0] / times[:, k])
            dv = np.max(np.abs(exact_trace.v[:, first] - trace.v[:, first])) / mV
            line += f"  speed-up {speedup:5.2f}x  max |dv| (first 5 ms, {len(trace.record)} neurons) {dv:.4f} mV"
        print(line)
    print("\nMeasured as benchmarks/cobahh.py measures the README's table (200 ms there, with a control run of the\n"
          "exact equations with repeated subexpressions removed); on a busy machine the ratios drift by 30 % or more.")


if __name__ == "__main__":
    main()
