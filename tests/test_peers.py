"""
The work-precision benchmark and the peers' scripts (NEST, NEURON), at tiny
sizes: spike times against scipy's reference, the shared spike read-out,
and what a peer script says when run without its environment. The tests
that run NEST or NEURON skip unless ``bash benchmarks/peers/setup sims`` has
made ``benchmarks/peers/.venv-sims``.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

BENCHMARKS = os.path.join(ROOT, "benchmarks")
PEERS = os.path.join(BENCHMARKS, "peers")
SIMS_PYTHON = os.path.join(PEERS, ".venv-sims", "bin", "python")
sys.path.insert(0, BENCHMARKS)
sys.path.insert(0, PEERS)
import wp_common  # noqa: E402
import work_precision  # noqa: E402

needs_sims = pytest.mark.skipif(not os.path.exists(SIMS_PYTHON),
                                reason="NEST and NEURON are not installed: `bash benchmarks/peers/setup sims` "
                                       "makes benchmarks/peers/.venv-sims")


def run_peer(script, *arguments, python=SIMS_PYTHON):
    result = subprocess.run([python, os.path.join(PEERS, script), *map(str, arguments)], capture_output=True,
                            text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(text) for text in result.stdout.splitlines() if text.startswith("{")]


@pytest.fixture(scope="module")
def reference():
    """scipy's spike times of the 3 neurons of a 3-neuron run, 30 ms (and 10 ms past, for pairing)."""
    return work_precision.reference_spikes(wp_common.currents_nA(3), 40.0, work_precision.REFERENCE)


def errors(reference, line, duration_ms=30.0):
    return work_precision.spike_error(reference, [line["spikes"][str(k)] for k in range(3)], duration_ms)


def test_upward_crossings_interpolate_linearly():
    t = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    v = np.array([-30.0, -25.0, 5.0, -25.0, -19.0])
    # up between 0.1 and 0.2 (a sixth of the way), down, then up again between 0.3 and 0.4
    assert np.allclose(wp_common.upward_crossings(t, v), [0.1 + 0.1 / 6, 0.3 + 0.1 * 5 / 6])
    assert wp_common.upward_crossings(t, np.full(5, -20.0)).size == 0  # touching is not crossing from below


def test_spike_error_pairs_in_order_and_flags_counts():
    assert work_precision.spike_error([np.array([10.0, 20.0, 25.0, 35.0])], [[10.1, 19.95]], 30.0) == (
        pytest.approx(0.1), True)  # the spike at 25 ms is missing
    ref = [np.array([10.0, 20.0, 29.99, 35.0])]
    # the last spike moved past the end of the run by less than the error: not a count mismatch
    assert work_precision.spike_error(ref, [[10.05, 20.02]], 30.0) == (pytest.approx(0.05), False)
    assert work_precision.spike_error(ref, [[10.0, 20.0, 29.99]], 30.0) == (0.0, False)
    assert work_precision.spike_error(ref, [[]], 30.0) == (float("inf"), True)
    # a crossing after the last sample (29.96 ms at dt 0.04 ms) cannot be read off the samples
    exact_but_last = [[10.0, 20.0]]
    assert work_precision.spike_error(ref, exact_but_last, 30.0) == (0.0, True)
    assert work_precision.spike_error(ref, exact_but_last, 30.0, dt_ms=0.04) == (0.0, False)
    assert work_precision.spike_error(ref, exact_but_last, 30.0, dt_ms=0.005) == (0.0, True)


def test_reference_methods_agree(reference):
    """LSODA and DOP853 at rtol 1e-10 give the same spikes within 1e-5 ms, and the neurons fire regularly."""
    check = work_precision.reference_spikes(wp_common.currents_nA(3), 40.0, work_precision.CROSSCHECK)
    assert [len(s) for s in reference] == [len(s) for s in check]
    assert max(np.max(np.abs(a - b)) for a, b in zip(reference, check)) < 1e-5
    assert [len(s) for s in reference] == [2, 5, 7]  # 0.2, 0.85 and 1.5 nA over 40 ms
    assert reference[0][0] == pytest.approx(8.57, abs=0.02)  # the first spike at 0.2 nA (NEST, NEURON agree)


