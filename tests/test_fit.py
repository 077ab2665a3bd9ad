"""The fitter (frbrian.fit) and the benchmark benchmarks/fit_response.py, on data from known parameters."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT

from frbrian import DenseCoupling, SteadyStateError, power_law

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small FFTs and solves: threads only add overhead on 2 shared cores
from frbrian.fitting import fit  # noqa: E402
from frbrian.torch_model import RateModel  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import fit_response  # noqa: E402
from frmodels_response import AMPLITUDE, R_STAR, SIGMA, W_POP  # noqa: E402

INPUTS = torch.tensor([[[1.0], [0.5]], [[2.0], [0.5]], [[1.0], [1.5]]])  # three inputs, one batch


def small_model(weights=((0.3, -0.6), (1.0, -1.5))):
    # the drive sets the operating point of the stability and paradoxical constraints
    return RateModel(DenseCoupling(np.array(weights), types=2), 0.01, power_law(), drive=INPUTS[0])


def respond(model):
    return model.steady_rates(drive=INPUTS)


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    clean, noisy = folder / "clean.npz", folder / "noisy.npz"
    fit_response.make_data(str(clean), 101, 0.0, 0)
    fit_response.make_data(str(noisy), 101, 0.02, 1)
    return str(clean), str(noisy)


def full_response(params, points=101):
    model = fit_response.model_of(points, params["W_pop"], params["sigma"], params["amplitude"], R_STAR)
    with torch.no_grad():
        return (model.steady_rates(initial=model.baseline) - model.baseline)[0].numpy()


def test_benchmark_fit_on_known_parameters(data_files):
    result = fit_response.run_fit(data_files[0], 101, restarts=1)
    assert result["success"] and result["loss"] <= 0.01  # its speed is measured by the benchmark, not here
    params, truth = result["params"], full_response(dict(W_pop=W_POP, sigma=SIGMA, amplitude=AMPLITUDE))
    # The fitted model reproduces the response everywhere, not only at the 12 data points.
    assert np.abs(full_response(params) - truth).max() <= 0.01 * np.abs(truth).max()
    assert params["amplitude"] == pytest.approx(AMPLITUDE, rel=1e-3)
    # Dale's law; and close to the truth as far as 12 points of the E response can tell (the
    # residual Jacobian has 4 directions with relative sensitivity < 1e-5: W_EI*W_IE among them).
    W = np.array(params["W_pop"])
    assert np.all(W[:, 0] >= 0) and np.all(W[:, 1] <= 0)
    assert np.abs(np.array(params["sigma"]) - SIGMA).max() < 0.05
    assert np.abs(W - W_POP).max() < 0.4


def test_recovers_the_parameters_that_the_data_determine():
    """With W_pop known, the 4 widths and the amplitude come back to 1e-3 from 10-20% off (from sigma = 0.2
    everywhere SLSQP can stop in a local minimum of loss ~1e-3)."""
    start = np.array(SIGMA) * [[1.1, 0.9], [0.9, 1.1]]
    model = fit_response.model_of(101, W_POP, start, 0.8 * AMPLITUDE, R_STAR)
    data = fit_response.sampler(fit_response.DISTANCES, 101)(fit_response.model_of(101, W_POP, SIGMA, AMPLITUDE,
                                                                                  R_STAR)).detach().numpy()
    amplitude = np.zeros((2, 101), dtype=bool)
    amplitude[0, 50] = True
    result = fit(model, data, fit_response.sampler(fit_response.DISTANCES, 101),
                 free={"kernel.sigma": True, "drive": amplitude},
                 bounds={"kernel.sigma": (0.01, 0.5), "drive": (0.0, None)})
    assert result.success and result.fun < 1e-6
    assert np.allclose(result.params["kernel.sigma"], SIGMA, atol=1e-3)
    assert result.params["drive"][0, 50] == pytest.approx(AMPLITUDE, rel=1e-4)


def test_benchmark_fit_on_noisy_data(data_files):
    clean = np.load(data_files[0])["y"]
    noisy = np.load(data_files[1])["y"]
    floor = np.linalg.norm(noisy - clean) / np.linalg.norm(noisy)
    result = fit_response.run_fit(data_files[1], 101, restarts=1, regularization=1e-3, tolerance=1e-6)
    assert result["loss"] <= floor  # as good as the truth, without running away
    truth = full_response(dict(W_pop=W_POP, sigma=SIGMA, amplitude=AMPLITUDE))
    assert np.abs(full_response(result["params"]) - truth).max() <= 0.1 * np.abs(truth).max()
    assert np.abs(result["params"]["W_pop"]).max() < 3


def test_dense_fit_with_constraints_progress_and_result():
    data = respond(small_model(((0.5, -1.0), (1.0, -1.5)))).detach().numpy()
    seen = []
    result = fit(small_model(), data, respond, free={"weights": [[True, True], [False, False]]}, dale=True,
                 restarts=2, progress=seen.append)
    assert result.success and result.fun < 1e-6, result.message
    assert np.allclose(np.asarray(result.params["weights"] * 1.0), [[0.5, -1.0], [1.0, -1.5]], atol=1e-4)
    assert seen and {"restart", "iteration", "loss", "best"} <= set(seen[-1]) and len(result.restarts) == 2
    assert result.history == seen and result.nit == len(seen)
    assert float(result.model.largest_real_eigenvalue().detach()) < 0
    assert result.network().names == ["type0", "type1"]  # back to Brian2


def test_paradoxical_constraint_binds():
    """The true network is not inhibition-stabilised: the ISN constraint keeps the fit away from it."""
    truth = small_model(((0.5, -1.0), (1.0, -1.5)))
    assert float(truth.paradoxical_response().detach()) > 0
    result = fit(small_model(), respond(truth).detach().numpy(), respond, free={"weights": True}, dale=True,
                 paradoxical=True)
    assert float(result.model.paradoxical_response().detach()) <= 1e-8 and result.fun > 1e-4


def test_progress_is_printed(capsys):
    data = respond(small_model(((0.5, -1.0), (1.0, -1.5)))).detach().numpy()
    fit(small_model(), data, respond, free={"weights": [[True, False], [False, False]]}, progress=True)
    printed = capsys.readouterr().err
    assert "iteration" in printed and "loss" in printed and "best" in printed


def test_numerical_failures_count_as_infinite_loss():
    data = respond(small_model(((0.5, -1.0), (1.0, -1.5)))).detach().numpy()

    def fragile(model):  # no steady state beyond W_EE = 0.45 (the truth lies beyond)
        if float(model.weights[0, 0].detach()) > 0.45:
            raise SteadyStateError("no steady state")
        return respond(model)

    start = small_model(((0.3, -1.0), (1.0, -1.5)))
    result = fit(start, data, fragile, free={"weights": [[True, False], [False, False]]})
    assert result.failures > 0 and np.isfinite(result.fun)
    assert float(result.params["weights"][0, 0] * 1.0) <= 0.45

    nan = fit(small_model(), data, lambda m: respond(m) * np.nan, free={"weights": [[True, False], [False, False]]})
    assert not nan.success and nan.fun == np.inf and "no feasible point" in nan.message
    assert float(nan.params["weights"][0, 0] * 1.0) == 0.3  # the start


def test_time_limit():
    data = respond(small_model(((0.5, -1.0), (1.0, -1.5)))).detach().numpy()
    result = fit(small_model(), data, respond, free=["weights"], time_limit=0.0, restarts=3)
    assert not result.success
    assert result.message == ("the time limit of 0 s was reached in restart 1 of 3; no feasible point with a finite "
                              "loss was found; the start is returned")
    second = fit(small_model(), data, respond, free={"weights": [[True, False], [False, False]]}, time_limit=5.0,
                 restarts=1000)  # the first restart converges; the limit stops the others
    assert second.success and len(second.restarts) < 1000
    stopped = len(second.restarts)
    assert re.fullmatch(r"the best feasible point is from restart \d+ of 1000, which ended: Optimization terminated "
                        f"successfully; then the time limit of 5 s was reached in restart {stopped} of 1000",
                        second.message), second.message


def timed_benchmark_fit(path, points, **kwargs):
    """The benchmark's fit (as fit_response.run_fit), the model built before the clock starts: (result, seconds)."""
    x, y, r_star = fit_response.load(path)
    model = fit_response.model_of(points, **fit_response.START, r_star=r_star)
    amplitude = np.zeros((2, points), dtype=bool)
    amplitude[0, points // 2] = True
    start = time.perf_counter()
    result = fit(model, y, fit_response.sampler(x, points),
                 free={"weights": True, "kernel.sigma": True, "drive": amplitude},
                 bounds={"kernel.sigma": (0.01, 0.5), "drive": (0.0, None)}, dale=[+1, -1], **kwargs)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("limit", [0.1, 1.0])
def test_time_limit_holds_on_a_moderate_grid(data_files, limit):
    probe, seconds = timed_benchmark_fit(data_files[0], 201, max_iterations=2)
    iteration = seconds / max(probe.nit, 1)
    result, elapsed = timed_benchmark_fit(data_files[0], 201, time_limit=limit)
    assert elapsed < 1.1 * limit + iteration, (elapsed, iteration)
    assert not result.success and result.seconds <= elapsed
    assert result.message.startswith(f"the time limit of {limit:g} s was reached in restart 1 of 1; ")
    assert result.message.count("time limit") == 1 and result.message.count("restart 1") == 1


def test_time_limit_stops_a_long_evaluation():
    """The time is checked inside an evaluation (here the steps of a trajectory), not only between them."""
    model = small_model()
    start = time.perf_counter()
    model.trajectory(0.01, 1e-4, drive=INPUTS)
    step = (time.perf_counter() - start) / 100
    steps = int(4.0 / step)  # one evaluation: about 4 s

    def slow(m):
        return m.trajectory(steps * 1e-4, 1e-4, drive=INPUTS).rates[-1]

    data = respond(small_model(((0.5, -1.0), (1.0, -1.5)))).detach().numpy()
    limit = 1.0
    start = time.perf_counter()
    result = fit(small_model(), data, slow, free={"weights": [[True, False], [False, False]]}, time_limit=limit)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.1 * limit + 0.25 * steps * step, elapsed  # without the checks inside: one evaluation, 4 s
    assert result.message.startswith("the time limit of 1 s was reached in restart 1 of 1; no feasible point")


@pytest.mark.parametrize("change, error, match", [
    (dict(target=np.full((3, 2, 1), np.nan)), ValueError, "NaN"),
    (dict(free={"weights": True}, target=np.ones(3)), ValueError, "Fewer data points"),
    (dict(bounds={"weights": (0.4, None)}), ValueError, "exclude the start"),
    (dict(dale=[+1, +1]), ValueError, "exclude the start"),
    (dict(free={"tau_m": True}), ValueError, "Unknown parameter"),
    (dict(target=np.ones((3, 2))), ValueError, "shape"),
    (dict(target=np.full((3, 2, 1), np.inf)), ValueError, r"data \(target\) contain NaN or infinite"),
    (dict(bounds={"weights": (np.nan, None)}), ValueError, r"bounds\['weights'\] contains NaN"),
    (dict(bounds={"weights": (None, [[np.nan, 1.0], [1.0, 1.0]])}), ValueError, r"bounds\['weights'\] contains NaN"),
    (dict(time_limit=np.nan), ValueError, "time_limit must be a finite number"),
    (dict(time_limit=-1.0), ValueError, "time_limit must be a number of seconds >= 0"),
    (dict(regularization=np.inf), ValueError, "regularization must be a finite number"),
])
def test_bad_input_is_refused_before_any_work(change, error, match):
    calls = []

    def counting(model):
        calls.append(1)
        return respond(model)

    arguments = dict(target=np.ones((3, 2, 1)), free={"weights": [[True, True], [False, False]]})
    arguments.update(change)
    with pytest.raises(error, match=match):
        fit(small_model(), arguments.pop("target"), counting, **arguments)
    assert len(calls) <= (1 if match == "shape" else 0)  # the shape check needs one prediction


def test_unavailable_device():
    if torch.cuda.is_available():
        assert fit(small_model(), respond(small_model()).detach().cpu().numpy(), respond,
                   free={"weights": [[True, False], [False, False]]}, device="cuda").success
        return
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        fit(small_model(), np.ones((3, 2, 1)), respond, free=["weights"], device="cuda")


def test_benchmark_data_checks(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.arange(3.0), y=np.array([1.0, np.nan, 0.0]), r_star=R_STAR)
    with pytest.raises(ValueError, match="NaN"):
        fit_response.load(str(bad))
    np.savez(bad, x=np.arange(3.0), y=np.ones(4), r_star=R_STAR)
    with pytest.raises(ValueError, match="same length"):
        fit_response.load(str(bad))
    np.savez(bad, x=0.04 * np.arange(5.0), y=np.ones(5), r_star=R_STAR)  # 5 points, 9 free parameters
    with pytest.raises(ValueError, match="Fewer data points"):
        fit_response.run_fit(str(bad), 101)


def run_script(*arguments):
    environment = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "fit_response.py"), *arguments],
                          capture_output=True, text=True, cwd=ROOT, env=environment, timeout=300)


def test_benchmark_script(tmp_path):
    data, out, results = tmp_path / "data.npz", tmp_path / "result.json", tmp_path / "results.jsonl"
    assert run_script("--make-data", str(data), "--grid", "51").returncode == 0
    done = run_script("--data", str(data), "--grid", "51", "--out", str(out), "--restarts", "1",
                      "--results", str(results))  # not into the repository's benchmarks/results
    assert done.returncode == 0, done.stderr[-2000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    # the printed line adds the machine, versions and date to the result
    assert json.loads(out.read_text()).items() <= line.items() and line["loss"] <= 0.01
    assert json.loads(results.read_text().splitlines()[-1]) == line
    assert {"loss", "params", "seconds", "iterations", "success"} <= set(line)
    assert set(line["params"]) == {"W_pop", "sigma", "amplitude"}
    timing = run_script("--time-gradient", "--grid", "201", "--repeats", "2", "--results", "")
    assert json.loads(timing.stdout)["neurons"] == 402
    np.savez(data, x=np.arange(3.0), y=np.ones(4), r_star=R_STAR)
    refused = run_script("--data", str(data))
    assert refused.returncode != 0 and "same length" in refused.stderr
