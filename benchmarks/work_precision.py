"""
Work precision on Brian2's COBAHH neuron: how long each simulator and
integrator takes for a given accuracy of the spike times, against the true
solution.

    python benchmarks/work_precision.py [--neurons 500] [--duration-ms 200] [--repeats 3] [--quick]
        [--dt-ms 0.1 0.08 ... 0.005] [--methods ...] [--grids-mv 0.1 0.02] [--no-peers]

``--neurons`` independent COBAHH neurons (``lut4brian.models.cobahh``, ge =
gi = 0), neuron k driven by a constant current from 0.2 nA to 1.5 nA
(``benchmarks/peers/wp_common.py``), all starting at v = -65 mV, m = h = n =
0, simulated for ``--duration-ms``. Spike times are the upward -20 mV
crossings of v; the error of a run is the largest difference from the
reference over 21 neurons spread over the currents, ``count_mismatch`` says
whether a neuron fired a different number of spikes (beyond what the error
allows at the end of the run).

Reference: scipy's ``solve_ivp`` with LSODA (rtol 1e-10, atol 1e-12, the
crossing located as an event), cross-checked with DOP853 at the same
tolerances (``reference_crosscheck_ms``: the largest difference of the two).
In the runs of fixed step, spike times are interpolated linearly between
the two recorded samples around the crossing, for every simulator alike.

Configurations, one thread each:

- Brian2 on cpp_standalone, the exact equations and lut4brian's tables
  (``--grids-mv``), the latter also without their out-of-range record
  (``unchecked``: ``prefs.lut4brian.range_check = False``, compiled with
  `VECTORISE` so that gcc vectorises the step; ``--no-unchecked`` leaves
  them out), each with every integrator of ``--methods`` that
  accepts them (by default Brian2's ``exponential_euler``, ``rk2``,
  ``heun``, ``rk4`` and every ``lut_*`` integrator lut4brian registers) at
  every ``--dt-ms``. One build per model and Brian2 integrator, its binary
  then run at each dt (Brian2's command-line arguments set
  ``defaultclock.dt``); one build per dt for lut4brian's integrators, whose
  tables of exp(-dt*Q(v)) hold for the dt they were built for
  (``built_for_dt_ms``). The binary's own run time, as Brian2 records it in
  ``results/last_run_info.txt``, is kept: compilation, loading and writing
  results excluded. ``run_s`` is the best of ``--repeats``.
- NEURON 9.0.2 (``benchmarks/peers/wp_neuron.py``): ``traub.mod``, fixed
  step with ``secondorder`` 0 and 2 at every dt, CVODE at two tolerances.
- NEST 3.10.0 (``benchmarks/peers/wp_nest.py``): ``hh_cond_exp_traub`` at
  resolutions 0.1, 0.05 and 0.01 ms.

The peers run with the Python of ``benchmarks/peers/.venv-sims`` (``bash
benchmarks/peers/setup sims``); without it they are left out, with a note.
Their differences from the Brian2 model are listed in their docstrings.

Prints one JSON line per configuration (``simulator``, ``version``,
``config``, ``dt_ms``, ``run_s``, ``max_spike_err_ms``, ``count_mismatch``
and more) and appends it to ``benchmarks/results/work_precision.jsonl``
(``--results``); ``images/make_figures.py`` draws ``images/work_precision.png``
from that file and ``benchmarks/readme_tables.py`` the README's table.
``--quick`` is a smoke test (tests/test_peers.py): 5 neurons, 20 ms, one dt,
two builds. At the defaults (500 neurons) the Brian2 integrators, NEURON and
NEST took about 8 minutes on this project's 2-core machine while other work
loaded it, and each ``lut_*`` integrator some 3 minutes more (15 builds).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import exprel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
import record  # noqa: E402
import wp_common  # noqa: E402

SIMS_PYTHON = os.path.join(record.PEERS, ".venv-sims", "bin", "python")
#: Brian2's integrators that the benchmark tries; lut4brian's are added (every registered ``lut_*`` method).
BRIAN2_METHODS = ["exponential_euler", "rk2", "heun", "rk4"]
REFERENCE = dict(method="LSODA", rtol=1e-10, atol=1e-12)
CROSSCHECK = dict(method="DOP853", rtol=1e-10, atol=1e-12)


# --- the reference ----------------------------------------------------------

def gate_rates(v_mV):
    """COBAHH's ``((alpha_m, beta_m), (alpha_h, beta_h), (alpha_n, beta_n))`` in 1/ms at ``v_mV`` (arrays allowed)."""
    u = v_mV - wp_common.COBAHH["V_T"]
    return ((0.32 * 4 / exprel((13 - u) / 4), 0.28 * 5 / exprel((u - 40) / 5)),
            (0.128 * np.exp((17 - u) / 18), 4 / (1 + np.exp((40 - u) / 5))),
            (0.032 * 5 / exprel((15 - u) / 5), 0.5 * np.exp((10 - u) / 40)))


