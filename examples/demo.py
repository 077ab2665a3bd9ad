"""
lut4brian in one minute: Brian2's COBAHH network, exact and tabulated.

    python examples/demo.py [--target cython] [--neurons 2000] [--duration-ms 100]

The only change to the Brian2 script is one call::

    eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
"""

import argparse
import os
import time

import numpy as np
from brian2 import defaultclock, mV, ms, prefs

from lut4brian import models, tabulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def simulate(equations, namespace, neurons, duration):
    network, spikes, trace = models.cobahh_network(equations, namespace, neurons)
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

    print(f"\nCOBAHH, {args.neurons} neurons, {duration}, dt = {defaultclock.dt}, target {args.target}")
    exact_s, exact_spikes, exact_trace = simulate(equations, namespace, args.neurons, duration)
    print(f"  exact equations     {exact_s:6.2f} s   {exact_spikes} spikes")
    lut_s, lut_spikes, lut_trace = simulate(tabulated, namespace, args.neurons, duration)
    print(f"  lookup tables       {lut_s:6.2f} s   {lut_spikes} spikes")
    first = exact_trace.t < 5 * ms
    dv = np.max(np.abs(exact_trace.v[:, first] - lut_trace.v[:, first]))
    print(f"  speed-up            {exact_s / lut_s:6.2f} x")
    print(f"  max |dv|, first 5 ms, {len(exact_trace.record)} neurons: {dv / mV:.4f} mV")


if __name__ == "__main__":
    main()
