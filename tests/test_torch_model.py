"""The PyTorch twin of RateNetwork (frbrian.torch_model): against numpy, Brian2 on every target, and finite differences."""

import os
import subprocess
import sys

import numpy as np
import pytest
from brian2 import Hz, Network, defaultclock, ms
from conftest import ROOT, TARGETS, use_target

from frbrian import (Coupling, DenseCoupling, Exponential, Gaussian, Grid, RateNetwork, SteadyStateError,
                     WrappedGaussian, paradoxical_response, power_law, sigmoid, stability, steady_state, rectified_tanh,
                     threshold_linear)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small FFTs and solves: threads only add overhead on 2 shared cores
from frbrian.torch_model import RateModel, TorchTransfer  # noqa: E402

WEIGHTS = [[1.0, -1.0], [1.0, -0.5]]  # 1/Hz
# Coarse grids on purpose (small, fast models): the tests compare implementations of the same discretised coupling.
pytestmark = pytest.mark.filterwarnings("ignore::frbrian.kernels.ResolutionWarning")


def mixed_kernels():
    # every kernel kind, a sum with a constant factor, and a different kernel per pair
    return [[Gaussian(0.2), Exponential(0.3)], [Gaussian(0.25) + 0.5 * Gaussian(0.1), Gaussian(0.15)]]


def grid_model(points=11, **kwargs):
    drive = 0.5 + 0.3 * np.linspace(0, 1, 2 * points).reshape(2, points)
    kwargs.setdefault("initial", 0.5 * Hz)
    return RateModel(Coupling(Grid((points,)), WEIGHTS, mixed_kernels()), tau=[10 * ms, 5 * ms],
                     transfer=power_law(), drive=drive, names=["E", "I"], **kwargs)


def torus():
    kernels = [[WrappedGaussian(0.3), Exponential(0.2), Gaussian(0.25)]] * 3
    return Coupling(Grid((6, 5), periodic=True), [[0.5, -0.4, 0.1], [0.6, -0.3, 0.0], [0.2, 0.1, -0.2]], kernels)


def dense_coupling():
    return DenseCoupling(np.random.default_rng(0).normal(0, 0.2, (6, 6)), types=2)


@pytest.mark.parametrize("transfer", [power_law(k=0.5, n=2.0), power_law(), threshold_linear(2.0, 0.3),
                                      sigmoid(3.0, 2.0, 0.5), rectified_tanh(2.0, 1.5, 0.1)])
def test_transfer_matches_numpy(transfer):
    current = np.linspace(-2, 3, 41)
    f = TorchTransfer(transfer)
    constants = torch.tensor(f.constants, dtype=torch.float64)
    values = f(torch.tensor(current), constants).numpy()
    assert np.allclose(values, transfer(current), rtol=1e-13, atol=1e-15)
    gains = f.gains(torch.tensor(current), constants).numpy()
    away = np.abs(current - 0.3) > 1e-6  # derivatives differ only at the kink of the threshold
    assert np.allclose(gains[away], transfer.derivative(current)[away], rtol=1e-12, atol=1e-14)
    rates = torch.tensor([0.3, 1.2], dtype=torch.float64)
    assert torch.allclose(f(f.inverse(rates, constants), constants), rates)
    assert TorchTransfer(f.expression(f.constants)).constants == f.constants


@pytest.mark.parametrize("make", [lambda: Coupling(Grid((11,)), WEIGHTS, mixed_kernels()), torus, dense_coupling])
def test_coupling_matches_numpy(make):
    coupling = make()
    model = RateModel(coupling, 10 * ms, power_law())
    rates = np.random.default_rng(1).uniform(0, 2, (3, coupling.types, coupling.size))  # a batch
    operator = model.operator()
    assert np.allclose(operator.apply(torch.tensor(rates)).detach().numpy(), coupling(rates), rtol=1e-12, atol=1e-12)
    dense = operator.dense().detach().numpy()
    assert np.allclose(dense, coupling.matrix(), rtol=1e-12, atol=1e-14)
    transposed = operator.transpose(torch.tensor(rates)).detach().numpy()
    expected = (rates.reshape(3, -1) @ coupling.matrix()).reshape(rates.shape)
    assert np.allclose(transposed, expected, rtol=1e-12, atol=1e-12)