def membrane_coefficients(m, h, n, current_nA):
    """``(M, C)`` of COBAHH's ``dv/dt = M*v + C`` (1/ms, mV/ms) at gates ``m, h, n`` (ge = gi = 0)."""
    p = wp_common.COBAHH
    g_na, g_k = p["g_Na"] / 1000 * m**3 * h, p["g_K"] / 1000 * n**4
    g_total = p["g_L"] / 1000 + g_na + g_k
    driven = p["g_L"] / 1000 * p["E_L"] + g_na * p["E_Na"] + g_k * p["E_K"] + current_nA
    c_nF = p["C_m"] / 1000
    return -g_total / c_nF, driven / c_nF


def cobahh_rhs(current_nA):
    """COBAHH's right-hand side in mV, ms, nA, nF and uS (ge = gi = 0), for scipy."""

    def rhs(t, y):
        v, m, h, n = y
        M, C = membrane_coefficients(m, h, n, current_nA)
        return [M * v + C] + [a * (1 - x) - b * x for x, (a, b) in zip((m, h, n), gate_rates(v))]

    return rhs


def reference_spikes(currents_nA, duration_ms, solver):
    """``[spike times (ms)]`` per current: the upward -20 mV crossings, located as solver events."""

    def crossing(t, y):
        return y[0] - wp_common.THRESHOLD_MV

    crossing.direction = 1
    result = []
    for current in currents_nA:
        solution = solve_ivp(cobahh_rhs(current), (0, duration_ms), [wp_common.V0_MV, 0, 0, 0],
                             events=crossing, **solver)
        if not solution.success:
            raise RuntimeError(f"the reference ({solver['method']}) failed at {current} nA: {solution.message}")
        result.append(solution.t_events[0])
    return result


def reference(neurons, duration_ms):
    """
    ``(spikes, info)``: LSODA's spike times of the compared neurons (past the
    end of the run by 10 ms, so that late spikes of a run can be paired) and
    how far DOP853's differ.
    """
    currents = wp_common.currents_nA(neurons)[wp_common.subset(neurons)]
    start = time.time()
    spikes = reference_spikes(currents, duration_ms + 10, REFERENCE)
    seconds = time.time() - start
    check = reference_spikes(currents, duration_ms + 10, CROSSCHECK)
    counts_agree = all(len(a) == len(b) for a, b in zip(spikes, check))
    diff = max((float(np.max(np.abs(a - b))) for a, b in zip(spikes, check) if len(a)), default=0.0) \
        if counts_agree else float("inf")
    info = dict(reference=f"scipy {REFERENCE['method']} rtol {REFERENCE['rtol']:g} atol {REFERENCE['atol']:g}",
                crosscheck=f"scipy {CROSSCHECK['method']}", reference_crosscheck_ms=diff, reference_s=seconds)
    return spikes, info


def spike_error(reference_spikes_, run_spikes, duration_ms, dt_ms=None):
    """
    ``(max_err_ms, count_mismatch)``: spikes paired in order; a mismatch is a
    count that the error cannot explain by spikes moving across the end of
    the run, or by a crossing after the last sample of a run of step
    ``dt_ms`` (which no interpolation between samples can see).
    """
    worst, mismatch = 0.0, False
    for ref, run in zip(reference_spikes_, run_spikes):
        ref, run = np.asarray(ref), np.asarray(run)
        n = min(len(ref), len(run))
        if n:
            worst = max(worst, float(np.max(np.abs(ref[:n] - run[:n]))))
    for ref, run in zip(reference_spikes_, run_spikes):
        ref = np.asarray(ref)
        lowest = np.count_nonzero(ref <= duration_ms - worst - (dt_ms or 0.0) - 1e-9)
        highest = np.count_nonzero(ref <= duration_ms + worst + 1e-9)
        mismatch |= not lowest <= len(run) <= highest
        if len(ref) and not len(run):
            worst = float("inf")
    return worst, bool(mismatch)


# --- Brian2 -----------------------------------------------------------------

#: gcc's option that lets it vectorise a COBAHH step: it checks at run time that Brian2's arrays do not
#: overlap, and by default gives up beyond 10 such checks (a step reads and writes six arrays).
VECTORISE = "--param=vect-max-version-for-alias-checks=200"


