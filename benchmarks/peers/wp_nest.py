"""
Work precision of NEST on Brian2's COBAHH neuron: ``--neurons``
independent ``hh_cond_exp_traub`` neurons (exactly COBAHH's equations, every
parameter set explicitly from ``wp_common.COBAHH``), neuron k driven by the
constant current ``wp_common.currents_nA`` (``I_e``), all starting at -65 mV
with m = h = n = 0; a multimeter samples V_m of the compared neurons
(``wp_common.subset``) at every step, and spike times are the linearly
interpolated upward -20 mV crossings.

    benchmarks/peers/.venv-sims/bin/python benchmarks/peers/wp_nest.py \\
        [--neurons 500] [--duration-ms 200] [--resolution-ms 0.1 0.05 0.01] [--repeats 3]

Prints one JSON line per resolution: ``simulator``, ``version``, ``config``,
``dt_ms`` (NEST's resolution), ``run_s`` (the shortest of ``--repeats``
``nest.Simulate`` calls, one thread, each in a fresh kernel; building the
network is not timed), ``runs_s`` and ``spikes`` (``{neuron: [ms, ...]}``).
``benchmarks/work_precision.py`` runs it and computes the errors.

Differences from the Brian2 model that matter here:

- ``hh_cond_exp_traub`` integrates with GSL's adaptive Runge-Kutta-Fehlberg
  4(5) inside each resolution step (absolute tolerance 1e-3, no relative
  one, fixed in NEST's code): the resolution bounds its step, the
  tolerance its accuracy.
- Its own spike detection fires at the peak of the action potential (V_m
  above V_T + 30 mV and falling, checked once per step), not at an upward
  threshold crossing, and then for ``t_ref``; neither affects V_m, so the
  spike times compared here come from V_m as for every simulator.
- A new neuron starts with its gates at equilibrium, computed by NEST
  from V_m itself rather than V_m - V_T; they are set to 0 here.
  The conductances g_ex and g_in cannot be set at all (NEST's state
  setter ignores them): they start at 0, which these uncoupled neurons
  need anyway (``cobahh_nest.py`` delivers the network's initial
  conductances as spikes).
- The multimeter delivers its samples only up to one min_delay before the
  end of a ``Simulate`` call, so each run simulates 1 ms longer than
  ``--duration-ms`` and the samples past it are dropped.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wp_common  # noqa: E402

EXTRA_MS = 1.0  # the multimeter's last min_delay arrives only with a later step


def load_nest():
    nest = wp_common.need("nest", os.path.basename(__file__))
    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def parameters():
    """``hh_cond_exp_traub``'s parameters, each set to Brian2's COBAHH value (t_ref: Brian2's 3 ms)."""
    params = dict(wp_common.COBAHH)
    params.update(t_ref=3.0, I_e=0.0)
    return params


def build(nest, neurons, resolution_ms):
    """A fresh one-thread kernel with the neurons and a multimeter on the compared ones."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": resolution_ms, "local_num_threads": 1, "print_time": False})
    cells = nest.Create("hh_cond_exp_traub", neurons, params=parameters())
    cells.set(V_m=wp_common.V0_MV, Act_m=0.0, Inact_h=0.0, Act_n=0.0)
    cells.set(I_e=(1000.0 * wp_common.currents_nA(neurons)).tolist())  # nA -> pA
    compared = wp_common.subset(neurons)
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": resolution_ms})
    nest.Connect(meter, cells[compared.tolist()])
    return cells, meter, compared


def run_resolution(nest, neurons, duration_ms, resolution_ms, repeats):
    runs = []
    for _ in range(repeats):
        cells, meter, compared = build(nest, neurons, resolution_ms)
        start = time.perf_counter()
        nest.Simulate(duration_ms + EXTRA_MS)
        runs.append(time.perf_counter() - start)
    ids = np.asarray(cells.tolist())
    events = meter.get("events")
    senders, times, v = (np.asarray(events[key]) for key in ("senders", "times", "V_m"))
    traces, t = [], None
    for k in compared:
        own = senders == ids[k]
        order = np.argsort(times[own])
        tk, vk = times[own][order], v[own][order]
        keep = tk <= duration_ms + 1e-9
        # the state at t = 0 is not sampled: the first sample is the state after one step
        t = np.concatenate([[0.0], tk[keep]])
        traces.append(np.concatenate([[wp_common.V0_MV], vk[keep]]))
    return wp_common.best_of(runs), runs, wp_common.spikes_of(t, traces, compared)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--resolution-ms", type=float, nargs="*", default=[0.1, 0.05, 0.01])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    nest = load_nest()
    for resolution in args.resolution_ms:
        run_s, runs, spikes = run_resolution(nest, args.neurons, args.duration_ms, resolution, args.repeats)
        wp_common.emit(dict(simulator="NEST", version=nest.__version__,
                            config="hh_cond_exp_traub (GSL RKF45, abs. tol. 1e-3)", dt_ms=resolution,
                            neurons=args.neurons, duration_ms=args.duration_ms, run_s=run_s, runs_s=runs,
                            spikes=spikes))


if __name__ == "__main__":
    main()
