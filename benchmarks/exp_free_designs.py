"""
Can an exp-free second-order integrator reach a spike-time error in half
the time of ``rk4`` on the same tables? The method error of each design,
and the least time it could take.

    python benchmarks/exp_free_designs.py [--dt-ms ...] [--levels-ms 1 0.1 0.01]

The work-precision problem of ``benchmarks/work_precision.py`` (its 21
compared COBAHH neurons, 0.2 to 1.5 nA, 200 ms, the same LSODA reference
and the same linearly interpolated -20 mV crossings), integrated in numpy
by each design on the exact rates, so that only the method's error counts:

- ``lut_strang``: lut4brian's (membrane half step by Crank-Nicolson, exact
  gate step at the halfway voltage, membrane half step);
- ``strang_exp_membrane``: the same with the membrane half steps exact (one
  exp per neuron), to see whether Crank-Nicolson costs accuracy;
- ``lut_staggered``: lut4brian's, NEURON's ``secondorder = 2``: the gates
  half a step behind the voltage (from the initial gates as they are, as
  the integrator takes them), each step an exact gate step at v, then a
  Crank-Nicolson membrane step; Strang splitting in gate-membrane-gate
  order with the gate half steps merged;
- ``rush_larsen2``: the exponential midpoint rule (Perego and Veneziani
  2009; Sundnes et al. 2009): a half step of gates (exact) and membrane
  (Crank-Nicolson) to the midpoint, then a full exact gate step at the
  midpoint voltage and a Crank-Nicolson membrane step with the midpoint
  gates;
- ``triple_jump``: ``lut_strang`` composed into fourth order (Yoshida
  1990), three steps of 1.35, -1.70 and 1.35 dt;
- Brian2's explicit ``rk2`` (midpoint), Kutta's third-order ``rk3``, and
  ``rk4``, for comparison (``rk4`` here checks that numpy gives the error
  measured on cpp_standalone).

For each exp-free design and error level it reports the largest dt of
``--dt-ms`` at which it and every smaller dt reach the level, the next
larger dt (``failed_dt_ms``), at which it does not, and ``floor_s``, a
lower bound on its run time there: ``duration / failed_dt_ms`` steps (it
needs more), each costing ``work`` times the cheapest ``lut_strang`` step
in ``benchmarks/results/work_precision.jsonl`` (per neuron and step, 500
neurons, on unchecked tables). ``work``
counts a design's gate steps and membrane steps against ``lut_strang``'s
(`WORK`). ``rk4_s`` is the fastest measured ``rk4`` on the same tables
(0.1 mV, unchecked) that reaches the level. For lut4brian's own
integrators, ``work_precision.py`` measures the time itself.

One JSON line per design and dt (``kind: "error"``) and per design and
level (``kind: "floor"``, exp-free designs only), appended to
``benchmarks/results/exp_free_designs.jsonl``. About 3 minutes on 2 cores.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
import record  # noqa: E402
import wp_common  # noqa: E402
from readme_tables import work_precision_lines  # noqa: E402
from work_precision import REFERENCE, gate_rates, membrane_coefficients, reference_spikes, spike_error  # noqa: E402

NEURONS, DURATION_MS = 500, 200.0
CURRENTS = wp_common.currents_nA(NEURONS)[wp_common.subset(NEURONS)]
DTS_MS = [0.1, 0.08, 0.065, 0.05, 0.04, 0.035, 0.03, 0.025, 0.0225, 0.02, 0.0175, 0.015, 0.0125, 0.01, 0.009, 0.008,
          0.007, 0.006, 0.005, 0.004]


# --- the two exact sub-flows and the right-hand side, on states (v, m, h, n) of shape (4, neurons) ---

def gates_step(y, dt):
    """The gates after ``dt`` with v fixed: exact (what lut4brian's step tables hold)."""
    v = y[0]
    out = [v]
    for x, (a, b) in zip(y[1:], gate_rates(v)):
        steady = a / (a + b)
        out.append(steady + (x - steady) * np.exp(-dt * (a + b)))
    return np.array(out)


def membrane_step(y, dt, exact=False):
    """v after ``dt`` with the gates fixed: Crank-Nicolson, or exact."""
    v, m, h, n = y
    M, C = membrane_coefficients(m, h, n, CURRENTS)
    v_new = (v + C / M) * np.exp(dt * M) - C / M if exact else v + dt * (M * v + C) / (1 - dt / 2 * M)
    return np.array([v_new, m, h, n])


def rhs(y):
    v, m, h, n = y
    M, C = membrane_coefficients(m, h, n, CURRENTS)
    return np.array([M * v + C] + [a * (1 - x) - b * x for x, (a, b) in zip((m, h, n), gate_rates(v))])


# --- the designs: one step each ---

def lut_strang(y, dt, exact=False):
    return membrane_step(gates_step(membrane_step(y, dt / 2, exact), dt), dt / 2, exact)


def rush_larsen2(y, dt):
    half = gates_step(membrane_step(y, dt / 2), dt / 2)
    midpoint_gates = gates_step(np.array([half[0], *y[1:]]), dt)
    v = membrane_step(np.array([y[0], *half[1:]]), dt)[0]
    return np.array([v, *midpoint_gates[1:]])


def lut_staggered(y, dt):
    # the state holds the gates half a step behind v: a gate step, then a membrane step
    return membrane_step(gates_step(y, dt), dt)


YOSHIDA = 1 / (2 - 2 ** (1 / 3))


def triple_jump(y, dt):
    for fraction in (YOSHIDA, 1 - 2 * YOSHIDA, YOSHIDA):
        y = lut_strang(y, fraction * dt)
    return y


def rk2(y, dt):
    return y + dt * rhs(y + dt / 2 * rhs(y))


def rk3(y, dt):
    k1 = rhs(y)
    k2 = rhs(y + dt / 2 * k1)
    return y + dt / 6 * (k1 + 4 * k2 + rhs(y - dt * k1 + 2 * dt * k2))


def rk4(y, dt):
    k1 = rhs(y)
    k2 = rhs(y + dt / 2 * k1)
    k3 = rhs(y + dt / 2 * k2)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + rhs(y + dt * k3))


