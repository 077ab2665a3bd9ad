"""
Run time of models from Brian2's own examples, exact against tabulated.

    python benchmarks/brian2_examples.py [--target cython] [--repeats 3]

Each case builds its example's model (equations, parameters and group size
as in the example, see tests/test_brian2_examples.py,
tests/test_membrane_and_jumps.py and tests/test_brian2_compartmental.py;
shorter runs and cables) exact with the example's integrator and tabulated
(0.05 mV grid) with the integrator lut4brian gives it (``lut_method``:
``lut_exponential_euler`` for ``exponential_euler``, as
``prefs.lut4brian.auto`` does; others keep theirs), runs each once to
compile, then ``--repeats`` times alternately, and prints one JSON line with
the median wall time of the whole experiment (network building excluded,
every ``run()`` included) and ``speedup`` = exact / tabulated.
``repeated_runs`` is twenty ``run(0.1*ms)`` of one COBAHH neuron, the
per-run overhead; ``calcium_cell`` is 1000 cells of
``lut4brian.models.calcium_cell`` for 100 ms with tables over v and Ca_i
(2-D and logarithmic, tolerance 1e-5). Lines are appended, with machine,
versions and date, to ``benchmarks/results/brian2_examples.jsonl``
(``--results``).
"""

import argparse
import os
import sys
import time

import numpy as np
from brian2 import Equations, Network, NeuronGroup, defaultclock, mM, mV, ms, prefs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import record  # noqa: E402
import test_brian2_compartmental as compartmental  # noqa: E402
import test_brian2_examples as examples  # noqa: E402
import test_membrane_and_jumps as papers  # noqa: E402

from lut4brian import log_grid, models, tabulate  # noqa: E402

GRID = (-120 * mV, 150 * mV, 0.05 * mV)


def if_curve(equations, method):
    return lambda: examples.if_curve_spikes(equations, method, neurons=100)


def morris_lecar(equations, method):
    return lambda: papers.morris_lecar_spikes(equations, method)


def destexhe(equations, method):
    return lambda: papers.destexhe_soma_voltage(equations, method)


def bisection(equations, method):
    return lambda: examples.bisection_thresholds(equations, iterations=10, size=100)


def hh_with_spikes(equations, method):
    return lambda: compartmental.axon_spikes(equations, method)


def brette_2012(equations, method):
    return lambda: compartmental.brette_2012_traces(equations, method)


def calcium_cell(namespace):
    def experiment(equations, method):
        def run():
            group = NeuronGroup(1000, equations, method=method, threshold="v > -20*mV", refractory="v > -20*mV",
                                namespace=namespace)
            group.v, group.Ca_i, group.I = -65 * mV, namespace["Ca_rest"], "(1 + 9.0*i/N)*uA/cm**2"
            Network(group).run(100 * ms)

        return run

    return experiment


def repeated_runs(namespace):
    return lambda equations, method: _repeated_runs(equations, method, namespace)


def _repeated_runs(equations, method, namespace):
    def experiment():
        group = NeuronGroup(1, equations, method=method, namespace=namespace)
        group.v = -65 * mV
        net = Network(group)
        net.run(0.1 * ms)
        start = time.perf_counter()
        for _ in range(20):
            net.run(0.1 * ms)
        return time.perf_counter() - start

    return experiment


def cases():
    """(name, experiment(equations, method), equations, constants, grids, dt, the example's integrator)."""
    cobahh, cobahh_constants = models.cobahh()
    calcium, calcium_constants = models.calcium_cell()
    euler = "exponential_euler"
    yield "IF_curve_Hodgkin_Huxley", if_curve, examples.IF_CURVE, examples.IF_CURVE_CONSTANTS, {"v": GRID}, 0.01, euler
    yield ("Morris_Lecar_1981", morris_lecar, papers.MORRIS_LECAR, papers.MORRIS_LECAR_CONSTANTS, {"V": GRID}, 0.01,
           euler)
    yield ("Destexhe_et_al_1998", destexhe, Equations(papers.DESTEXHE), papers.DESTEXHE_CONSTANTS, {"v": GRID},
           0.025, euler)
    yield ("Stimberg_et_al_2019_bisection", bisection, examples.BISECTION, examples.BISECTION_CONSTANTS,
           {"v": GRID}, 0.01, "rk4")
    yield ("hh_with_spikes", hh_with_spikes, compartmental.HH_WITH_SPIKES, compartmental.HH_WITH_SPIKES_CONSTANTS,
           {"v": GRID}, 0.01, euler)
    yield ("Brette_2012_Fig3AB", brette_2012, compartmental.BRETTE_2012, compartmental.BRETTE_2012_CONSTANTS,
           {"v": GRID}, 0.025, euler)
    yield "repeated_runs", repeated_runs(cobahh_constants), cobahh, cobahh_constants, {"v": GRID}, 0.01, euler
    yield ("calcium_cell", calcium_cell(calcium_constants), calcium, calcium_constants,
           {"v": (-100 * mV, 100 * mV), "Ca_i": log_grid(1e-5 * mM, 1 * mM), "tolerance": 1e-5}, 0.01, euler)


def timed(experiment):
    start = time.perf_counter()
    result = experiment()
    # repeated_runs times only its runs; the others the whole experiment
    return result if isinstance(result, float) else time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="cython", choices=["numpy", "cython"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="*", help="run only these cases (default: all)")
    record.add_argument(parser, "brian2_examples")
    args = parser.parse_args()
    prefs.codegen.target = args.target
    for name, experiment, equations, constants, grids, dt, method in cases():
        if args.cases and name not in args.cases:
            continue
        defaultclock.dt = dt * ms
        lut_method = "lut_exponential_euler" if method == "exponential_euler" else method
        variants = {"exact": experiment(equations, method),
                    "lut": experiment(tabulate(equations, namespace=constants, **grids), lut_method)}
        for run in variants.values():
            run()  # code generation and compilation
        times = {variant: [] for variant in variants}
        for _ in range(args.repeats):
            for variant, run in variants.items():
                times[variant].append(timed(run))
        exact, lut = (float(np.median(times[v])) for v in ("exact", "lut"))
        record.emit({"case": name, "target": args.target, "method": method, "lut_method": lut_method,
                     "exact_s": round(exact, 3), "lut_s": round(lut, 3), "speedup": round(exact / lut, 2),
                     "repeats": args.repeats}, args.results)


if __name__ == "__main__":
    main()
