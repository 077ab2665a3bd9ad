"""
Brian2's own Hodgkin-Huxley-type example scripts, unedited, through
``python -m lut4brian --compare``; and what importing lut4brian costs with
``prefs.lut4brian.auto`` off.

    python benchmarks/auto_compare.py [--repeats 3] [--cases COBAHH,...] [--grid -100:100:0.1]

The scripts come from the source distribution of the installed Brian2
(``brian2_sources.examples_folder``: fetched from PyPI once, kept in
``build/brian2-examples-<version>/``) and run as they are, with their own
durations and monitors; a case may add command-line options of
``python -m lut4brian`` (``OPTIONS``: Morris & Lecar's voltage is ``V``).
Each comparison runs ``--repeats`` times, each time
the exact and the tabulated variant in fresh processes, as
``python -m lut4brian --compare`` does (``MPLBACKEND=Agg``: ``show()``
returns). One JSON line per script gives the median simulation time of each
variant (Brian2's own measure of the run loops, or of the standalone
binary), the speed-up (median of the per-repeat ratios), and, from the
last repeat, the spike counts of each SpikeMonitor, the largest spike-time
shift and the largest voltage difference of each StateMonitor. For COBAHH,
a chaotic network, the exact script also runs with three other seeds: the
largest voltage difference between those and the exact run of the last repeat is the
scale for the difference that the tables make. A script that fails gives
a line with ``failed`` (which variant) and the first line of its error.

``import_only`` runs COBAHH.py with plain Brian2 and with ``import
lut4brian`` first (auto off), alternately (each first in every other pair),
and gives both median run times and whether the recorded voltages are
identical. Scripts run in a temporary folder whose ``brian_preferences``
keeps Brian2's cython cache in ``build/``. Lines go to
``benchmarks/results/auto_compare.jsonl`` (``--results``).

The explicit path (a script edited to call ``tabulate``) is not measured
here: it would need an edited copy of Brian2's scripts.
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
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
import record  # noqa: E402
from brian2_sources import examples_folder, installed_version  # noqa: E402

#: Case name: the script's path inside Brian2's examples/ folder (run with no arguments).
CASES = {
    "COBAHH": "COBAHH.py",
    "IF_curve_Hodgkin_Huxley": "IF_curve_Hodgkin_Huxley.py",
    "hh_with_spikes": "compartmental/hh_with_spikes.py",
    "hodgkin_huxley_1952": "compartmental/hodgkin_huxley_1952.py",
    "spike_initiation": "compartmental/spike_initiation.py",
    "Brette_2012_Fig1": "frompapers/Brette_2012/Fig1.py",
    "Brette_2012_Fig3AB": "frompapers/Brette_2012/Fig3AB.py",
    "Wang_Buszaki_1996": "frompapers/Wang_Buszaki_1996.py",
    "Destexhe_et_al_1998": "frompapers/Destexhe_et_al_1998.py",
    "Morris_Lecar_1981": "frompapers/Morris_Lecar_1981.py",  # its voltage is V: see OPTIONS
    "Stimberg_et_al_2019_bisection": "frompapers/Stimberg_et_al_2019/example_3_bisection.py",
}
#: Command-line options of ``python -m lut4brian`` for a case (the script itself stays as it is).
OPTIONS = {"Morris_Lecar_1981": ["--variable", "V"]}
SEED = 20240917  # lut4brian.cli's
#: Chaotic cases: how many other seeds show the exact script's own spread.
SPREAD = {"COBAHH": 3}


def _folder():
    folder = tempfile.mkdtemp(prefix="lut4brian_auto_compare_")
    cache = os.path.join(ROOT, "build", "cython_cache")
    with open(os.path.join(folder, "brian_preferences"), "w") as preferences:
        preferences.write(f"codegen.runtime.cython.cache_dir = {cache!r}\n")
    return folder


def _in(folder, function, *args, **kwargs):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return function(*args, **kwargs)
    finally:
        os.chdir(cwd)


def _first_line(error):
    lines = [line for line in (error.get("message") or "").splitlines() if line.strip()]
    return f"{error['type']}: {lines[0] if lines else ''}"[:300]


def _summary(report):
    """Spike counts, shifts and voltage differences of a `lut4brian.cli.compare_records` report."""
    spikes = {m: dict(exact=r["spikes_exact"], tables=r["spikes_tables"],
                      neurons_with_other_counts=r["neurons_with_other_counts"],
                      max_shift_ms=round(r["max_spike_shift"] * 1e3, 4))
              for m, r in report["monitors"].items() if r["kind"] == "spikes"}
    voltages = {f"{m}.{var}": round(d["max_difference"] * 1e3, 4)
                for m, r in report["monitors"].items() if r["kind"] == "states"
                for var, d in r["variables"].items() if d["unit"] == "V" and d["max_difference"] is not None}
    return spikes, voltages


def compare_case(name, repeats, setting_args):
    from lut4brian.cli import _variant_in_subprocess, compare_records

    script = os.path.join(examples_folder(), CASES[name])
    folder, reports = _folder(), []
    setting_args = [*setting_args, *OPTIONS.get(name, [])]
    head = {"case": name, "script": CASES[name], "examples": f"brian2-{installed_version()} sdist",
            "options": OPTIONS.get(name, [])}
    for _ in range(repeats):
        records = {kind: _in(folder, _variant_in_subprocess, kind, script, [], setting_args, sys.executable)
                   for kind in ("exact", "tables")}
        report = compare_records(records["exact"], records["tables"])
        failed = [kind for kind in ("exact", "tables") if report["errors"][kind]]
        if failed:
            return {**head, "failed": failed[0], "error": _first_line(report["errors"][failed[0]]),
                    "group": report["errors"][failed[0]].get("group")}
        reports.append((records, report))
    records, last = reports[-1]
    spikes, voltages = _summary(last)
    exact = [r["run_time"]["exact"] for _, r in reports]
    tables = [r["run_time"]["tables"] for _, r in reports]
    line = {**head, "exact_s": round(float(np.median(exact)), 3), "tables_s": round(float(np.median(tables)), 3),
            "speedup": round(float(np.median(np.divide(exact, tables))), 2), "repeats": repeats,
            "runs": records["tables"]["runs"],
            "tables": {g: len(r["tables"]) for g, r in last["groups"].items()},
            "methods": {g: r["method"] for g, r in last["groups"].items()},
            "spikes": spikes, "max_v_difference_mV": voltages}
    if name in SPREAD:
        line.update(_spread(name, script, folder, setting_args, records["exact"]))
    return line


def _spread(name, script, folder, setting_args, exact):
    """The exact script with other seeds against ``exact``: the chaotic network's own differences."""
    from lut4brian.cli import _variant_in_subprocess, compare_records

    others = [_in(folder, _variant_in_subprocess, "exact", script, [], setting_args, sys.executable, seed=SEED + k)
              for k in range(1, SPREAD[name] + 1)]
    summaries = [_summary(compare_records(exact, other)) for other in others]
    return {"exact_other_seeds_max_v_difference_mV": [max(v.values(), default=None) for _, v in summaries],
            "exact_other_seeds_spikes": [sum(s["tables"] for s in spikes.values()) for spikes, _ in summaries
                                         if spikes]}


