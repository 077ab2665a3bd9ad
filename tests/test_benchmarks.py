"""
The benchmark scripts run, print their JSON line and append it, with the
machine, the versions and the date, to their results file (tiny sizes, into a
temporary file: this checks them, it times nothing).
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT


def run_benchmark(tmp_path, script, *arguments):
    """Runs ``benchmarks/<script>``; returns its last JSON line, checked against the line it recorded."""
    environment = dict(os.environ, PYTHONPATH=ROOT)
    results = tmp_path / "results.jsonl"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *arguments,
                             "--results", str(results)],
                            capture_output=True, text=True, cwd=ROOT, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    recorded = [json.loads(text) for text in results.read_text().splitlines()]
    assert recorded[-1] == line
    assert line["machine"]["cores"] >= 1 and line["machine"]["cpu"]
    assert line["versions"]["python"] and line["versions"]["numpy"] and line["date"]
    assert line["command"].startswith(f"benchmarks/{script}") and "--results" not in line["command"]
    return line


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_wilson_cowan(tmp_path, target):
    line = run_benchmark(tmp_path, "wilson_cowan.py", "--target", target, "--n", "40", "--repeats", "1")
    assert line["target"] == target and line["n"] == 40
    assert line["max_rel_diff"] <= 1e-10
    assert line["total_s"] >= line["run_s"] > 0


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_rate_step_cost(tmp_path, target):
    line = run_benchmark(tmp_path, "rate_step_cost.py", "--target", target, "--grid", "51", "--steps", "20",
                         "--repeats", "2")
    assert line["target"] == target and line["rate_units"] == line["hh_neurons"] == 102
    assert line["rate_us_per_step"] > 0 and line["hh_us_per_step"] > 0


def test_frmodels_response(tmp_path):
    out = tmp_path / "dr.npz"
    line = run_benchmark(tmp_path, "frmodels_response.py", "--grid", "101", "--repeats", "1", "--out", str(out))
    assert line["neurons"] == 202 and os.path.exists(out)
    assert line["centre"][0] > 1  # the E cell at the stimulus responds strongly


def test_cobahh_numpy(tmp_path):
    """Exact, tables, the control (exact equations, exponential_euler_cse) and Brian2's default preferences."""
    line = run_benchmark(tmp_path, "cobahh.py", "--target", "numpy", "--neurons", "20", "--duration-ms", "2",
                         "--repeats", "1", "--default-units")
    assert line["max_dv_first_5ms_mV"] < 0.05
    # the control only reorders the arithmetic of the exact equations
    assert line["control_max_dv_first_5ms_mV"] < 1e-9 and line["spikes_control"] == line["spikes_exact"]
    assert line["exact_default_s"] > 0 and line["control_s"] > 0 and line["build_s"] > 0


def test_cobahh_standalone_lut_exponential_euler(tmp_path):
    """
    cpp_standalone with the exp-free integrator; the binaries run once more
    (2 repeats). The control is left out here (two builds, not three): it is
    the same code path, checked on numpy above.
    """
    line = run_benchmark(tmp_path, "cobahh.py", "--target", "cpp_standalone", "--method", "lut_exponential_euler",
                         "--neurons", "20", "--duration-ms", "2", "--repeats", "2", "--no-control")
    assert line["target"] == "cpp_standalone" and line["method"] == "lut_exponential_euler"
    assert line["max_dv_first_5ms_mV"] < 0.05
    assert line["exact_s"] > 0 and line["lut_s"] > 0 and line["build_s"] > 0 and "control_s" not in line


def test_fit_response(tmp_path):
    data = tmp_path / "data.npz"
    script = os.path.join(ROOT, "benchmarks", "fit_response.py")
    subprocess.run([sys.executable, script, "--make-data", str(data), "--grid", "21"], check=True, cwd=ROOT,
                   env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, timeout=600)
    pytest.importorskip("torch")
    line = run_benchmark(tmp_path, "fit_response.py", "--time-gradient", "--grid", "21", "--repeats", "1")
    assert line["action"] == "time_gradient" and line["device"] == "cpu" and line["centre"] > 0
    assert line["versions"]["torch"]


def test_exp_free_designs(tmp_path):
    """The designs' errors against the scipy reference: numpy's rk4 as on cpp_standalone, lut_strang second order."""
    last = run_benchmark(tmp_path, "exp_free_designs.py", "--designs", "lut_strang", "rk4", "--dt-ms", "0.05", "0.025",
                         "--levels-ms", "0.5")
    lines = [json.loads(text) for text in (tmp_path / "results.jsonl").read_text().splitlines()]
    error = {(line["design"], line["dt_ms"]): line["max_spike_err_ms"] for line in lines if line["kind"] == "error"}
    assert 0.02 < error["rk4", 0.05] < 0.04  # work_precision.jsonl: 0.029 ms on cpp_standalone, 0.1 mV tables
    assert error["lut_strang", 0.05] / error["lut_strang", 0.025] >= 3.5
    floors = [line for line in lines if line["kind"] == "floor"]
    assert [line["design"] for line in floors] == ["lut_strang"]  # rk4 is no exp-free design
    # 0.5 ms reached at dt 0.025, not at 0.05: more than 200/0.05 steps of at least a measured lut_strang step
    assert floors[0]["dt_ms"] == 0.025 and floors[0]["failed_dt_ms"] == 0.05
    assert floors[0]["floor_s"] == pytest.approx(4000 * 500 * floors[0]["lut_strang_step_ns"] * 1e-9)
    assert last["kind"] == "error" and last["design"] == "rk4"


PEERS = os.path.join(ROOT, "benchmarks", "peers")


def peer_missing(venv):
    return not os.path.exists(os.path.join(PEERS, venv, "bin", "python"))


@pytest.mark.skipif(peer_missing(".venv-frmodels"), reason="bash benchmarks/peers/setup makes fr-models' venv")
def test_frmodels_peer(tmp_path):
    """fr-models' speed test on the same model, in its own environment, in the same JSON line."""
    line = run_benchmark(tmp_path, "frmodels_response.py", "--grid", "101", "--repeats", "1", "--peer")
    assert line["frmodels"]["program"] == "fr-models" and line["frmodels"]["versions"]["fr-models"] == "0.1.14"
    assert line["max_abs_diff_frmodels"] < 1e-2 * abs(line["centre"][0])


@pytest.mark.skipif(peer_missing(".venv-pyrates"), reason="bash benchmarks/peers/setup makes PyRates' venv")
def test_pyrates_peer(tmp_path):
    """PyRates' Wilson-Cowan benchmark on the same weights, in its own environment, in the same JSON line."""
    line = run_benchmark(tmp_path, "wilson_cowan.py", "--n", "40", "--repeats", "1", "--peer")
    assert line["pyrates"]["versions"]["pyrates"] == "1.2.3"
    assert line["pyrates"]["float64"]["max_rel_diff"] < 1e-10 and line["pyrates"]["float32"]["max_rel_diff"] < 1e-4


def test_readme_agrees_with_results():
    """Every generated table and quoted number in README.rst is what benchmarks/readme_tables.py makes of the results."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "readme_tables.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, "run `python benchmarks/readme_tables.py`:\n" + result.stdout[-3000:]
    with open(os.path.join(ROOT, "README.rst")) as readme:
        assert "issue tracker" not in readme.read()
