"""
What the single-neuron work-precision runs share, whatever the simulator:
the drive of each neuron, the neurons whose spikes are compared, and how a
spike time is read off a recorded voltage. Only numpy, so that the scripts
of benchmarks/peers/ can use it from the peers' own environments.

>>> currents_nA(3)
array([0.2 , 0.85, 1.5 ])
>>> upward_crossings(np.array([0.0, 0.1, 0.2]), np.array([-30.0, -10.0, -40.0]), -20.0)
array([0.05])
"""

import json
import os
import sys

import numpy as np

#: Brian2's COBAHH neuron, in the units NEST and NEURON use (mV, ms, nS, pF).
COBAHH = dict(C_m=200.0, g_L=10.0, g_Na=20000.0, g_K=6000.0, E_L=-60.0, E_Na=50.0, E_K=-90.0, V_T=-63.0,
              E_ex=0.0, E_in=-80.0, tau_syn_ex=5.0, tau_syn_in=10.0)
#: The work-precision runs start every neuron here (mV, and the gates), uncoupled.
V0_MV = -65.0
THRESHOLD_MV = -20.0
#: The fixed steps (ms) every simulator runs at: the issue's 0.1 to 0.005 ms, with steps in between
#: so that the fastest run under each error level is not an artefact of a coarse grid.
DTS_MS = [0.1, 0.08, 0.065, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]
HERE = os.path.dirname(os.path.abspath(__file__))


def currents_nA(neurons):
    """Neuron k's constant drive: evenly from 0.2 nA to 1.5 nA."""
    return np.linspace(0.2, 1.5, neurons)


def subset(neurons, compared=21):
    """The indices of the neurons whose spike times are compared (evenly spread, first and last included)."""
    return np.unique(np.round(np.linspace(0, neurons - 1, min(compared, neurons))).astype(int))


def upward_crossings(t, v, threshold=THRESHOLD_MV):
    """
    Times at which ``v`` crosses ``threshold`` upwards, each linearly
    interpolated between the two samples around it (the same rule for
    every simulator and step).
    """
    t, v = np.asarray(t, float), np.asarray(v, float)
    below, above = v[:-1] < threshold, v[1:] >= threshold
    i = np.nonzero(below & above)[0]
    return t[i] + (threshold - v[i]) * (t[i + 1] - t[i]) / (v[i + 1] - v[i])


def spikes_of(t, traces, indices):
    """``{str(index): [spike times]}`` of the recorded ``traces`` (one row per index)."""
    return {str(int(k)): upward_crossings(t, trace).tolist() for k, trace in zip(indices, traces)}


def best_of(runs):
    """The shortest of the timed repeats (seconds): the least disturbed by other work on the machine."""
    return float(min(runs))


def need(module, script):
    """
    Import ``module`` (``'nest'`` or ``'neuron'``) or exit with how to make
    the environment that has it.
    """
    try:
        return __import__(module)
    except ImportError:
        sys.stderr.write(
            f"benchmarks/peers/{script} needs {module} ({'NEST 3.10.0' if module == 'nest' else 'NEURON 9.0.2'}), "
            f"which this Python ({sys.executable}) does not have.\n"
            "Make the peers' environment and run the script with its Python:\n"
            "    bash benchmarks/peers/setup sims\n"
            f"    benchmarks/peers/.venv-sims/bin/python benchmarks/peers/{script} ...\n")
        raise SystemExit(2)


def emit(line):
    print(json.dumps(line), flush=True)