def plain_run(script, with_import, out):
    """Run ``script`` seeded, with or without ``import lut4brian`` first; pickle its monitors and run time."""
    if with_import:
        import lut4brian  # noqa: F401
    import brian2

    brian2.seed(SEED)
    sys.argv = [script]
    names = runpy.run_path(script, run_name="__main__")
    recorded = {}
    for key, value in names.items():
        if isinstance(value, brian2.StateMonitor):
            recorded[key] = {var: np.asarray(getattr(value, var + "_")) for var in value.record_variables}
        elif isinstance(value, brian2.SpikeMonitor):
            recorded[key] = dict(i=np.asarray(value.i[:]), t=np.asarray(value.t_[:]))
    with open(out, "wb") as file:
        pickle.dump(dict(recorded=recorded, run_time=brian2.get_device()._last_run_time), file)


def _identical(a, b):
    return a.keys() == b.keys() and all(
        a[m].keys() == b[m].keys() and all(np.array_equal(a[m][k], b[m][k]) for k in a[m]) for m in a)


def import_only(repeats):
    script = os.path.join(examples_folder(), CASES["COBAHH"])
    folder = _folder()
    results = {False: [], True: []}
    for k in range(repeats):
        for with_import in ((False, True) if k % 2 == 0 else (True, False)):  # neither always first
            out = os.path.join(folder, f"plain_{with_import}.pickle")
            command = [sys.executable, os.path.abspath(__file__), "--_plain", script,
                       "--_out", out, *(["--_import"] if with_import else [])]
            done = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                                  env=dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg"))
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            with open(out, "rb") as file:
                results[with_import].append(pickle.load(file))
    first = results[False][0]["recorded"]
    same = all(_identical(first, r["recorded"]) for r in results[False] + results[True])
    plain = [r["run_time"] for r in results[False]]
    imported = [r["run_time"] for r in results[True]]
    return {"case": "import_only", "script": CASES["COBAHH"], "examples": f"brian2-{installed_version()} sdist",
            "brian2_s": round(float(np.median(plain)), 3), "with_import_s": round(float(np.median(imported)), 3),
            "ratio": round(float(np.median(np.divide(imported, plain))), 3),
            "brian2_all_s": [round(t, 3) for t in plain], "with_import_all_s": [round(t, 3) for t in imported],
            "recorded": {m: sorted(v) for m, v in first.items()}, "identical_recordings": same, "repeats": repeats}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join([*CASES, "import_only"]))
    parser.add_argument("--grid", default=None, help="LOW:HIGH:STEP in mV (default: lut4brian's, -100:100:0.1)")
    parser.add_argument("--_plain", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    parser.add_argument("--_import", action="store_true", help=argparse.SUPPRESS)
    record.add_argument(parser, "auto_compare")
    args = parser.parse_args(_joined_grid(sys.argv[1:]))
    if args._plain:
        plain_run(args._plain, args._import, args._out)
        return
    setting_args = [f"--grid={args.grid}"] if args.grid else []
    for name in args.cases.split(","):
        line = import_only(args.repeats) if name == "import_only" else compare_case(name, args.repeats, setting_args)
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