def test_round_trip_through_a_rate_network():
    model = grid_model()
    with torch.no_grad():
        model.kernel["left_sigma"][1, 0] = 0.3  # a fitted value must reach the network
    net = model.to_network()
    again = RateModel.from_network(net)
    for (name, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        assert torch.allclose(a, b, rtol=1e-14), name
    assert net.coupling.kernels[1][0].left.sigma == 0.3
    assert [float(t / ms) for t in net.taus] == [10.0, 5.0]
    assert np.allclose(net.initial / Hz, 0.5)
    units = model.parameters_with_units()
    assert float(units["tau"][0] / ms) == pytest.approx(10.0) and float(units["weights"][0, 0] * Hz) == 1.0


def test_baseline_is_held():
    baseline = np.array([[1.3], [0.8]]) * np.ones((2, 11))
    model = grid_model(baseline=baseline * Hz)
    with torch.no_grad():
        model.drive.zero_()
        assert torch.allclose(model.steady_rates(initial=model.baseline), model.baseline, rtol=1e-10)
        assert model(model.baseline).abs().max() < 1e-9  # dr/dt = 0 there


def test_steady_state_matches_numpy_batched_and_both_solvers():
    model = grid_model(points=31)
    coupling = model.to_coupling()
    drives = torch.stack([model.drive.detach(), 1.5 * model.drive.detach()])
    with torch.no_grad():
        dense = model.steady_rates(drive=drives, solver="dense")
        krylov = model.steady_rates(drive=drives, solver="gmres")
    for k in range(2):
        expected = steady_state(coupling, power_law(), drives[k].numpy()).rates
        assert np.allclose(dense[k].numpy(), expected, rtol=1e-9)
        assert np.allclose(krylov[k].numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("solver", ["dense", "gmres"])
def test_implicit_gradient_matches_finite_differences(solver):
    model = grid_model(points=7, baseline=np.array([[1.3], [0.9]]) * np.ones((2, 7)) * Hz)
    names = ["weights", "kernel.sigma", "kernel.scale", "kernel.left_sigma", "drive", "transfer.E"]
    start = [dict(model.named_parameters())[n].detach().clone().requires_grad_(True) for n in names]

    def response(*values):
        with torch.nn.utils.stateless._reparametrize_module(model, dict(zip(names, values))):
            return model.steady_rates(initial=model.baseline, solver=solver, tolerance=1e-13)

    assert torch.autograd.gradcheck(response, start, atol=1e-6, rtol=1e-4)


def test_stability_and_paradoxical_response_match_numpy():
    model = grid_model(points=15)
    rates = model.steady_rates().detach()
    coupling, drive = model.to_coupling(), model.drive.detach().numpy()
    largest, _ = stability(coupling, power_law(), rates.numpy(), drive, tau=[0.01, 0.005])
    assert float(model.largest_real_eigenvalue().detach()) == pytest.approx(largest, rel=1e-10)
    expected = paradoxical_response(coupling, power_law(), rates.numpy(), drive)
    assert float(model.paradoxical_response().detach()) == pytest.approx(expected, rel=1e-8)


def test_stability_gradient_matches_finite_differences():
    model = grid_model(points=5)

    def largest(weights, sigma):
        with torch.nn.utils.stateless._reparametrize_module(model, {"weights": weights, "kernel.sigma": sigma}):
            return model.largest_real_eigenvalue()

    start = [model.weights.detach().clone().requires_grad_(True),
             model.kernel["sigma"].detach().clone().requires_grad_(True)]
    assert torch.autograd.gradcheck(largest, start, atol=1e-5, rtol=1e-4)


def numpy_euler(model, steps, dt):
    coupling, r = model.to_coupling(), np.full((2, model.size), 0.5)
    h, tau = model.drive.detach().numpy(), model.tau.detach().numpy()[:, None]
    for _ in range(steps):
        r = r + dt * (-r + power_law()(coupling(r) + h)) / tau
    return r


def test_integrators():
    model = grid_model()
    with torch.no_grad():
        euler = model.trajectory(20 * ms, 0.1 * ms, "euler")
        rk4 = model.trajectory(20 * ms, 0.1 * ms, "rk4")
        adaptive = model.trajectory(20 * ms, 5 * ms, "adaptive", rtol=1e-10, atol=1e-12)
        fine = model.trajectory(20 * ms, 0.02 * ms, "rk4", every=5)
    assert euler.rates.shape == (201, 2, 11) and float(euler.times[-1]) == pytest.approx(0.02)
    assert np.allclose(euler.rates[-1].numpy(), numpy_euler(model, 200, 1e-4), rtol=1e-12)
    assert torch.allclose(rk4.rates[-1], fine.rates[-1], rtol=1e-7)
    assert torch.allclose(adaptive.rates[-1], fine.rates[-1], rtol=1e-7)


def test_a_trajectory_in_pieces_equals_one_in_one_piece(monkeypatch):
    """torchdiffeq is called on pieces of OUTPUTS_PER_CALL outputs; where they join changes nothing."""
    from frbrian import torch_trajectory

    model = grid_model()
    step = lambda t: model.drive * (1 + (t >= 0.0123))  # the drive doubles inside the fifth piece
    with torch.no_grad():
        whole = {m: model.trajectory(20 * ms, 0.1 * ms, m, drive=step, every=2) for m in ("euler", "rk4")}
        monkeypatch.setattr(torch_trajectory, "OUTPUTS_PER_CALL", 7)
        pieces = {m: model.trajectory(20 * ms, 0.1 * ms, m, drive=step, every=2) for m in ("euler", "rk4")}
    for m in whole:
        assert torch.equal(whole[m].times, pieces[m].times)
        assert torch.allclose(whole[m].rates, pieces[m].rates, rtol=1e-13, atol=0), m


def test_trajectory_gradient_and_time_dependent_drive():
    model = grid_model(points=5)
    step = lambda t: model.drive * (t >= 0.005)  # the input switched on at 5 ms
    # Euler reads the drive at the start of each step, as Brian2 does: off for the first 5 steps
    rates = model.trajectory(10 * ms, 1 * ms, "euler", drive=step).rates
    assert torch.equal(rates[5], model.trajectory(5 * ms, 1 * ms, "euler", drive=torch.zeros(2, 5)).rates[-1])
    assert not torch.allclose(rates[6], rates[5])
    model.trajectory(10 * ms, 1 * ms, "rk4", drive=step).rates[-1].sum().backward()
    assert model.weights.grad.abs().sum() > 0 and model.tau.grad.abs().sum() > 0


# --- the same model in Brian2, on every target ------------------------------------------------

STEPS, DT = 100, 0.1 * ms


@pytest.fixture(scope="module", params=TARGETS)
def brian_runs(request, tmp_path_factory):
    """Each model run in Brian2 on one target (one network, so each target compiles once)."""
    from brian2.devices.device import reinit_devices, reset_device

    use_target(request.param, tmp_path_factory.mktemp(request.param))
    defaultclock.dt = DT
    models = {"grid": grid_model(), "torus": RateModel(torus(), 8 * ms, sigmoid(5.0, 2.0, 0.2), drive=0.4)}
    networks = {key: model.to_network() for key, model in models.items()}  # torch -> Brian2
    networks["dense"] = RateNetwork(dense_coupling(), [6 * ms, 9 * ms], power_law(), drive=0.7, initial=0.2 * Hz)
    models["dense"] = RateModel.from_network(networks["dense"])  # and Brian2 -> torch
    Network(*networks.values()).run(STEPS * DT)
    results = {key: np.stack([np.asarray(g.r_) for g in net.groups]) for key, net in networks.items()}
    yield request.param, models, results
    reset_device("runtime")
    reinit_devices()


@pytest.mark.parametrize("key", ["grid", "torus", "dense"])
def test_brian2_and_torch_agree(brian_runs, key):
    target, models, results = brian_runs
    with torch.no_grad():
        torch_rates = models[key].trajectory(STEPS * DT, DT, "euler").rates[-1].numpy()
    assert np.abs(torch_rates).max() > 0.1
    assert np.allclose(results[key], torch_rates, rtol=1e-6, atol=1e-12), (target, key)


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input():
    coupling = Coupling(Grid((5,)), WEIGHTS, Gaussian(0.2))
    with pytest.raises(NotImplementedError, match="dynamics"):
        RateModel.from_network(RateNetwork(coupling, 10 * ms, "power_law", dynamics="-r + (1 - r*ms)*F"))
    with pytest.raises(NotImplementedError, match="expression"):
        RateModel.from_network(RateNetwork(coupling, 10 * ms, "power_law", drive="0.5"))
    with pytest.raises(ValueError, match="drive.*shape"):
        RateModel(coupling, 10 * ms, power_law(), drive=np.ones((2, 4)))
    with pytest.raises(ValueError, match="positive tau"):
        RateModel(coupling, -1 * ms, power_law())
    with pytest.raises(ValueError, match="Unknown method"):
        RateModel(coupling, 1 * ms, power_law()).trajectory(1 * ms, 0.1 * ms, "heun")
    runaway = Coupling(Grid((5,)), [[3.0, 0.0], [0.0, 0.0]], Gaussian(0.2))  # r = (3r + 3)^2 has no solution
    with pytest.raises(SteadyStateError):
        RateModel(runaway, 1 * ms, power_law(), drive=3.0).steady_rates()


def test_device():
    """A CUDA model matches the CPU where CUDA is there; elsewhere asking for it is a clear error."""
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            grid_model(device="cuda")
        return
    on_gpu = grid_model(points=31, device="cuda")
    rates = on_gpu.steady_rates()
    rates.sum().backward()
    assert rates.device.type == "cuda" and on_gpu.weights.grad.device.type == "cuda"
    assert torch.allclose(rates.detach().cpu(), grid_model(points=31).steady_rates().detach(), rtol=1e-10)


def test_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import frbrian; from frbrian import *\n"
            "try:\n    frbrian.RateModel\nexcept ImportError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install lut4brian[fit]" in result.stdout


def test_stability_by_arnoldi_matches_the_dense_eigenproblem(monkeypatch):
    """Above ARNOLDI_LIMIT units ARPACK finds the eigenvalue; its value and gradient are the dense ones."""
    import frbrian.torch_linalg as torch_model

    model = grid_model(points=101)  # 202 units
    assert 2 * 101 > torch_model.ARNOLDI_LIMIT

    def value_and_gradient():
        model.zero_grad()
        value = model.largest_real_eigenvalue()
        value.backward()
        return float(value.detach()), model.weights.grad.clone(), model.kernel["sigma"].grad.clone()

    arnoldi = value_and_gradient()
    monkeypatch.setattr(torch_model, "ARNOLDI_LIMIT", 10**9)
    dense = value_and_gradient()
    assert arnoldi[0] == pytest.approx(dense[0], rel=1e-10)
    for a, d in zip(arnoldi[1:], dense[1:]):
        assert torch.allclose(a, d, rtol=1e-7, atol=1e-10)


def test_a_deadline_stops_the_long_loops():
    """fit's time limit reaches inside Newton steps, GMRES, integration steps and Arnoldi iteration."""
    import time

    from frbrian.deadlines import TimeUp, deadline

    model = grid_model(points=101)
    passed = time.perf_counter() - 1.0
    for compute in (model.steady_rates, lambda: model.steady_rates(solver="gmres"), model.largest_real_eigenvalue,
                    lambda: model.trajectory(0.01, 1e-4)):
        with deadline(passed), pytest.raises(TimeUp):
            compute()
        compute()  # no deadline outside the block
    start = time.perf_counter()
    model.trajectory(0.01, 1e-4)
    step = (time.perf_counter() - start) / 100
    limit = 0.5
    start = time.perf_counter()
    with deadline(start + limit), pytest.raises(TimeUp):
        model.trajectory(1000.0, 1e-4)  # 10^7 steps: some 1000 s without the check
    # a few steps late at most; the margin is for a busy machine's scheduling
    assert time.perf_counter() - start < 1.5 * limit + 10 * step


@pytest.mark.parametrize("kwargs, match", [
    (dict(drive=np.nan), r"drive contains NaN or infinite values \(22 of 22\)"),
    (dict(tau=[10 * ms, np.inf * ms]), r"one positive tau \(finite\)"),
    (dict(tau=np.nan), r"one positive tau \(finite\)"),
    (dict(baseline=np.array([[1.0] * 11, [np.inf] + [1.0] * 10]) * Hz), r"baseline contains NaN .*\(1 of 22\)"),
    (dict(initial=np.nan * Hz), "initial contains NaN"),
])
def test_non_finite_numbers_are_refused(kwargs, match):
    arguments = dict(tau=[10 * ms, 5 * ms], transfer=power_law(), drive=0.5)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        RateModel(Coupling(Grid((11,)), WEIGHTS, Gaussian(0.2)), **arguments)
