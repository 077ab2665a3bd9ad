"""The benchmark scripts run and print their JSON line (tiny sizes: this checks them, it times nothing)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT


def run_benchmark(script, *arguments):
    environment = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *arguments],
                            capture_output=True, text=True, cwd=ROOT, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_wilson_cowan(target):
    line = run_benchmark("wilson_cowan.py", "--target", target, "--n", "40", "--repeats", "1")
    assert line["target"] == target and line["n"] == 40
    assert line["max_rel_diff"] <= 1e-10
    assert line["total_s"] >= line["run_s"] > 0


def test_rate_step_cost():
    line = run_benchmark("rate_step_cost.py", "--target", "numpy", "--grid", "51", "--steps", "20", "--repeats", "1")
    assert line["rate_units"] == line["hh_neurons"] == 102
    assert line["rate_us_per_step"] > 0 and line["hh_us_per_step"] > 0


def test_frmodels_response(tmp_path):
    out = tmp_path / "dr.npz"
    line = run_benchmark("frmodels_response.py", "--grid", "101", "--repeats", "1", "--out", str(out))
    assert line["neurons"] == 202 and os.path.exists(out)
    assert line["centre"][0] > 1  # the E cell at the stimulus responds strongly


def test_cobahh():
    line = run_benchmark("cobahh.py", "--target", "numpy", "--neurons", "20", "--duration-ms", "2", "--repeats", "1")
    assert line["max_dv_first_5ms_mV"] < 0.05
