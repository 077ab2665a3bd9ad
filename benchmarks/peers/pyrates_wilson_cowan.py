"""
PyRates' Wilson-Cowan benchmark, run by PyRates itself (in its own venv:
``benchmarks/peers/setup`` makes ``benchmarks/peers/.venv-pyrates``).

    benchmarks/peers/.venv-pyrates/bin/python benchmarks/peers/pyrates_wilson_cowan.py \\
        --model MODEL.npz [--precision float32 float64] [--repeats 3]

The network of PyRates' ``examples/benchmark_population_connectivity.py``
(its new vectorised API): one ``PopulationTemplate`` of N excitatory
Wilson-Cowan units (the ``rate_op`` and ``se_op`` operators of PyRates'
``model_templates.neural_mass_models.wilsoncowan.exc_pop``, written out here
because the pip package ships no model templates) and one ``Connectivity``
with the weight matrix ``W``; Euler, dt = 1 ms, 5 s, the state recorded at
every step as in that benchmark. ``MODEL.npz`` holds ``W`` and the initial
rates ``r0`` (written by ``benchmarks/wilson_cowan.py --peer``, so both
programs run the same numbers).

Prints one JSON line: per precision the best of ``--repeats`` total times
(``build_s``: the templates; ``run_s``: PyRates' ``run``, code generation
included) and ``max_rel_diff``, the largest difference of PyRates' last
sample from a plain float64 numpy loop at the same time, relative to max |r|
(PyRates' last sample is at t = T - dt, after 4999 steps).
"""

import argparse
import json
import os
import platform
import tempfile
import time
from importlib import metadata

import numpy as np

DT, T, TAU, K, SLOPE, THETA = 1e-3, 5.0, 10.0, 1.0, 1.0, 2.0


def circuit(weights, r0):
    from pyrates import CircuitTemplate, Connectivity, NodeTemplate, OperatorTemplate, PopulationTemplate

    se_op = OperatorTemplate(name="se_op", path=None,
                             equations="m = sigmoid(s*(r_in+r_ext-theta)) - sigmoid(-s*theta)",
                             variables={"m": "output(0.0)", "s": SLOPE, "theta": THETA, "r_in": "input(0.0)",
                                        "r_ext": "input(0.0)"})
    rate_op = OperatorTemplate(name="rate_op", path=None, equations="r' = (-r + (1.0-k*r)*m)/tau",
                               variables={"r": "output(0.0)", "k": K, "tau": TAU, "m": "input(0.0)"})
    exc_pop = NodeTemplate(name="exc_pop", path=None, operators=[rate_op, se_op])
    population = PopulationTemplate(name="e", node=exc_pop, n=len(r0), params={"rate_op/r": r0})
    return CircuitTemplate(name=f"wc_{len(r0)}", populations={"e": population},
                           connections=[Connectivity(source="e/rate_op/r", target="e/se_op/r_in", weights=weights)])


def numpy_loop(weights, r, steps):
    offset = 1 / (1 + np.exp(SLOPE * THETA))
    for _ in range(steps):
        m = 1 / (1 + np.exp(-SLOPE * (weights @ r - THETA))) - offset
        r = r + DT * ((1 - K * r) * m - r) / TAU
    return r


def bench(weights, r0, precision):
    from pyrates import clear_frontend_caches

    clear_frontend_caches()
    start = time.perf_counter()
    model = circuit(weights, r0)
    built = time.perf_counter()
    result = model.run(simulation_time=T, step_size=DT, solver="euler", outputs={"r": "e/rate_op/r"},
                       float_precision=precision, clear=True, verbose=False)
    end = time.perf_counter()
    return built - start, end - built, end - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".npz with W and r0")
    parser.add_argument("--precision", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with np.load(args.model) as model:
        weights, r0 = model["W"], model["r0"]
    line = {"program": "PyRates", "n": len(r0), "repeats": args.repeats,
            "versions": {"python": platform.python_version(),
                         **{name: metadata.version(name) for name in ("pyrates", "numpy")}}}
    os.chdir(tempfile.mkdtemp(prefix="pyrates_wc_"))  # PyRates writes its generated code to the working directory
    for precision in args.precision:
        runs = [bench(weights, r0, precision) for _ in range(args.repeats)]
        build_s, run_s, total_s, result = min(runs, key=lambda run: run[2])
        last = np.asarray(result, dtype=float)[-1]
        steps = int(round(float(result.index[-1]) / DT))
        reference = numpy_loop(weights, r0, steps)
        line[precision] = {"build_s": build_s, "run_s": run_s, "total_s": total_s, "last_sample_t": float(result.index[-1]),
                           "max_rel_diff": float(np.max(np.abs(last - reference)) / np.max(np.abs(reference)))}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