def brian2_models(grids_mV, unchecked=True):
    """
    ``{name: (equations, namespace, preferences)}``: the exact equations, the
    tables of each grid and, with ``unchecked``, the same tables without the
    out-of-range record (``prefs.lut4brian.range_check = False``) compiled
    with `VECTORISE`.
    """
    from brian2 import mV, prefs

    from lut4brian import models, tabulate

    equations, namespace = models.cobahh()
    result = {"exact": (equations, namespace, {})}
    fast = {"lut4brian.range_check": False,
            "codegen.cpp.extra_compile_args_gcc": prefs["codegen.cpp.extra_compile_args_gcc"] + [VECTORISE]}
    for step in grids_mV:
        tables = tabulate(equations, v=(-100 * mV, 100 * mV, step * mV), namespace=namespace)
        result[f"tables {step:g} mV"] = (tables, namespace, {})
        if unchecked:
            result[f"tables {step:g} mV, unchecked"] = (tables, namespace, fast)
    return result


def brian2_build(equations, namespace, preferences, method, neurons, duration_ms, dt_ms, directory):
    """
    Generate and compile one cpp_standalone project with Brian2's
    ``preferences`` (a dict) set meanwhile; returns the paths of the recorded
    t and v (relative to its results folder).
    """
    from brian2 import prefs

    saved = {key: prefs[key] for key in preferences}
    prefs.update(preferences)
    try:
        return _build(equations, namespace, method, neurons, duration_ms, dt_ms, directory)
    finally:
        prefs.update(saved)


def _build(equations, namespace, method, neurons, duration_ms, dt_ms, directory):
    from brian2 import NeuronGroup, Network, StateMonitor, defaultclock, device, mV, ms, nA, set_device

    set_device("cpp_standalone", directory=directory, build_on_run=False)
    defaultclock.dt = dt_ms * ms
    group = NeuronGroup(neurons, equations, method=method, namespace=namespace)
    group.v = wp_common.V0_MV * mV
    group.I = wp_common.currents_nA(neurons) * nA
    trace = StateMonitor(group, "v", record=wp_common.subset(neurons))
    Network(group, trace).run(duration_ms * ms)
    # dt becomes a command-line argument of the binary, so that one build serves every dt
    defaultclock.variables["dt"].read_only = False
    try:
        device.build(directory=directory, compile=True, run=False, with_output=False)
    finally:
        defaultclock.variables["dt"].read_only = True
    files = (device.get_array_filename(trace.variables["t"]), device.get_array_filename(trace.variables["v"]))
    device.reinit()
    device.activate()
    return files


def brian2_run(directory, files, dt_ms, neurons):
    """Run the binary at ``dt_ms``: ``(run_s, spikes)``."""
    subprocess.run(["./main", f"defaultclock.dt={dt_ms * 1e-3!r}"], cwd=directory, check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, OMP_NUM_THREADS="1"))
    results = os.path.join(directory, "results")
    with open(os.path.join(results, "last_run_info.txt")) as info:
        run_s = float(info.read().split()[0])
    t = np.fromfile(os.path.join(results, files[0]), dtype=np.float64) * 1e3
    v = np.fromfile(os.path.join(results, files[1]), dtype=np.float64).reshape(len(t), -1).T * 1e3
    return run_s, wp_common.spikes_of(t, v, wp_common.subset(neurons))


#: Brian2's own integrators: their code reads dt at run time, so one build serves every dt. lut4brian's
#: tabulate exp(-dt*Q(v)) for the dt of the build and are built anew for each dt.
DT_FREE = {"exponential_euler", "rk2", "rk4", "heun", "euler", "midpoint"}


