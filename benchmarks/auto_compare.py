"""
Brian2's Hodgkin-Huxley-type example scripts, unchanged, through
``python -m lut4brian --compare``; and what importing lut4brian costs with
``prefs.lut4brian.auto`` off.

    python benchmarks/auto_compare.py [--repeats 3] [--cases COBAHH,...] [--grid -100:100:0.1]

For each script of ``examples/brian2/`` (shortened copies of Brian2's
examples) the comparison runs ``--repeats`` times, each time the exact and
the tabulated variant in fresh processes (``lut4brian.cli.compare``); one
JSON line per script gives the median simulation time of each variant
(Brian2's own measure of the run loop, or of the standalone binary), the
speed-up (median of the per-repeat ratios), and, from the last repeat, the
spike counts of each SpikeMonitor, the largest spike-time shift and the
largest voltage difference of each StateMonitor; for COBAHH, a chaotic
network, also the exact spike counts with three other seeds (their
spread is the scale for the difference); for COBAHH and the IF curves
also the simulation time of the explicit path (the script edited to call
``tabulate`` and use ``lut_exponential_euler``), ``explicit_s``, and
``auto_over_explicit`` = auto's time / explicit's. ``import_only`` runs
COBAHH.py with plain Brian2 and with ``import lut4brian`` first (auto off),
alternately (each first in every other pair), and gives both median run times and whether the spikes are
identical. Scripts run in a temporary folder whose ``brian_preferences``
keeps Brian2's cython cache in ``build/``. Lines go to
``benchmarks/results/auto_compare.jsonl`` (``--results``).
"""

import argparse
import os
import pickle
import runpy
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "brian2")
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import record  # noqa: E402

#: Script, its arguments.
#: Script, its arguments: the original durations (a second or more of simulation
#: time, so that run times stand above the noise), COBAHH 100 ms instead of 1 s.
CASES = {
    "COBAHH": ("COBAHH.py", ["100"]),
    "IF_curve_Hodgkin_Huxley": ("IF_curve_Hodgkin_Huxley.py", ["2000"]),
    "IF_curve_Hodgkin_Huxley_standalone": ("IF_curve_Hodgkin_Huxley_standalone.py", ["2000", "IF_curve_HH"]),
    "hh_with_spikes": ("hh_with_spikes.py", ["50"]),
    "hodgkin_huxley_1952": ("hodgkin_huxley_1952.py", ["50"]),
}
SEED = 20240917  # lut4brian.cli's
#: Chaotic cases: how many other seeds show the exact script's own spread of spike counts.
SPREAD = {"COBAHH": 3}
#: Cases also run with the explicit path (the script with a `tabulate` call and
#: lut_exponential_euler written in, before the line that makes its group).
EXPLICIT = {"COBAHH": "P = NeuronGroup(", "IF_curve_Hodgkin_Huxley": "group = NeuronGroup(",
            "IF_curve_Hodgkin_Huxley_standalone": "group = NeuronGroup("}


def explicit_script(name, folder, grid):
    """The script of ``name`` edited for the explicit path, written to ``folder``."""
    script = CASES[name][0]
    with open(os.path.join(EXAMPLES, script)) as source:
        text = source.read()
    low, high, step = grid.split(":")
    call = (f"from lut4brian import tabulate\n"
            f"eqs = tabulate(eqs, v=({low}*mV, {high}*mV, {step}*mV))\n")
    assert EXPLICIT[name] in text and "method='exponential_euler'" in text
    text = text.replace(EXPLICIT[name], call + EXPLICIT[name], 1)
    text = text.replace("method='exponential_euler'", "method='lut_exponential_euler'")
    path = os.path.join(folder, "explicit_" + script)
    with open(path, "w") as edited:
        edited.write(text)
    return path


def _folder():
    folder = tempfile.mkdtemp(prefix="lut4brian_auto_compare_")
    cache = os.path.join(ROOT, "build", "cython_cache")
    with open(os.path.join(folder, "brian_preferences"), "w") as preferences:
        preferences.write(f"codegen.runtime.cython.cache_dir = {cache!r}\n")
    return folder


