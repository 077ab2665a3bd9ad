"""
The figures of the README, made from the project's own code.

    python images/make_figures.py [--benchmark-json FILE] [--only NAME ...] [--quick]

Writes PNG files next to this script:

lookup_table.png
    A gating curve (the steady state of HH's m), a coarse grid on it, the
    interpolation segments of a `lut4brian.Table`, and the error between
    them, with the points where `lut4brian.report` checks it.
speedup.png
    The speed-up per target and integrator, and that of the control (exact
    equations, repeated subexpressions computed once), read from the JSON
    lines that ``benchmarks/cobahh.py`` writes (default:
    benchmarks/results/cobahh.jsonl; the lines of the README's table).
accuracy.png
    Accuracy against the grid step for the COBAHH neuron: the largest
    interpolation error of each table (from `lut4brian.report`) and the
    drift of spike times of single neurons (numpy target, one simulation).
fitted_response.png
    A spatial response fitted with frbrian's PyTorch fitter (the fit of
    examples/fit_with_spiking_neurons.ipynb, full size) against its data;
    made only where ``frbrian.fit`` exists.
work_precision.png
    Run time against spike-time error of every configuration of
    ``benchmarks/work_precision.py`` (Brian2 exact and tabulated with each
    integrator, NEURON, NEST), read from
    benchmarks/results/work_precision.jsonl.

``--quick`` shortens the simulation behind accuracy.png and the fit behind
fitted_response.png (for checks only).
"""

import argparse
import importlib.util
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCHMARK_JSON = os.path.join(ROOT, "benchmarks", "results", "cobahh.jsonl")
DPI = 110


def save(fig, name):
    path = os.path.join(HERE, name)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    print("wrote", os.path.relpath(path, ROOT))


# --- the lookup-table illustration -----------------------------------------

