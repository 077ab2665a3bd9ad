"""
``python -m lut4brian``: run an unchanged Brian2 script with
``prefs.lut4brian.auto``, or compare it run with tables and exact.

With ``--compare`` each variant runs in a fresh Python process (a
cpp_standalone script can only be built once per process), seeded alike,
and writes what the comparison needs (its monitors' data, its run times,
the tables of each group) to a file read back by the parent.
"""

import argparse
import json
import os
import pickle
import runpy
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

__all__ = ["main", "compare", "run_variant", "format_report", "parse_setting"]

#: The seed of both variants (a script that seeds itself overrides it alike in both).
SEED = 20240917


def parse_setting(grid=None, tolerance=None, value_range="-100:100", var="v", unit="mV"):
    """
    The value of ``prefs.lut4brian.auto`` for the command-line options:
    ``grid='LOW:HIGH:STEP'`` or ``tolerance=RTOL`` over ``value_range='LOW:HIGH'``,
    numbers in ``unit``. With neither, the grid -100:100:0.1 mV.

    >>> parse_setting(grid="-80:60:0.5")["v"]
    (-80. * mvolt, 60. * mvolt, 0.5 * mvolt)
    """
    from brian2.units.allunits import all_units

    scale = next(u for u in all_units if str(u) == unit or u.name == unit) if unit != "mV" else None
    if scale is None:
        from brian2 import mV as scale
    if grid is not None and tolerance is not None:
        raise ValueError("Give either --grid LOW:HIGH:STEP or --tolerance RTOL, not both.")
    numbers = (grid or "-100:100:0.1") if tolerance is None else value_range
    try:
        values = tuple(float(x) * scale for x in numbers.split(":"))
    except ValueError:
        raise ValueError(f"Could not read the grid {numbers!r}: write LOW:HIGH:STEP (or LOW:HIGH) in {unit}.")
    if len(values) != (3 if tolerance is None else 2):
        raise ValueError(f"The grid {numbers!r} needs {'LOW:HIGH:STEP' if tolerance is None else 'LOW:HIGH'}.")
    setting = {var: values}
    if tolerance is not None:
        setting["tolerance"] = float(tolerance)
    return setting


def _monitor_data():
    """The data of every live SpikeMonitor, EventMonitor and StateMonitor, by name (unitless, SI)."""
    from brian2 import EventMonitor, StateMonitor
    from brian2.units.fundamentalunits import get_unit

    from ._brian_internals import live_objects

    data = {}
    for monitor in live_objects(EventMonitor):
        try:
            data[monitor.name] = dict(kind="spikes", source=monitor.source.name,
                                      i=np.asarray(monitor.i[:]), t=np.asarray(monitor.t_[:]))
        except Exception as error:  # e.g. a standalone project that was never built
            data[monitor.name] = dict(kind="spikes", source=monitor.source.name, error=str(error))
    for monitor in live_objects(StateMonitor):
        traces = {}
        for var in monitor.record_variables:
            try:
                traces[var] = (np.asarray(getattr(monitor, var + "_")),
                               str(get_unit(monitor.variables[var].dim)))
            except Exception as error:
                traces[var] = (None, str(error))
        data[monitor.name] = dict(kind="states", source=monitor.source.name, traces=traces)
    return data


def run_variant(script, args, setting, out=None, seed=SEED):
    """
    Run ``script`` with ``args`` in this process, with ``prefs.lut4brian.auto
    = setting`` (``None``: exact), seeded with ``seed``; with ``out``, write
    what `compare` needs there (a pickle). Returns that record.
    """
    import brian2
    from brian2 import prefs

    from . import auto
    from ._brian_internals import run_times, seed_standalone_device, standalone_run_time, time_runs

    prefs.lut4brian.auto = setting
    brian2.seed(seed)
    seed_standalone_device(seed)
    time_runs()
    record = dict(script=script, setting=repr(setting), error=None)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    start = time.perf_counter()
    script_globals = {}  # kept until the monitors are read: they may live only there
    try:
        script_globals = runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        if stop.code not in (None, 0):
            record["error"] = dict(type="SystemExit", message=str(stop.code))
    except Exception as error:
        traceback.print_exc()
        error = auto.auto_error(error) or error
        record["error"] = dict(type=type(error).__name__, message=str(error),
                               group=getattr(error, "group", None), expression=getattr(error, "expression", None))
    record["wall"] = time.perf_counter() - start
    loops = [loop for _, loop in run_times]
    standalone = standalone_run_time()
    record["runs"] = len(run_times)
    record["run_time"] = standalone if standalone is not None else (sum(loops) if None not in loops else None)
    record["groups"] = dict(auto.tabulated_groups)
    record["monitors"] = _monitor_data()
    del script_globals
    if out is not None:
        with open(out, "wb") as file:
            pickle.dump(record, file)
    return record


