"""
Run time of models from Brian2's own examples, exact against tabulated.

    python benchmarks/brian2_examples.py [--target cython] [--repeats 3]

Each case builds its example's model (equations, parameters and group size
as in the example, see tests/test_brian2_examples.py and
tests/test_membrane_and_jumps.py; the IF curve runs 300 ms, not 2 s)
exact and tabulated (0.05 mV grid, the example's own integrator), runs each
once to compile, then ``--repeats`` times alternately, and prints one JSON
line with the median wall time of the whole experiment (network building
excluded, every ``run()`` included) and ``speedup`` = exact / tabulated.
``repeated_runs`` is twenty ``run(0.1*ms)`` of one COBAHH neuron, the
per-run overhead. Lines are appended, with machine, versions and date, to
``benchmarks/results/brian2_examples.jsonl`` (``--results``).
"""

import argparse
import os
import sys
import time

import numpy as np
from brian2 import Equations, Network, NeuronGroup, defaultclock, mV, ms, prefs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import record  # noqa: E402
import test_brian2_examples as examples  # noqa: E402
import test_membrane_and_jumps as papers  # noqa: E402

from lut4brian import models, tabulate  # noqa: E402

GRID = (-120 * mV, 150 * mV, 0.05 * mV)


def if_curve(equations):
    return lambda: examples.if_curve_spikes(equations, "exponential_euler", neurons=100)


def morris_lecar(equations):
    return lambda: papers.morris_lecar_spikes(equations)


def destexhe(equations):
    return lambda: papers.destexhe_soma_voltage(equations)


def bisection(equations):
    return lambda: examples.bisection_thresholds(equations, iterations=10, size=100)


def repeated_runs(equations, namespace):
    def experiment():
        group = NeuronGroup(1, equations, method="exponential_euler", namespace=namespace)
        group.v = -65 * mV
        net = Network(group)
        net.run(0.1 * ms)
        start = time.perf_counter()
        for _ in range(20):
            net.run(0.1 * ms)
        return time.perf_counter() - start

    return experiment


def cases():
    cobahh, cobahh_constants = models.cobahh()
    yield "IF_curve_Hodgkin_Huxley", if_curve, examples.IF_CURVE, examples.IF_CURVE_CONSTANTS, "v"
    yield "Morris_Lecar_1981", morris_lecar, papers.MORRIS_LECAR, papers.MORRIS_LECAR_CONSTANTS, "V"
    yield "Destexhe_et_al_1998", destexhe, Equations(papers.DESTEXHE), papers.DESTEXHE_CONSTANTS, "v"
    yield "Stimberg_et_al_2019_bisection", bisection, examples.BISECTION, examples.BISECTION_CONSTANTS, "v"
    yield ("repeated_runs", lambda eqs: repeated_runs(eqs, cobahh_constants), cobahh, cobahh_constants, "v")


def timed(experiment):
    start = time.perf_counter()
    result = experiment()
    # repeated_runs times only its runs; the others the whole experiment
    return result if isinstance(result, float) else time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="cython", choices=["numpy", "cython"])
    parser.add_argument("--repeats", type=int, default=3)
    record.add_argument(parser, "brian2_examples")
    args = parser.parse_args()
    prefs.codegen.target = args.target
    for name, experiment, equations, constants, variable in cases():
        defaultclock.dt = 0.025 * ms if name == "Destexhe_et_al_1998" else 0.01 * ms
        variants = {"exact": experiment(equations),
                    "lut": experiment(tabulate(equations, namespace=constants, **{variable: GRID}))}
        for run in variants.values():
            run()  # code generation and compilation
        times = {variant: [] for variant in variants}
        for _ in range(args.repeats):
            for variant, run in variants.items():
                times[variant].append(timed(run))
        exact, lut = (float(np.median(times[v])) for v in ("exact", "lut"))
        record.emit({"case": name, "target": args.target, "exact_s": round(exact, 3), "lut_s": round(lut, 3),
                     "speedup": round(exact / lut, 2), "repeats": args.repeats}, args.results)


if __name__ == "__main__":
    main()