@pytest.mark.parametrize("script", ["wp_nest.py", "wp_neuron.py", "cobahh_nest.py", "cobahh_neuron.py"])
def test_peer_script_without_its_environment_says_how_to_make_it(script):
    """Run with the project's Python (no NEST, no NEURON), a peer script names the setup command and exits 2."""
    pytest.importorskip("numpy")
    for module in ("nest", "neuron"):
        try:
            __import__(module)
            pytest.skip(f"this Python has {module}")
        except ImportError:
            pass
    result = subprocess.run([sys.executable, os.path.join(PEERS, script), "--neurons", "2"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "bash benchmarks/peers/setup sims" in result.stderr
    assert f"benchmarks/peers/.venv-sims/bin/python benchmarks/peers/{script}" in result.stderr
    assert result.stdout == ""


@needs_sims
def test_neuron_spike_times(reference):
    """NEURON's fixed steps converge at their orders; CVODE at atol 1e-5 is within 0.01 ms of the reference."""
    lines = run_peer("wp_neuron.py", "--neurons", 3, "--duration-ms", 30, "--dt-ms", 0.05, 0.025,
                     "--secondorder", 0, 2, "--cvode-atol", 1e-5, "--repeats", 1)
    assert [line["config"] for line in lines] == [
        "fixed step, secondorder=0, tables", "fixed step, secondorder=0, tables",
        "fixed step, secondorder=2, tables", "fixed step, secondorder=2, tables", "CVODE atol=1e-05, tables"]
    assert all(line["simulator"] == "NEURON" and line["version"] == "9.0.2" and line["run_s"] > 0 for line in lines)
    (first_05, ok1), (first_025, ok2), (second_05, ok3), (second_025, ok4), (cvode, ok5) = (
        errors(reference, line) for line in lines)
    assert not any([ok1, ok2, ok3, ok4, ok5])  # no count mismatch
    assert 0.02 < first_05 < 0.5 and 1.6 < first_05 / first_025 < 2.6  # first order
    assert second_05 < 0.2 and second_05 / second_025 > 2.5  # second order (the read-out is too)
    assert cvode < 0.01


@needs_sims
def test_nest_spike_times(reference):
    """NEST's RKF45 (abs. tol. 1e-3) is within 0.05 ms of the reference at every resolution."""
    lines = run_peer("wp_nest.py", "--neurons", 3, "--duration-ms", 30, "--resolution-ms", 0.1, 0.01,
                     "--repeats", 1)
    assert [line["dt_ms"] for line in lines] == [0.1, 0.01]
    for line in lines:
        assert line["simulator"] == "NEST" and line["version"] == "3.10.0"
        error, mismatch = errors(reference, line)
        assert error < 0.05 and not mismatch


@needs_sims
@pytest.mark.parametrize("script", ["cobahh_nest.py", "cobahh_neuron.py"])
def test_cobahh_network_peers(tmp_path, script):
    """The peers' COBAHH networks run, record their JSON line and fire at COBAHH-like rates (400 neurons, 20 ms)."""
    results = tmp_path / "peers.jsonl"
    (line,) = run_peer(script, "--neurons", 400, "--duration-ms", 20, "--results", results)
    assert json.loads(results.read_text().splitlines()[-1]) == line
    assert line["neurons"] == 400 and line["dt_ms"] == 0.01 and line["threads"] == 1 and line["run_s"] > 0
    assert line["command"].startswith(f"benchmarks/peers/{script}")
    # Brian2's network of this size fires about 100 spikes in its first 20 ms; another random draw, so broad bounds
    assert 40 < line["spikes"] < 250


def test_work_precision_quick(tmp_path):
    """The whole benchmark at its smoke-test size: the reference, Brian2 on cpp_standalone, the peers if present."""
    results = tmp_path / "wp.jsonl"
    result = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "work_precision.py"), "--quick",
                             "--results", str(results)], capture_output=True, text=True, cwd=ROOT, timeout=900,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(text) for text in results.read_text().splitlines()]
    assert lines[0]["simulator"] == "scipy" and lines[0]["reference_crosscheck_ms"] < 1e-5
    brian2 = {line["model"]: line for line in lines if line["simulator"] == "Brian2"}
    assert set(brian2) == {"exact", "tables 0.1 mV"}
    for line in brian2.values():
        # exponential_euler is first order: about 1 ms off after 20 ms at dt 0.05 ms, with the right counts
        assert 0.3 < line["max_spike_err_ms"] < 3 and not line["count_mismatch"]
        assert line["run_s"] > 0 and line["dt_ms"] == 0.05 and line["threads"] == 1
    assert abs(brian2["exact"]["max_spike_err_ms"] - brian2["tables 0.1 mV"]["max_spike_err_ms"]) < 0.05
    peers = {line["simulator"] for line in lines} - {"scipy", "Brian2"}
    assert peers == ({"NEURON", "NEST"} if os.path.exists(SIMS_PYTHON) else set())


def test_lut_integrators_are_built_for_each_dt(reference, monkeypatch):
    """
    lut_exponential_euler's tables of exp(-dt*Q(v)) hold for one dt: run at
    dt 0.1 and 0.05 ms its error halves (first order), as it would not if one
    binary served both.
    """
    assert "lut_exponential_euler" not in work_precision.DT_FREE
    tables = {name: model for name, model in work_precision.brian2_models([0.1]).items() if name == "tables 0.1 mV"}
    monkeypatch.setattr(work_precision, "brian2_models", lambda grids, unchecked: tables)
    args = type("Args", (), dict(methods=["lut_exponential_euler"], grids_mv=[0.1], dt_ms=[0.1, 0.05], neurons=3,
                                 duration_ms=30.0, repeats=1, unchecked=False))()
    lines = list(work_precision.brian2_configs(args))
    assert [line["built_for_dt_ms"] for line, _ in lines] == [0.1, 0.05]
    coarse, fine = (work_precision.spike_error(reference, [spikes[str(k)] for k in range(3)], 30.0)
                    for _, spikes in lines)
    assert not coarse[1] and not fine[1]
    assert 1.6 < coarse[0] / fine[0] < 2.6
