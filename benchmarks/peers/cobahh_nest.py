"""
Brian2's COBAHH network (``lut4brian.models.cobahh_network``, from Brian2's
examples/COBAHH.py) in NEST 3.10.0: ``hh_cond_exp_traub`` neurons with every
parameter set to COBAHH's, 80 % excitatory, each pair connected with
probability 0.02 (autapses allowed, as in Brian2), we = 6 nS and wi = 67 nS,
v0 = El + (5 randn - 5) mV, m = h = n = 0, ge0 = (1.5 randn + 4) * 10 nS,
gi0 = (12 randn + 20) * 10 nS.

    benchmarks/peers/.venv-sims/bin/python benchmarks/peers/cobahh_nest.py \\
        [--neurons 4000] [--duration-ms 200] [--dt-ms 0.01] [--repeats 1]

Prints one JSON line (``simulator``, ``version``, ``config``, ``engine``,
``neurons``, ``duration_ms``, ``dt_ms``, ``delay_ms``, ``run_s``: the
shortest of ``--repeats`` ``nest.Simulate`` calls on one thread,
``build_s``: creating and connecting, ``spikes``) and appends it to
``benchmarks/results/cobahh_peers.jsonl`` (``--results``).

Differences from Brian2's network:

- Synaptic delay: one resolution step (NEST's smallest), Brian2's is 0.
- The initial conductances: NEST does not let g_ex and g_in be set, so each
  neuron's are delivered by a spike generator as one spike at the first
  step (they start decaying a step or two late, a 0.2-0.4 % difference).
  Negative draws (Brian2's distribution gives gi < 0 to about 5 % of the
  neurons, ge < 0 to 0.4 %) cannot be delivered, since the sign of a weight
  chooses the channel: they start at 0.
- NEST counts a spike at the peak of the action potential (V_m above
  V_T + 30 mV and falling), Brian2 at the upward -20 mV crossing: spikes
  leave some 0.1-0.3 ms later. t_ref is set to Brian2's 3 ms (it only
  blocks the detection, in both).
- The gating variables start at 0 only because they are set: NEST puts a
  new neuron's at their equilibrium, computed from V_m rather than
  V_m - V_T.
- Each resolution step is integrated by GSL's adaptive RKF45 (absolute
  tolerance 1e-3) and the random numbers differ from Brian2's, so spike
  counts agree only statistically (a chaotic network).
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
from wp_nest import parameters  # noqa: E402


def initial_state(neurons, rng):
    """Brian2's COBAHH initial draws, in mV and nS."""
    v = wp_common.COBAHH["E_L"] + (rng.standard_normal(neurons) * 5 - 5)
    ge = (rng.standard_normal(neurons) * 1.5 + 4) * 10.0
    gi = (rng.standard_normal(neurons) * 12 + 20) * 10.0
    return v, ge, gi


def build(nest, neurons, dt_ms, seed):
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": 1, "rng_seed": seed, "print_time": False})
    rng = np.random.default_rng(seed)
    cells = nest.Create("hh_cond_exp_traub", neurons, params=parameters())
    v, ge, gi = initial_state(neurons, rng)
    cells.set(V_m=v.tolist(), Act_m=0.0, Inact_h=0.0, Act_n=0.0)
    n_exc = int(0.8 * neurons)
    rule = {"rule": "pairwise_bernoulli", "p": 0.02, "allow_autapses": True}
    nest.Connect(cells[:n_exc], cells, rule, {"weight": 6.0, "delay": dt_ms})
    nest.Connect(cells[n_exc:], cells, rule, {"weight": -67.0, "delay": dt_ms})
    kick = nest.Create("spike_generator", params={"spike_times": [dt_ms]})
    for weights in (np.clip(ge, 0, None), -np.clip(gi, 0, None)):  # the sign of a weight picks the channel
        nest.Connect(kick, cells, "all_to_all", {"weight": weights.reshape(-1, 1), "delay": dt_ms})
    spikes = nest.Create("spike_recorder")
    nest.Connect(cells, spikes)
    return spikes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=4000)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--dt-ms", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=4321)
    record.add_argument(parser, "cobahh_peers")
    args = parser.parse_args()
    nest = wp_common.need("nest", os.path.basename(__file__))
    nest.verbosity = nest.VerbosityLevel.ERROR
    runs, builds = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        spikes = build(nest, args.neurons, args.dt_ms, args.seed)
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        nest.Simulate(args.duration_ms)
        runs.append(time.perf_counter() - start)
    line = dict(simulator="NEST", version=nest.__version__, config="hh_cond_exp_traub",
                engine="GSL RKF45 within each step", neurons=args.neurons, duration_ms=args.duration_ms,
                dt_ms=args.dt_ms, delay_ms=args.dt_ms, threads=1, repeats=args.repeats,
                run_s=wp_common.best_of(runs), runs_s=runs, build_s=min(builds),
                spikes=int(spikes.get("n_events")))
    record.emit(line, args.results, script="peers/cobahh_nest.py")


if __name__ == "__main__":
    main()