def _variant_in_subprocess(kind, script, args, setting_args, python, seed=SEED):
    with tempfile.TemporaryDirectory(prefix="lut4brian_compare_") as folder:
        out = os.path.join(folder, f"{kind}.pickle")
        command = [python, "-m", "lut4brian", "--_run-variant", kind, "--_out", out, f"--seed={seed}",
                   *setting_args, script, *args]
        env = dict(os.environ, MPLBACKEND="Agg")
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if not os.path.exists(out):
            raise RuntimeError(f"The {kind} run of {script} stopped before it could report:\n"
                               + (done.stdout + done.stderr)[-4000:])
        with open(out, "rb") as file:
            record = pickle.load(file)
    record["output"] = (done.stdout + done.stderr)[-4000:]
    return record


def _spike_comparison(exact, tables):
    n = int(max(exact["i"].max(initial=-1), tables["i"].max(initial=-1))) + 1
    shift, differing = 0.0, 0
    for k in range(n):
        a, b = np.sort(exact["t"][exact["i"] == k]), np.sort(tables["t"][tables["i"] == k])
        differing += len(a) != len(b)
        m = min(len(a), len(b))
        if m:
            shift = max(shift, float(np.max(np.abs(a[:m] - b[:m]))))
    return dict(spikes_exact=int(len(exact["i"])), spikes_tables=int(len(tables["i"])),
                neurons_with_other_counts=differing, max_spike_shift=shift)


def _state_comparison(exact, tables):
    result = {}
    for var, (values, unit) in exact["traces"].items():
        other = tables["traces"].get(var, (None, ""))[0]
        if values is None or other is None or np.shape(values) != np.shape(other):
            result[var] = dict(unit=unit, max_difference=None)
        else:
            result[var] = dict(unit=unit, max_difference=float(np.max(np.abs(values - other), initial=0.0)))
    return dict(variables=result)


def compare_records(exact, tables):
    """The A/B comparison of two `run_variant` records (a dict, see `format_report`)."""
    monitors = {}
    for name, data in exact["monitors"].items():
        other = tables["monitors"].get(name)
        if other is None or "error" in data or "error" in other:
            continue
        compared = (_spike_comparison(data, other) if data["kind"] == "spikes"
                    else _state_comparison(data, other))
        monitors[name] = dict(kind=data["kind"], source=data["source"], **compared)
    speedup = None
    if exact.get("run_time") and tables.get("run_time"):
        speedup = exact["run_time"] / tables["run_time"]
    return dict(script=exact["script"], setting=tables["setting"],
                run_time=dict(exact=exact.get("run_time"), tables=tables.get("run_time")),
                wall=dict(exact=exact.get("wall"), tables=tables.get("wall")), speedup=speedup,
                groups=tables.get("groups", {}), monitors=monitors,
                errors=dict(exact=exact.get("error"), tables=tables.get("error")))


def compare(script, args=(), setting_args=(), python=sys.executable, seed=SEED):
    """
    Run ``script`` exact and with ``prefs.lut4brian.auto``, each in a fresh
    process with the same ``seed``, and compare them (see `compare_records`).
    ``setting_args`` are the command-line options of the grid.
    """
    exact = _variant_in_subprocess("exact", script, list(args), list(setting_args), python, seed)
    tables = _variant_in_subprocess("tables", script, list(args), list(setting_args), python, seed)
    return compare_records(exact, tables)


def _seconds(value):
    return "-" if value is None else f"{value:.3g} s"


def _format_failure(report):
    error = report["errors"]["tables"]
    lines = [f"The script fails with prefs.lut4brian.auto ({error['type']}), but runs without it:",
             f"  {error['message']}"]
    if error.get("group"):
        lines.append(f"  Group: '{error['group']}'; expression: {error['expression']}.")
        lines.append(f"  Keep it exact with prefs.lut4brian.exclude = ['{error['group']}'].")
    return "\n".join(lines)