def compare_case(name, repeats, setting_args, grid):
    from lut4brian.cli import _variant_in_subprocess, compare

    script, arguments = CASES[name]
    folder, cwd = _folder(), os.getcwd()
    explicit = explicit_script(name, folder, grid) if name in EXPLICIT else None
    reports, explicit_times = [], []
    os.chdir(folder)
    try:
        for _ in range(repeats):
            reports.append(compare(os.path.join(EXAMPLES, script), arguments, setting_args))
            if explicit:
                run = _variant_in_subprocess("exact", explicit, arguments, setting_args, sys.executable)
                explicit_times.append(run["run_time"] if not run["error"] else None)
    finally:
        os.chdir(cwd)
    last = reports[-1]
    if any(last["errors"].values()):
        return {"case": name, "errors": {k: v and v["message"][:300] for k, v in last["errors"].items()}}
    spikes = {m: dict(exact=r["spikes_exact"], tables=r["spikes_tables"],
                      neurons_with_other_counts=r["neurons_with_other_counts"],
                      max_shift_ms=round(r["max_spike_shift"] * 1e3, 4))
              for m, r in last["monitors"].items() if r["kind"] == "spikes"}
    voltages = {m: round(r["variables"]["v"]["max_difference"] * 1e3, 4)
                for m, r in last["monitors"].items()
                if r["kind"] == "states" and r["variables"].get("v", {}).get("max_difference") is not None}
    spread = {}
    if name in SPREAD:
        # a chaotic network: the exact script's own spike counts with other seeds, for scale
        from lut4brian.cli import _variant_in_subprocess

        os.chdir(folder)
        try:
            others = [_variant_in_subprocess("exact", os.path.join(EXAMPLES, script), arguments, setting_args,
                                             sys.executable, seed=SEED + k) for k in range(1, SPREAD[name] + 1)]
        finally:
            os.chdir(cwd)
        spread = {"exact_spikes_other_seeds": [sum(len(m["i"]) for m in r["monitors"].values()
                                                   if m["kind"] == "spikes" and "i" in m) for r in others]}
    exact = [r["run_time"]["exact"] for r in reports]
    tables = [r["run_time"]["tables"] for r in reports]
    return {"case": name, "script": f"examples/brian2/{script}", "arguments": arguments,
            "exact_s": round(float(np.median(exact)), 3), "tables_s": round(float(np.median(tables)), 3),
            "speedup": round(float(np.median(np.divide(exact, tables))), 2), "repeats": repeats,
            "tables": {g: len(r["tables"]) for g, r in last["groups"].items()},
            "methods": {g: r["method"] for g, r in last["groups"].items()},
            "spikes": spikes, "max_v_difference_mV": voltages, **spread, **_explicit(explicit_times, tables)}


def _explicit(explicit_times, tables):
    """The explicit path's median run time and auto's run time over it (median of the per-repeat ratios)."""
    if not explicit_times or None in explicit_times:
        return {}
    return {"explicit_s": round(float(np.median(explicit_times)), 3),
            "auto_over_explicit": round(float(np.median(np.divide(tables, explicit_times))), 3)}


def plain_run(script, arguments, with_import, out):
    """Run ``script`` seeded, with or without ``import lut4brian`` first; pickle its spikes and run time."""
    if with_import:
        import lut4brian  # noqa: F401
    import brian2

    brian2.seed(SEED)
    sys.argv = [script, *arguments]
    names = runpy.run_path(script, run_name="__main__")
    spikes = names["spikes"]
    with open(out, "wb") as file:
        pickle.dump(dict(i=np.asarray(spikes.i[:]), t=np.asarray(spikes.t_[:]),
                         run_time=brian2.get_device()._last_run_time), file)


def import_only(repeats):
    script, arguments = CASES["COBAHH"]
    folder = _folder()
    results = {False: [], True: []}
    for k in range(repeats):
        for with_import in ((False, True) if k % 2 == 0 else (True, False)):  # neither always first
            out = os.path.join(folder, f"plain_{with_import}.pickle")
            command = [sys.executable, os.path.abspath(__file__), "--_plain", os.path.join(EXAMPLES, script),
                       "--_out", out, *(["--_import"] if with_import else []), "--", *arguments]
            done = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                                  env=dict(os.environ, PYTHONPATH=ROOT))
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            with open(out, "rb") as file:
                results[with_import].append(pickle.load(file))
    first, second = results[False][-1], results[True][-1]
    same = bool(np.array_equal(first["i"], second["i"]) and np.array_equal(first["t"], second["t"]))
    plain = [r["run_time"] for r in results[False]]
    imported = [r["run_time"] for r in results[True]]
    same = same and all(np.array_equal(r["t"], first["t"]) for r in results[False] + results[True])
    return {"case": "import_only", "script": f"examples/brian2/{script}", "arguments": arguments,
            "brian2_s": round(float(np.median(plain)), 3), "with_import_s": round(float(np.median(imported)), 3),
            "ratio": round(float(np.median(np.divide(imported, plain))), 3),
            "brian2_all_s": [round(t, 3) for t in plain], "with_import_all_s": [round(t, 3) for t in imported],
            "spikes": int(len(first["i"])), "identical_spikes": same, "repeats": repeats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join([*CASES, "import_only"]))
    parser.add_argument("--grid", default=None, help="LOW:HIGH:STEP in mV (default: lut4brian's, -100:100:0.1)")
    parser.add_argument("--_plain", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("--_import", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs="*")
    record.add_argument(parser, "auto_compare")
    args = parser.parse_args([f"--grid={a.split('=', 1)[-1]}" if a.startswith("--grid") else a
                              for a in _joined_grid(sys.argv[1:])])
    if args._plain:
        plain_run(args._plain, args.arguments, args._import, args._out)
        return
    setting_args = [f"--grid={args.grid}"] if args.grid else []
    for name in args.cases.split(","):
        line = (import_only(args.repeats) if name == "import_only"
                else compare_case(name, args.repeats, setting_args, args.grid or "-100:100:0.1"))
        line["grid"] = args.grid or "-100:100:0.1"
        record.emit(line, args.results)


def _joined_grid(argv):
    # --grid -100:100:0.1: a value with a leading minus
    out, skip = [], False
    for k, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--grid" and k + 1 < len(argv):
            out.append(f"--grid={argv[k + 1]}")
            skip = True
        else:
            out.append(a)
    return out


if __name__ == "__main__":
    main()