#: The designs that take no exp() per gate, and the least work of one step in lut_strang steps (a gate step:
#: a grid index and a lookup per gate; a membrane step: its coefficients and a division). lut_strang: a gate
#: step and two membrane half steps. rush_larsen2: two of each, at least one lut_strang step.
#: triple_jump: three gate steps and four membrane steps (the inner half steps merged), at least two.
#: lut_staggered: one of each, at least half of one.
WORK = {"lut_strang": 1, "strang_exp_membrane": 1, "rush_larsen2": 1, "triple_jump": 2, "lut_staggered": 0.5}
DESIGNS = {
    "lut_strang": lut_strang,
    "lut_staggered": lut_staggered,
    "strang_exp_membrane": lambda y, dt: lut_strang(y, dt, exact=True),
    "rush_larsen2": rush_larsen2,
    "triple_jump": triple_jump,
    "rk2": rk2,
    "rk3": rk3,
    "rk4": rk4,
}


def voltage_trace(design, dt):
    """v of the compared neurons at every step (mV), from v0 and closed gates."""
    steps = int(round(DURATION_MS / dt))
    y = np.array([np.full(len(CURRENTS), wp_common.V0_MV)] + [np.zeros(len(CURRENTS))] * 3)
    trace = np.empty((steps + 1, len(CURRENTS)))
    trace[0] = y[0]
    step = DESIGNS[design]
    with np.errstate(all="ignore"):  # a design unstable at large dt overflows; its error is then inf
        for k in range(steps):
            y = step(y, dt)
            trace[k + 1] = y[0]
    return trace