def format_report(report):
    """The comparison of `compare` as text, for people."""
    lines = [f"lut4brian --compare {report['script']} (prefs.lut4brian.auto = {report['setting']})"]
    errors = report["errors"]
    if errors["exact"]:
        lines.append(f"The script fails without tables as well: {errors['exact']['type']}: {errors['exact']['message']}")
        return "\n".join(lines)
    if errors["tables"]:
        lines.append(_format_failure(report))
        return "\n".join(lines)
    speedup = "" if report["speedup"] is None else f"  (speed-up {report['speedup']:.2f}x)"
    lines.append(f"simulation time: exact {_seconds(report['run_time']['exact'])}, "
                 f"tables {_seconds(report['run_time']['tables'])}{speedup}")
    lines.append(f"whole script:    exact {_seconds(report['wall']['exact'])}, tables {_seconds(report['wall']['tables'])}")
    for name, group in sorted(report["groups"].items()):
        if not group["tables"]:
            lines.append(f"group '{name}': nothing worth a table, exact")
            continue
        lines.append(f"group '{name}': {len(group['tables'])} tables, integrated with {group['method']}")
        for table in group["tables"]:
            lines.append(f"    {table['name']}: {table['points']} points, step "
                         f"{_in_unit(table['step'], table['unit'])}: {table['expression']}")
    for name, monitor in sorted(report["monitors"].items()):
        if monitor["kind"] == "spikes":
            lines.append(f"{name} ({monitor['source']}): {monitor['spikes_exact']} spikes exact, "
                         f"{monitor['spikes_tables']} with tables; neurons with another count: "
                         f"{monitor['neurons_with_other_counts']}; largest spike-time shift "
                         f"{monitor['max_spike_shift'] * 1e3:.4g} ms")
        else:
            for var, diff in monitor["variables"].items():
                value = diff["max_difference"]
                text = "not comparable" if value is None else _in_unit(value, diff["unit"])
                lines.append(f"{name} ({monitor['source']}) {var}: largest difference {text}")
    return "\n".join(lines)


def _in_unit(value, unit):
    if unit == "V":
        return f"{value * 1e3:.4g} mV"
    return f"{value:.4g} {unit}"


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m lut4brian",
        description="Run a Brian2 script with lookup tables (prefs.lut4brian.auto), or compare it with and "
                    "without them (--compare).")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--grid", metavar="LOW:HIGH:STEP", help="fixed grid of v, in mV (default -100:100:0.1)")
    choice.add_argument("--tolerance", metavar="RTOL", type=float,
                        help="choose each table's step for this relative error, over --range")
    parser.add_argument("--range", metavar="LOW:HIGH", default="-100:100", help="range of v for --tolerance, in mV")
    parser.add_argument("--variable", metavar="NAME", default="v",
                        help="the groups' voltage variable that the tables take (default v; e.g. V)")
    parser.add_argument("--compare", action="store_true",
                        help="run the script exact and with tables (same seed) and print an A/B report")
    parser.add_argument("--json", metavar="FILE", help="with --compare: also write the report as JSON here")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="with --compare: the random seed of both runs (a script's own seed() overrides it)")
    parser.add_argument("--_run-variant", choices=["exact", "tables"], help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


#: The options that take a value.
_VALUED = ("--grid", "--range", "--variable", "--tolerance", "--json", "--seed", "--_run-variant", "--_out")


def _joined_negative_values(argv):
    """
    ``--grid -100:50:0.1`` as ``--grid=-100:50:0.1`` (argparse takes a value
    with a leading '-' for an option), up to the script: what follows it is
    the script's own.
    """
    joined, k = [], 0
    while k < len(argv):
        token = argv[k]
        if token in _VALUED and k + 1 < len(argv):
            joined.append(f"{token}={argv[k + 1]}")
            k += 2
        elif token.startswith("-"):
            joined.append(token)
            k += 1
        else:
            return joined + argv[k:]
    return joined


def _setting_args(options):
    variable = [f"--variable={options.variable}"] if options.variable != "v" else []
    if options.tolerance is not None:
        return ["--tolerance", repr(options.tolerance), f"--range={options.range}", *variable]
    return ([f"--grid={options.grid}"] if options.grid else []) + variable


def main(argv=None):
    """The command line (see ``python -m lut4brian --help``); returns the exit status."""
    options = _parser().parse_args(_joined_negative_values(sys.argv[1:] if argv is None else argv))
    setting = parse_setting(options.grid, options.tolerance, options.range, var=options.variable)
    if options._run_variant:
        record = run_variant(options.script, options.args, setting if options._run_variant == "tables" else None,
                             out=options._out, seed=options.seed)
        return 1 if record["error"] else 0
    if options.compare:
        report = compare(options.script, options.args, _setting_args(options), seed=options.seed)
        print(format_report(report))
        if options.json:
            with open(options.json, "w") as file:
                json.dump(report, file, indent=1, default=str)
        return 1 if any(report["errors"].values()) else 0
    from brian2 import prefs

    from . import auto  # noqa: F401  (installs the preference's mechanism)

    prefs.lut4brian.auto = setting
    sys.argv = [options.script, *options.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(options.script)))
    try:
        runpy.run_path(options.script, run_name="__main__")
    except Exception as error:
        if auto.auto_error(error) is None:
            raise
        print(f"lut4brian: {auto.auto_error(error)}", file=sys.stderr)
        return 1
    return 0
