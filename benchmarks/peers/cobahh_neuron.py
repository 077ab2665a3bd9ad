"""
Brian2's COBAHH network (``lut4brian.models.cobahh_network``, from Brian2's
examples/COBAHH.py) in NEURON 9.0.2: single-compartment cells with
``traub.mod`` (rates from its 0.1 mV table), an ``ExpSyn`` per cell for the
excitatory (tau 5 ms, 0 mV) and one for the inhibitory conductance (tau
10 ms, -80 mV), 80 % excitatory, each pair connected with probability 0.02
(autapses allowed, as in Brian2) by a ``NetCon`` with threshold -20 mV,
we = 6 nS and wi = 67 nS; v0 = El + (5 randn - 5) mV, m = h = n = 0,
ge0 = (1.5 randn + 4) * 10 nS, gi0 = (12 randn + 20) * 10 nS.

    benchmarks/peers/.venv-sims/bin/python benchmarks/peers/cobahh_neuron.py \\
        [--neurons 4000] [--duration-ms 200] [--dt-ms 0.01] [--secondorder 0] [--repeats 1]

Prints one JSON line (``simulator``, ``version``, ``config``, ``engine``,
``neurons``, ``duration_ms``, ``dt_ms``, ``delay_ms``, ``run_s``: the
shortest of ``--repeats`` runs of ``ParallelContext.psolve`` on one thread,
``build_s``: making the cells and connections, ``spikes``) and appends it
to ``benchmarks/results/cobahh_peers.jsonl`` (``--results``).

Differences from Brian2's network: the synaptic delay is 0, as in Brian2,
but NEURON delivers an event at the start of the next step; NEURON has no
refractoriness (a NetCon fires again only after v has fallen below its
threshold; Brian2's 3 ms refractory period only blocks its threshold too);
the gates follow ``cnexp`` at ``secondorder = 0`` (``--secondorder 2``:
staggered, second order); the random numbers differ from Brian2's, so spike
counts agree only statistically (a chaotic network). The conductances start
at the drawn values, negative ones included, as in Brian2.
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import record  # noqa: E402
import wp_common  # noqa: E402
from cobahh_nest import initial_state  # noqa: E402 (numpy only)
from wp_neuron import load_neuron, traub_cell  # noqa: E402


def build(h, neurons, delay_ms, seed):
    """The cells, synapses and connections (kept alive), and the spike recordings."""
    rng = np.random.default_rng(seed)
    cells = [traub_cell(h, f"cell{k}") for k in range(neurons)]
    exc, inh = [], []
    for cell in cells:
        for kind, tau, reversal in ((exc, 5.0, wp_common.COBAHH["E_ex"]), (inh, 10.0, wp_common.COBAHH["E_in"])):
            synapse = h.ExpSyn(cell(0.5))
            synapse.tau, synapse.e = tau, reversal
            kind.append(synapse)
    n_exc = int(0.8 * neurons)
    connections = []
    for source, cell in enumerate(cells):
        targets = np.nonzero(rng.random(neurons) < 0.02)[0]
        synapses, weight = (exc, 0.006) if source < n_exc else (inh, 0.067)  # uS
        for target in targets:
            connection = h.NetCon(cell(0.5)._ref_v, synapses[target], sec=cell)
            connection.threshold, connection.delay, connection.weight[0] = wp_common.THRESHOLD_MV, delay_ms, weight
            connections.append(connection)
    times, ids = h.Vector(), h.Vector()
    detectors = []
    for k, cell in enumerate(cells):
        detector = h.NetCon(cell(0.5)._ref_v, None, sec=cell)
        detector.threshold = wp_common.THRESHOLD_MV
        detector.record(times, ids, k)
        detectors.append(detector)
    v0, ge0, gi0 = initial_state(neurons, rng)
    return dict(cells=cells, exc=exc, inh=inh, connections=connections, detectors=detectors, times=times,
                v0=v0, ge0=ge0 / 1000, gi0=gi0 / 1000)  # nS -> uS


def initialise(h, model):
    h.finitialize(wp_common.V0_MV)
    for cell, v in zip(model["cells"], model["v0"]):
        cell(0.5).v = v
    for synapses, values in ((model["exc"], model["ge0"]), (model["inh"], model["gi0"])):
        for synapse, value in zip(synapses, values):
            synapse.g = value
    h.fcurrent()  # the currents of the new state, before the first step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--dt-ms", type=float, default=0.01)
    parser.add_argument("--secondorder", type=int, default=0, choices=[0, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=4321)
    record.add_argument(parser, "cobahh_peers")
    args = parser.parse_args()
    neuron, h = load_neuron(os.path.basename(__file__))
    start = time.perf_counter()
    model = build(h, args.neurons, 0.0, args.seed)
    build_s = time.perf_counter() - start
    h.dt, h.secondorder, h.usetable_traub = args.dt_ms, args.secondorder, 1
    h.CVode().active(0)
    pc = h.ParallelContext()
    pc.nthread(1)
    pc.set_maxstep(10)
    runs = []
    for _ in range(args.repeats):
        initialise(h, model)
        start = time.perf_counter()
        pc.psolve(args.duration_ms)
        runs.append(time.perf_counter() - start)
    line = dict(simulator="NEURON", version=neuron.__version__, config="traub.mod, tables 0.1 mV, ExpSyn",
                engine=f"fixed step, secondorder={args.secondorder}", neurons=args.neurons,
                duration_ms=args.duration_ms, dt_ms=args.dt_ms, delay_ms=0.0, threads=1, repeats=args.repeats,
                run_s=wp_common.best_of(runs), runs_s=runs, build_s=build_s, spikes=int(model["times"].size()))
    record.emit(line, args.results, script="peers/cobahh_neuron.py")


if __name__ == "__main__":
    main()