def errors(design, dts_ms, reference):
    """``{dt: (max_spike_err_ms, count_mismatch)}``."""
    out = {}
    for dt in dts_ms:
        trace = voltage_trace(design, dt)
        t = np.arange(len(trace)) * dt
        spikes = [wp_common.upward_crossings(t, trace[:, k]) for k in range(len(CURRENTS))]
        out[dt] = spike_error(reference, spikes, DURATION_MS, dt)
    return out


def needed_dt(errors_by_dt, level_ms):
    """
    ``(reached, failed)``: the largest dt at which the design and every
    smaller dt reach ``level_ms`` without a count mismatch, and the next
    larger dt of the grid, which does not (``None`` where there is none).
    The dt the design needs lies in between: ``duration / failed`` steps
    are fewer than it takes.
    """
    reached = failed = None
    for dt in sorted(errors_by_dt):
        error, mismatch = errors_by_dt[dt]
        if mismatch or not error <= level_ms:
            failed = dt
            break
        reached = dt
    return reached, failed


def measured(path):
    """From work_precision.jsonl (each configuration's latest line): the cheapest ``lut_strang`` step (s per neuron
    and step), its line, and rk4's lines on the unchecked 0.1 mV tables."""
    lines = work_precision_lines(record.read(path)).values()
    brian2 = [line for line in lines if line["simulator"] == "Brian2"]

    def cost(line):
        return line["run_s"] / (line["neurons"] * line["duration_ms"] / line["dt_ms"])

    cheapest = min((line for line in brian2 if line["integrator"] == "lut_strang"), key=cost)
    rk4 = [line for line in brian2 if line["integrator"] == "rk4" and line["model"] == "tables 0.1 mV, unchecked"]
    return cost(cheapest), cheapest, rk4


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dt-ms", type=float, nargs="+", default=DTS_MS)
    parser.add_argument("--levels-ms", type=float, nargs="+", default=[1.0, 0.1, 0.01])
    parser.add_argument("--designs", nargs="+", choices=sorted(DESIGNS), default=list(DESIGNS))
    parser.add_argument("--work-precision", default=os.path.join(record.RESULTS, "work_precision.jsonl"))
    record.add_argument(parser, "exp_free_designs")
    args = parser.parse_args()
    per_step_s, cheapest, rk4_lines = measured(args.work_precision)
    reference = reference_spikes(CURRENTS, DURATION_MS + 10, REFERENCE)
    for design in args.designs:
        found = errors(design, args.dt_ms, reference)
        for dt, (error, mismatch) in found.items():
            record.emit(dict(kind="error", design=design, dt_ms=dt, max_spike_err_ms=error,
                             count_mismatch=mismatch, compared=len(CURRENTS), duration_ms=DURATION_MS,
                             rates="exact", target="numpy"), args.results)
        for level in args.levels_ms if design in WORK else ():
            reached, failed = needed_dt(found, level)
            reached_by_rk4 = [r["run_s"] for r in rk4_lines
                              if r["max_spike_err_ms"] <= level and not r["count_mismatch"]]
            rk4_s = min(reached_by_rk4) if reached_by_rk4 else None
            floor = DURATION_MS / failed * NEURONS * per_step_s * WORK[design] if reached and failed else None
            record.emit(dict(kind="floor", design=design, level_ms=level, dt_ms=reached,
                             max_spike_err_ms=found[reached][0] if reached else None, failed_dt_ms=failed,
                             work=WORK[design], floor_s=floor, rk4_s=rk4_s,
                             floor_over_rk4=floor / rk4_s if floor and rk4_s else None,
                             lut_strang_step_ns=per_step_s * 1e9,
                             lut_strang_step=f"{cheapest['config']}, dt {cheapest['dt_ms']} ms",
                             neurons=NEURONS), args.results)


if __name__ == "__main__":
    main()
