"""
lut4brian in one minute: Brian2's COBAHH network, exact and tabulated.

    python examples/demo.py [--target cython] [--neurons 2000] [--duration-ms 100]

The only changes to the Brian2 script are one call and, for the exp-free
updates, the integrator's name::

    eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
    P = NeuronGroup(..., method='lut_exponential_euler')
"""

import argparse
import os
import time

import numpy as np
from brian2 import defaultclock, mV, ms, prefs

from lut4brian import models, report, tabulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def simulate(equations, namespace, neurons, duration, method):
    network, spikes, trace = models.cobahh_network(equations, namespace, neurons, method=method)
    network.run(defaultclock.dt)  # code generation and compilation, not timed
    start = time.time()
    network.run(duration)
    return time.time() - start, spikes.num_spikes, trace


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython"], default="cython")
    parser.add_argument("--neurons", type=int, default=2000)
    parser.add_argument("--duration-ms", type=float, default=100.0)
    args = parser.parse_args()
    prefs.codegen.target = args.target
    prefs.codegen.runtime.numpy.discard_units = True
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    defaultclock.dt = 0.01 * ms
    duration = args.duration_ms * ms

    equations, namespace = models.cobahh()
    tabulated = tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace)
    print("Tabulated equations:\n" + "\n".join(f"  {line}" for line in str(tabulated).splitlines()))
    print("\nTables:\n" + str(report(tabulated)))

    print(f"\nCOBAHH, {args.neurons} neurons, {duration}, dt = {defaultclock.dt}, target {args.target}")
    runs = [("exact equations", equations, "exponential_euler"),
            ("tables", tabulated, "exponential_euler"),
            ("tables, exp-free", tabulated, "lut_exponential_euler")]
    exact_s, exact_trace = None, None
    for label, eqs, method in runs:
        seconds, spikes, trace = simulate(eqs, namespace, args.neurons, duration, method)
        line = f"  {label:<18} {method:<22} {seconds:6.2f} s  {spikes:6d} spikes"
        if exact_s is None:
            exact_s, exact_trace = seconds, trace
        else:
            first = exact_trace.t < 5 * ms
            dv = np.max(np.abs(exact_trace.v[:, first] - trace.v[:, first])) / mV
            line += f"  speed-up {exact_s / seconds:5.2f}x  max |dv| (first 5 ms, {len(trace.record)} neurons) {dv:.4f} mV"
        print(line)


if __name__ == "__main__":
    main()