def brian2_configs(args):
    """Yield ``(line, spikes)`` for every Brian2 model, integrator and dt."""
    import brian2
    from brian2 import StateUpdateMethod

    import lut4brian  # noqa: F401 (registers its integrators)

    registered = StateUpdateMethod.stateupdaters
    wanted = args.methods or BRIAN2_METHODS + sorted(m for m in registered if m.startswith("lut_"))
    methods = [m for m in wanted if m in registered]
    for missing in sorted(set(wanted) - set(methods)):
        print(f"# {missing} is not registered in this lut4brian: left out", file=sys.stderr)
    workdir = tempfile.mkdtemp(prefix="lut4brian_wp_")
    try:
        for model, (equations, namespace, preferences) in brian2_models(args.grids_mv, args.unchecked).items():
            for method in methods:
                builds = [args.dt_ms] if method in DT_FREE else [[dt] for dt in args.dt_ms]
                for dts in builds:
                    directory = os.path.join(workdir, f"{model}_{method}_{dts[0]:g}".replace(" ", "_"))
                    start = time.time()
                    try:
                        files = brian2_build(equations, namespace, preferences, method, args.neurons,
                                             args.duration_ms, dts[0],
                                             directory)
                    except Exception as error:  # an integrator that refuses these equations
                        print(f"# Brian2 {method} on the {model} equations: left out ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''})", file=sys.stderr)
                        _reset_device()
                        break
                    build_s = time.time() - start
                    for dt in dts:
                        runs, spikes = [], None
                        for _ in range(args.repeats):
                            run_s, spikes = brian2_run(directory, files, dt, args.neurons)
                            runs.append(run_s)
                        line = dict(simulator="Brian2", version=brian2.__version__, config=f"{method}, {model}",
                                    integrator=method, model=model, target="cpp_standalone", dt_ms=dt,
                                    run_s=wp_common.best_of(runs), runs_s=runs, build_s=build_s,
                                    built_for_dt_ms=dts[0])
                        yield line, spikes
                    shutil.rmtree(directory, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _reset_device():
    from brian2 import device

    try:
        device.reinit()
        device.activate()
    except Exception:
        pass


# --- the peers --------------------------------------------------------------

def peer_configs(args):
    """Yield ``(line, spikes)`` of NEURON's and NEST's runs, when their environment exists."""
    if not os.path.exists(SIMS_PYTHON):
        print("# NEURON and NEST left out: make their environment with `bash benchmarks/peers/setup sims`",
              file=sys.stderr)
        return
    common = ["--neurons", args.neurons, "--duration-ms", args.duration_ms, "--repeats", args.repeats]
    neuron = ["wp_neuron.py", *common, "--dt-ms", *args.dt_ms]
    nest = ["wp_nest.py", *common, "--resolution-ms", *args.nest_resolutions_ms]
    if args.quick:
        neuron += ["--cvode-atol", 1e-3]
    for script, *arguments in (neuron, nest):
        result = subprocess.run([SIMS_PYTHON, os.path.join(record.PEERS, script), *map(str, arguments)],
                                capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        if result.returncode != 0:
            raise SystemExit(f"benchmarks/peers/{script} failed:\n{result.stderr[-3000:]}")
        for text in result.stdout.splitlines():
            if text.startswith("{"):
                line = json.loads(text)
                yield line, line.pop("spikes")


# --- main -------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dt-ms", type=float, nargs="+", default=wp_common.DTS_MS)
    parser.add_argument("--nest-resolutions-ms", type=float, nargs="+", default=[0.1, 0.05, 0.01])
    parser.add_argument("--methods", nargs="+",
                        help=f"Brian2 integrators (default: {', '.join(BRIAN2_METHODS)} and every lut_* method "
                             "that lut4brian registers, such as lut_exponential_euler)")
    parser.add_argument("--grids-mv", type=float, nargs="*", default=[0.1, 0.02], help="table grid steps (mV)")
    parser.add_argument("--no-unchecked", dest="unchecked", action="store_false",
                        help="leave out the tables without range record (prefs.lut4brian.range_check = False)")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="Brian2 only")
    parser.add_argument("--no-brian2", dest="brian2", action="store_false", help="the peers only")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 5 neurons, 20 ms, dt 0.05 ms, exponential_euler on the exact equations "
                             "and on 0.1 mV tables, one repeat (the peers likewise)")
    record.add_argument(parser, "work_precision")
    args = parser.parse_args()
    if args.quick:
        args.neurons, args.duration_ms, args.repeats = 5, 20.0, 1
        args.dt_ms, args.nest_resolutions_ms, args.grids_mv = [0.05], [0.05], [0.1]
        args.methods, args.unchecked = ["exponential_euler"], False
    compared = wp_common.subset(args.neurons)
    ref_spikes, info = reference(args.neurons, args.duration_ms)
    record.emit(dict(simulator="scipy", config="reference", neurons=args.neurons, compared=len(compared),
                     duration_ms=args.duration_ms, spikes_compared=sum(int(np.sum(s <= args.duration_ms))
                                                                       for s in ref_spikes), **info),
                args.results)
    sources = ([brian2_configs(args)] if args.brian2 else []) + ([peer_configs(args)] if args.peers else [])
    for source in sources:
        for line, spikes in source:
            error, mismatch = spike_error(ref_spikes, [spikes[str(k)] for k in compared], args.duration_ms,
                                          line["dt_ms"])
            line.update(max_spike_err_ms=error, count_mismatch=mismatch, neurons=args.neurons,
                        compared=len(compared), duration_ms=args.duration_ms, threads=1,
                        reference_crosscheck_ms=info["reference_crosscheck_ms"])
            record.emit(line, args.results)


if __name__ == "__main__":
    main()
