"""
Which second-order exp-free integrator to keep: a small work-precision check.

N uncoupled COBAHH neurons (tabulated, 0.1 mV grid; ge = gi = 0), neuron k
driven by a constant current from 0.2 to 1.5 nA, from v = -65 mV and
m = h = n = 0, integrated by each candidate at several dt in one
cpp_standalone project. Run time: the code objects of each group as
Brian2's profiler records them in the binary (state update, threshold,
monitor), compilation excluded. Error: the largest spike-time error over
a subset of neurons against scipy's LSODA (rtol 1e-10, atol 1e-12), spikes
being the upward -20 mV crossings, linearly interpolated between samples.

Candidates: ``lut_strang`` (lut4brian), Brian2's ``rk2`` and ``rk4`` on the
tables, ``lut_exponential_euler``, and ``staged_rk4``: Brian2's rk4 with the
table lookups of each stage fused on one grid index and repeated
subexpressions computed once (defined here, to see what those
optimisations are worth for rk4).

    .venv/bin/python benchmarks/integrator_candidates.py --neurons 1000
"""

import argparse
import os
import re
import sys
import tempfile

import numpy as np
from brian2 import (
    Clock, Network, NeuronGroup, StateMonitor, device, mV, ms, nA, prefs, set_device,
)
from brian2.parsing.sympytools import str_to_sympy
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.stateupdaters.explicit import rk4
from scipy.integrate import solve_ivp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import record  # noqa: E402
from test_integrator_order import _cobahh_rhs, _parameters  # noqa: E402

from lut4brian import models, tabulate  # noqa: E402
from lut4brian.strang import _stage  # noqa: E402

DTS = {
    "lut_strang": (0.1, 0.05, 0.025, 0.0125, 0.00625),
    "lut_exponential_euler": (0.05, 0.02, 0.01, 0.005),
    "rk2": (0.04, 0.025, 0.0125),
    "rk4": (0.05, 0.04, 0.025),
    "staged_rk4": (0.05, 0.04, 0.025),
}


class StagedRK4(StateUpdateMethod):
    """Brian2's rk4, each stage's lookups fused and its repeats computed once."""

    def can_integrate(self, equations, variables, method_options=None):
        return rk4.can_integrate(equations, variables, method_options)

    def __call__(self, equations, variables=None, method_options=None):
        stages, final = {}, []
        for line in rk4(equations, variables, method_options).splitlines():
            target, expression = (part.strip() for part in line.split("=", 1))
            stage = re.match(r"__k_(\d+)_", target)
            if stage:
                stages.setdefault(stage.group(1), []).append((target, str_to_sympy(expression)))
            else:
                final.append((target, expression))
        code = []
        for stage, targets in sorted(stages.items()):
            code += _stage(targets, f"_lut_s{stage}_")
        return "\n".join(code + [f"{target} = {expression}" for target, expression in final])


StateUpdateMethod.register("staged_rk4", StagedRK4())


def reference(currents, duration):
    crossing = lambda t, y: y[0] + 20  # noqa: E731
    crossing.direction = 1
    return [solve_ivp(_cobahh_rhs(_parameters(), current), (0, duration), [-65, 0, 0, 0], method="LSODA",
                      rtol=1e-10, atol=1e-12, events=crossing).t_events[0] for current in currents]


def linear_crossings(v, dt):
    k = np.flatnonzero((v[:-1] < -20) & (v[1:] >= -20))
    return (k + (-20 - v[k]) / (v[k + 1] - v[k])) * dt


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--subset", type=int, default=7, help="neurons whose spike times are compared")
    parser.add_argument("--method", nargs="+", choices=sorted(DTS), default=sorted(DTS))
    record.add_argument(parser, "integrator_candidates")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="integrator_candidates_")
    set_device("cpp_standalone", directory=directory, build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = 0
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace)
    currents = np.linspace(0.2, 1.5, args.neurons)
    subset = np.linspace(0, args.neurons - 1, args.subset).astype(int)
    groups = {}
    for method in args.method:
        for k, dt in enumerate(DTS[method]):
            name = f"{method}_{k}"
            group = NeuronGroup(args.neurons, lut, method=method, namespace=namespace, name=name,
                                clock=Clock(dt * ms, name=f"clock_{name}"), threshold="v > -20*mV",
                                refractory="v > -20*mV")
            group.v, group.I = -65 * mV, currents * nA
            groups[method, dt] = group, StateMonitor(group, "v", record=subset, name=f"v_{name}")
    net = Network(*[obj for pair in groups.values() for obj in pair])
    net.run(args.duration_ms * ms, profile=True)
    device.build(directory=directory)
    seconds = {}
    for name, time in net.profiling_info:
        owner = re.sub(r"_(stateupdater|spike_thresholder|spike_resetter)\w*$", "", name)
        owner = re.sub(r"^v_", "", owner)
        seconds[owner] = seconds.get(owner, 0.0) + float(time)
    references = reference(currents[subset], args.duration_ms)
    for (method, dt), (group, monitor) in groups.items():
        errors, mismatch = [], False
        for row, expected in zip(np.asarray(monitor.v / mV), references):
            times = linear_crossings(row, dt)
            mismatch |= len(times) != len(expected)
            n = min(len(times), len(expected))
            errors.append(np.max(np.abs(times[:n] - expected[:n])) if n else np.inf)
        record.emit(dict(target="cpp_standalone", method=method, dt_ms=dt, neurons=args.neurons,
                         duration_ms=args.duration_ms, subset=args.subset, grid_mV=0.1,
                         run_s=round(seconds[group.name], 4), max_spike_err_ms=float(max(errors)),
                         count_mismatch=bool(mismatch)), args.results)


if __name__ == "__main__":
    main()
