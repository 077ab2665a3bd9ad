"""
Where the benchmark scripts put what they measure.

Every script prints its JSON lines and appends them, with the machine, the
versions and the date, to ``benchmarks/results/<script>.jsonl`` (``--results
FILE`` writes elsewhere, ``--results ''`` nowhere). The README's tables and
figures are made from those files (``benchmarks/readme_tables.py``,
``images/make_figures.py``), never typed in.
"""

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")

#: Distributions whose versions each line records, where installed.
PACKAGES = ["brian2", "numpy", "scipy", "sympy", "cython", "torch", "brian2cuda", "lut4brian", "fr-models", "pyrates"]


def add_argument(parser, name):
    """``--results FILE``: where the JSON lines go (default ``benchmarks/results/<name>.jsonl``)."""
    default = os.path.join(RESULTS, f"{name}.jsonl")
    parser.add_argument("--results", default=default,
                        help="append each JSON line (with machine, versions, date) to this file; '' writes none "
                             "(default: %(default)s)")


def _first_line(command):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else None


def machine():
    """CPU model, cores (all, and those this process may use), memory, GPU (if any)."""
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    memory = None
    try:
        with open("/proc/meminfo") as info:
            kib = next(int(line.split()[1]) for line in info if line.startswith("MemTotal"))
        memory = round(kib / 2**20, 1)
    except (OSError, StopIteration):
        pass
    result = {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "memory_gib": memory,
              "system": f"{platform.system()} {platform.machine()}"}
    if shutil.which("nvidia-smi"):
        result["gpu"] = _first_line(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                                     "--format=csv,noheader"])
    return result


def versions():
    """Python, the packages of `PACKAGES` that are installed, gcc, nvcc; the repository's commit."""
    result = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            result[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    if shutil.which("gcc"):
        result["gcc"] = _first_line(["gcc", "-dumpfullversion"])
    if "brian2cuda" in sys.modules and shutil.which("nvcc"):
        release = _first_line(["bash", "-c", "nvcc --version | grep release"])
        result["nvcc"] = release.split("release")[-1].strip() if release else None
    commit = _first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if commit:
        # "+changes": the measured packages differ from that commit in the working tree
        dirty = _first_line(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--",
                             "lut4brian", "frbrian"])
        result["commit"] = commit + ("+changes" if dirty else "")
    return result


def emit(line, path, script=None):
    """
    Print ``line`` as one JSON line with ``date``, ``machine``, ``versions``
    and ``command``, and append it to ``path`` (none if empty). Returns the
    full line.
    """
    script = script or os.path.basename(sys.argv[0])
    full = dict(line)
    full.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                command=" ".join([f"benchmarks/{script}"] + [a for a in _arguments_without_results()]),
                machine=machine(), versions=versions())
    text = json.dumps(full)
    print(text, flush=True)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a") as results:
            results.write(text + "\n")
    return full


def _arguments_without_results():
    arguments, skip = [], False
    for argument in sys.argv[1:]:
        if skip:
            skip = False
        elif argument == "--results":
            skip = True
        elif not argument.startswith("--results="):
            arguments.append(argument)
    return arguments


def read(name_or_path):
    """The JSON lines of ``benchmarks/results/<name>.jsonl`` (or of a path), oldest first."""
    path = name_or_path if os.sep in name_or_path else os.path.join(RESULTS, f"{name_or_path}.jsonl")
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def latest(lines, *keys):
    """The last line for each combination of ``keys`` (later measurements replace earlier ones), in first-seen order."""
    result = {}
    for line in lines:
        key = tuple(line.get(k) for k in keys)
        result[key] = line
    return result


PEERS = os.path.join(HERE, "peers")


def run_peer(venv, script, *arguments, timeout=3600):
    """
    Runs ``benchmarks/peers/<script>`` with the Python of
    ``benchmarks/peers/<venv>`` (made by ``benchmarks/peers/setup``); returns
    its JSON line.
    """
    python = os.path.join(PEERS, venv, "bin", "python")
    if not os.path.exists(python):
        raise SystemExit(f"{os.path.relpath(python, ROOT)} is missing: run `bash benchmarks/peers/setup` first.")
    result = subprocess.run([python, os.path.join(PEERS, script), *map(str, arguments)], capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"benchmarks/peers/{script} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