def lookup_table(args):
    from brian2 import exp, exprel, mV
    from lut4brian import Table

    def m_inf(v):
        """HH 1952's sodium activation at steady state, alpha_m/(alpha_m + beta_m)."""
        alpha = 1 / exprel(-(v + 40 * mV) / (10 * mV))  # 0.1/mV*(v + 40 mV)/(1 - exp(-(v + 40 mV)/10 mV)), per ms
        beta = 4 * exp(-(v + 65 * mV) / (18 * mV))
        return alpha / (alpha + beta)

    low, high, step = -100 * mV, 40 * mV, 10 * mV
    points = np.arange(float(low / mV), float(high / mV) + 1e-9, float(step / mV)) * mV
    table = Table(m_inf(points), low=low, step=step, name="m_inf_illustration")
    fine = np.linspace(float(low / mV), float(high / mV), 2801) * mV
    exact, interpolated = m_inf(fine), np.asarray(table(fine))

    fig, (ax, ax_err) = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ax.plot(fine / mV, exact, color="k", lw=2, label="exact  $m_\\infty(v)$")
    ax.plot(fine / mV, interpolated, color="C3", lw=1.2, label=f"table: linear segments, step {step / mV:g} mV")
    ax.plot(table.grid / mV, table.values, "o", color="C3", ms=4, label="grid points (the stored values)")
    ax.fill_between(fine / mV, exact, interpolated, color="C3", alpha=0.15)
    for v in table.grid / mV:
        ax.axvline(v, color="0.85", lw=0.6, zorder=0)
    ax.set_ylabel("$m_\\infty$")
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    ax.set_title("A lookup table: values on a grid, linear interpolation in between")

    error = interpolated - exact
    ax_err.plot(fine / mV, error, color="C3")
    ax_err.axhline(0, color="k", lw=0.6)
    quarter = (table.grid[:-1] / mV)[:, None] + float(step / mV) * np.array([0.25, 0.5, 0.75])
    check = quarter.ravel() * mV
    ax_err.plot(check / mV, np.asarray(table(check)) - m_inf(check), ".", color="k", ms=3,
                label="where lut4brian.report checks it")
    for v in table.grid / mV:
        ax_err.axvline(v, color="0.85", lw=0.6, zorder=0)
    ax_err.set_xlabel("v (mV)")
    ax_err.set_ylabel("table - exact")
    ax_err.legend(frameon=False, loc="lower left", fontsize=8)
    ax_err.text(0.99, 0.04, "the error falls with the square of the step:\na 0.1 mV grid makes it 10,000x smaller",
                transform=ax_err.transAxes, ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    save(fig, "lookup_table.png")


# --- speed-up per target, from the benchmark's JSON lines ------------------

def speedup(args):
    """The lines of the README's COBAHH table (benchmarks/readme_tables.py chooses them the same way)."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import record
    from readme_tables import cobahh_headline

    headline = cobahh_headline(record.read(args.benchmark_json))
    if not headline:
        raise SystemExit(f"No results for 4000 neurons, 200 ms in {args.benchmark_json}: run benchmarks/cobahh.py.")
    results = list(headline.values())
    order = ["cpp_standalone", "cython", "numpy", "cuda_standalone"]
    targets = sorted({r["target"] for r in results}, key=lambda t: order.index(t) if t in order else len(order))
    bars = [("control", "exact equations, subexpressions once (control)"),
            ("exponential_euler", "tables + exponential_euler"),
            ("lut_exponential_euler", "tables + lut_exponential_euler (no exp)")]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.27
    top = 1.0
    for k, (kind, label) in enumerate(bars):
        if kind == "control":  # the same control runs in every line of a target: take the first
            rows = {}
            for r in results:
                if "control_speedup" in r:
                    rows.setdefault(r["target"], r["control_speedup"])
        else:
            rows = {r["target"]: r["speedup"] for r in results if r["method"] == kind}
        x = [i + (k - 1) * width for i, t in enumerate(targets) if t in rows]
        values = [rows[t] for t in targets if t in rows]
        if not values:
            continue
        top = max(top, *values)
        bars_drawn = ax.bar(x, values, width, color=["0.6", "C0", "C1"][k], label=label)
        ax.bar_label(bars_drawn, labels=[f"{v:.1f}x" for v in values], fontsize=8)
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xticks(range(len(targets)), targets)
    ax.set_ylabel("speed-up over exact equations")
    first = results[0]
    ax.set_title(f"Brian2's COBAHH network: {first['neurons']} neurons, {first['duration_ms']:g} ms, "
                 f"dt = {first['dt_ms']:g} ms, grid {first['step_mV']:g} mV; medians of {first['repeats']} rounds",
                 fontsize=9)
    machine = first["machine"]
    ax.text(0.99, 0.97, f"{machine['cpu']}, {machine['cores']} cores, {first['date'][:10]}\n"
            f"(benchmarks/results/cobahh.jsonl)", transform=ax.transAxes, ha="right", va="top", fontsize=7,
            color="0.35")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_ylim(0, top * 1.3)
    fig.tight_layout()
    save(fig, "speedup.png")


# --- accuracy against the grid step ----------------------------------------

def accuracy(args):
    from brian2 import Network, NeuronGroup, StateMonitor, defaultclock, mV, ms, nA, prefs
    from brian2.core.functions import DEFAULT_FUNCTIONS
    from lut4brian import models, report, tabulate

    prefs.codegen.target = "numpy"
    prefs.codegen.runtime.numpy.discard_units = True  # read by Brian2 at import: exprel is told once more
    DEFAULT_FUNCTIONS["exprel"].implementations.add_numpy_implementation(DEFAULT_FUNCTIONS["exprel"].pyfunc,
                                                                         discard_units=True)
    defaultclock.dt = 0.01 * ms
    duration = (200 if args.quick else 1000) * ms
    steps = [0.1, 1.0, 4.0] if args.quick else [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0]
    report_steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0]
    grid = (-100 * mV, 100 * mV)  # every step divides its range
    equations, namespace = models.cobahh()
    currents = np.linspace(0.3, 1.5, 5) * nA
    threshold = -20.0  # mV

    def neurons(eqs, method, name):
        group = NeuronGroup(len(currents), eqs, method=method, namespace=namespace, name=name)
        group.v, group.m, group.h, group.n = -65 * mV, 0.05, 0.6, 0.32
        group.I = currents
        return [group, StateMonitor(group, "v", record=True, name=f"{name}_v")]

    def spike_times(monitor):
        t, v = monitor.t / ms, monitor.v / mV
        result = []
        for trace in v:
            k = np.flatnonzero((trace[:-1] < threshold) & (trace[1:] >= threshold))
            result.append(t[k] + (t[k + 1] - t[k]) * (threshold - trace[k]) / (trace[k + 1] - trace[k]))
        return result

    errors = {}
    for step in report_steps:
        for info in report(tabulate(equations, v=(*grid, step * mV), namespace=namespace)):
            errors.setdefault(info.name.removeprefix("lut_").rstrip("0123456789_"), []).append(info.max_rel_error)

    objects = {"exact": neurons(equations, "exponential_euler", "exact")}
    for step in steps:
        tabulated = tabulate(equations, v=(*grid, step * mV), namespace=namespace)
        for method in ("exponential_euler", "lut_exponential_euler"):
            objects[step, method] = neurons(tabulated, method, f"s{str(step).replace('.', '_')}_{method}")
    start = time.time()
    Network([obj for pair in objects.values() for obj in pair]).run(duration)
    print(f"accuracy: {len(objects)} groups, {duration / ms:g} ms simulated in {time.time() - start:.0f} s")
    exact = spike_times(objects["exact"][1])
    drift = {}
    for key, (_, monitor) in objects.items():
        if key != "exact":
            times = spike_times(monitor)
            same = all(len(a) == len(b) for a, b in zip(times, exact))
            drift[key] = max(np.max(np.abs(a - b)) for a, b in zip(times, exact)) if same else np.nan

    fig, (ax_table, ax_drift) = plt.subplots(1, 2, figsize=(10, 3.9))
    for name, values in errors.items():
        ax_table.loglog(report_steps, values, "o-", ms=3, label=name)
    ax_table.set_xlabel("grid step (mV)")
    ax_table.set_ylabel("largest relative error of the table")
    ax_table.set_title("Each table (lut4brian.report)", fontsize=10)
    ax_table.legend(frameon=False, fontsize=7, ncol=2)
    for method, marker in (("exponential_euler", "o-"), ("lut_exponential_euler", "s--")):
        ax_drift.loglog(steps, [drift[s, method] for s in steps], marker, ms=4, label=method)
    ax_drift.axhline(float(defaultclock.dt / ms), color="k", lw=0.8, ls=":")
    ax_drift.text(steps[0], float(defaultclock.dt / ms) * 1.2, f"dt = {float(defaultclock.dt / ms):g} ms", fontsize=8)
    missing = [f"{s:g} mV ({m})" for (s, m), d in drift.items() if np.isnan(d)]
    if missing:
        ax_drift.text(0.98, 0.03, "a different number of spikes (not shown):\n" + "\n".join(missing),
                      transform=ax_drift.transAxes, ha="right", va="bottom", fontsize=7)
    ax_drift.set_xlabel("grid step (mV)")
    ax_drift.set_ylabel(f"largest spike-time drift in {duration / ms:g} ms (ms)")
    ax_drift.set_title(f"COBAHH neurons driven by {currents[0] / nA:g}-{currents[-1] / nA:g} nA, "
                       f"{sum(map(len, exact))} spikes", fontsize=10)
    ax_drift.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save(fig, "accuracy.png")


# --- a fitted spatial response against its data ----------------------------

def fitted_response(args):
    if importlib.util.find_spec("frbrian.fitting") is None or importlib.util.find_spec("torch") is None:
        print("fitted_response.png skipped: it needs frbrian.fit and torch")
        return
    import torch
    from brian2 import Hz, ms
    from frbrian import Coupling, Gaussian, Grid, power_law, steady_state
    from frbrian.fitting import fit, normalised_rms
    from frbrian.torch_model import RateModel

    torch.set_num_threads(1)
    # fr-models' E/I network on a line: W[target, source] in 1/Hz, Gaussian widths, baseline rates (Hz)
    w_true = np.array([[1.09546555, -0.89098157], [0.90011321, -0.28263247]])
    sigma_true = np.array([[0.2173913, 0.17391304], [0.17391304, 0.22608696]])
    r_star = np.array([1.36740442, 1.0928196])
    units = 41 if args.quick else 101
    grid = Grid((units,))
    x = grid.axes()[0]
    centre = units // 2
    stimulus = np.zeros((2, units))
    stimulus[0] = 0.5 * np.exp(-x**2 / (2 * 0.05**2))  # a bump of input to the E cells
    baseline = np.repeat(r_star[:, None], units, axis=1)
    measured = np.arange(centre, units)[x[centre:] <= 0.5 + 1e-9]

    def response(weights, sigma):
        coupling = Coupling(grid, weights, [[Gaussian(s) for s in row] for row in sigma])
        held = np.sqrt(baseline) - coupling(baseline)  # holds r* for f(u) = u^2
        return steady_state(coupling, power_law(), held + stimulus, initial=baseline).rates - baseline

    truth = response(w_true, sigma_true)
    data = truth[:, measured] + 0.03 * np.abs(truth).max() * np.random.default_rng(1).normal(size=(2, len(measured)))
    model = RateModel(Coupling(grid, [[1.0, -1.0], [1.0, -0.5]], Gaussian(0.2)), tau=[20 * ms, 10 * ms],
                      transfer=power_law(), names=["E", "I"], baseline=baseline * Hz)
    drive, where = torch.as_tensor(stimulus), torch.as_tensor(measured)

    def predict(m):
        return (m.steady_rates(drive=drive, initial=m.baseline) - m.baseline)[:, where]

    result = fit(model, data, predict, free={"weights": True, "kernel.sigma": True},
                 bounds={"kernel.sigma": (0.02, 0.5), "weights": (-3.0, 3.0)}, dale=[+1, -1], stability_margin=0.0,
                 restarts=1 if args.quick else 3, time_limit=300, seed=0)
    print(f"fitted_response: loss {result.loss:.4f}, {result.iterations} iterations, {result.seconds:.0f} s; "
          f"{result.message}")
    fitted = response(np.asarray(result.params["weights"] * Hz), np.asarray(result.params["kernel.sigma"]))
    noise = float(normalised_rms(torch.as_tensor(truth[:, measured]), torch.as_tensor(data)))

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for k, (name, color) in enumerate((("E", "C3"), ("I", "C0"))):
        ax.plot(x[measured], data[k], "o", color=color, ms=4, label=f"{name}: data (3% noise)")
        ax.plot(x[centre:], fitted[k, centre:], "-", color=color, label=f"{name}: fitted model")
        ax.plot(x[centre:], truth[k, centre:], ":", color="k", lw=1, label="model the data came from" if k == 0 else None)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("distance from the stimulus")
    ax.set_ylabel("change of the steady-state rate (Hz)")
    ax.set_title(f"E/I rate model on a line ({units} units per type), 4 weights and 4 widths fitted with "
                 f"frbrian.fit\nnormalised RMS error {result.loss:.3f} (the noise alone: {noise:.3f})", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save(fig, "fitted_response.png")


# --- work precision, from benchmarks/work_precision.py's JSON lines --------

def work_precision(args):
    """Run time against spike-time error, one line per simulator, integrator and model (dt along each line)."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import record
    from readme_tables import ERROR_LEVELS, work_precision_lines

    path = os.path.join(ROOT, "benchmarks", "results", "work_precision.jsonl")
    lines = work_precision_lines(record.read(path)) if os.path.exists(path) else {}
    if not lines:
        raise SystemExit(f"No full-size results in {path}: run benchmarks/work_precision.py.")
    series = {}
    for line in lines.values():
        if line["simulator"] == "Brian2":
            key = ("Brian2", line["integrator"], line["model"])
        elif line["dt_ms"] is None:  # CVODE: the tolerances along one line
            key = (line["simulator"], "CVODE", "")
        elif line["simulator"] == "NEURON":  # "fixed step, secondorder=N, tables"
            key = ("NEURON", line["config"].split(",")[1].strip(), "")
        else:
            key = (line["simulator"], line["config"].split(" (")[0], "")
        series.setdefault(key, []).append(line)
    colours = {"exponential_euler": "C0", "lut_exponential_euler": "C1", "rk2": "C2", "heun": "C4", "rk4": "C3",
               "lut_strang": "C5", "lut_staggered": "C6", "secondorder=0": "C7", "secondorder=2": "C8", "CVODE": "C9"}
    styles = {"exact": ":", "tables 0.1 mV": "-", "tables 0.02 mV": "--",
              "tables 0.1 mV, unchecked": "-.", "tables 0.02 mV, unchecked": (0, (6, 1, 1, 1, 1, 1))}
    markers = {"Brian2": "o", "NEURON": "s", "NEST": "^"}
    fig, ax = plt.subplots(figsize=(10, 7.5))
    for (simulator, kind, model), points in sorted(series.items()):
        points = [p for p in points if p["max_spike_err_ms"] > 0 and np.isfinite(p["max_spike_err_ms"])]
        points.sort(key=lambda p: p["max_spike_err_ms"])
        if not points:
            continue
        error = [p["max_spike_err_ms"] for p in points]
        seconds = [p["run_s"] for p in points]
        colour = "k" if simulator == "NEST" else colours.get(kind, "0.5")
        label = f"{simulator} {kind}" + (f", {model}" if model else "")
        ax.plot(error, seconds, linestyle=styles.get(model, "-"), marker=markers[simulator], color=colour, ms=5, lw=1.1,
                mfc="none" if model == "exact" else colour, label=label)
        wrong = [(e, s) for p, e, s in zip(points, error, seconds) if p["count_mismatch"]]
        if wrong:
            ax.plot(*zip(*wrong), "x", color="r", ms=8, mew=1.2, zorder=5)
    for level in ERROR_LEVELS:
        ax.axvline(level, color="0.85", lw=0.6, zorder=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("largest spike-time error (ms) against scipy LSODA at rtol 1e-10")
    ax.set_ylabel("run time (s), one thread, best of repeats")
    first = next(iter(lines.values()))
    ax.set_title(f"Work precision, COBAHH neuron: {first['neurons']} uncoupled neurons, 0.2-1.5 nA, "
                 f"{first['duration_ms']:g} ms (red x: spike counts differ)", fontsize=9)
    ax.text(0.99, 0.01, f"{first['machine']['cpu']}, {first['machine']['cores']} cores, "
            f"{first['date'][:10]}\n(benchmarks/results/work_precision.jsonl)", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, color="0.35")
    ax.legend(frameon=False, fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save(fig, "work_precision.png")


FIGURES = {"lookup_table": lookup_table, "speedup": speedup, "accuracy": accuracy, "fitted_response": fitted_response,
           "work_precision": work_precision}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark-json", default=BENCHMARK_JSON,
                        help="JSON lines of benchmarks/cobahh.py (default: %(default)s)")
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="make only these figures")
    parser.add_argument("--quick", action="store_true", help="shorter runs for accuracy.png and fitted_response.png (checks only)")
    args = parser.parse_args()
    from brian2 import prefs

    # Compiled modules, if any, go to the build folder, never the home directory.
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    for name in args.only or FIGURES:
        FIGURES[name](args)


if __name__ == "__main__":
    main()
