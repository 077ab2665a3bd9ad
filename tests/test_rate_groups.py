"""Rate populations as Brian2 groups (frbrian.rate_network) on every target, against numpy and the fixed point."""

import numpy as np
import pytest
from brian2 import DimensionMismatchError, Hz, Network, StateMonitor, TimedArray, defaultclock, ms, mV, second
from conftest import TARGETS, use_target

from frbrian import Coupling, DenseCoupling, Exponential, Gaussian, Grid, WrappedGaussian, power_law, steady_state
from frbrian.rate_network import RateNetwork

WEIGHTS = [[1.0, -1.0], [1.0, -0.5]]  # 1/Hz
TAU = np.array([10e-3, 5e-3])  # s
DRIVE = 0.5
STEPS = 100


def coupling():
    return Coupling(Grid((21,)), WEIGHTS, Gaussian(0.2))


def three_types_on_a_torus():
    # odd number of types and a 2-D periodic grid: every path of the C++ FFT
    kernels = [[WrappedGaussian(0.3), Exponential(0.2), Gaussian(0.25)]] * 3
    return Coupling(Grid((6, 5), periodic=True), [[0.5, -0.4, 0.1], [0.6, -0.3, 0.0], [0.2, 0.1, -0.2]], kernels)


def dense():
    return DenseCoupling(np.random.default_rng(0).normal(0, 0.1, (12, 12)), types=2)


def wide_dense():
    # more than 10^6 weights: the C++ product is shared among threads
    n = 1100
    return DenseCoupling(np.random.default_rng(1).normal(0, 0.5 / np.sqrt(n), (n, n)))


def drive_of(c):
    return 0.3 + 0.1 * np.arange(c.types * c.size).reshape(c.types, c.size) / (c.types * c.size)


def numpy_euler(c, drive, tau, steps, dt=1e-4):
    r = np.zeros((c.types, c.size))
    for _ in range(steps):
        r = r + dt * (-r + power_law()(c(r) + drive)) / tau[:, None]
    return r


@pytest.fixture(scope="module", params=TARGETS)
def traces(request, tmp_path_factory):
    """One network per target holding every test model, so that each target compiles once."""
    use_target(request.param, tmp_path_factory.mktemp(request.param))
    defaultclock.dt = 0.1 * ms
    models = {"grid": RateNetwork(coupling(), tau=list(TAU * 1000 * ms), transfer=power_law(), drive=DRIVE,
                                  names=["E", "I"])}
    for key, c in (("torus", three_types_on_a_torus()), ("dense", dense()), ("wide", wide_dense())):
        models[key] = RateNetwork(c, tau=[8 * ms] * c.types, transfer=power_law(), drive=drive_of(c))
    # names sorting before the networks': monitors prepare first (once failed on cpp_standalone)
    monitors = {key: [StateMonitor(g, "r", record=True, name=f"a_{g.name}") for g in net.groups]
                for key, net in models.items()}
    Network(*models.values(), *[m for ms_ in monitors.values() for m in ms_]).run(300 * ms)
    return request.param, {key: np.stack([np.asarray(m.r_) for m in ms_]) for key, ms_ in monitors.items()}


def test_matches_a_numpy_euler_loop(traces):
    target, r = traces
    reference = numpy_euler(coupling(), DRIVE, TAU, STEPS)  # the monitor's sample 100 is the state after 100 steps
    assert np.allclose(r["grid"][:, :, STEPS], reference, rtol=1e-10, atol=1e-14), target


@pytest.mark.parametrize("key, make", [("torus", three_types_on_a_torus), ("dense", dense), ("wide", wide_dense)])
def test_other_couplings_match_numpy(traces, key, make):
    target, r = traces
    c = make()
    reference = numpy_euler(c, drive_of(c), np.full(c.types, 8e-3), STEPS)
    assert np.abs(reference).max() > 0.1
    assert np.allclose(r[key][:, :, STEPS], reference, rtol=1e-10, atol=1e-12), target


def test_relaxes_to_the_fixed_point(traces):
    _, r = traces
    fixed = steady_state(coupling(), power_law(), np.full((2, 21), DRIVE)).rates
    assert np.allclose(r["grid"][:, :, -1], fixed, rtol=1e-6)


def test_timed_array_drive_and_general_dynamics():
    """A drive switched on by a TimedArray, and Wilson-Cowan saturation ``-r + (1 - k r) F``."""
    defaultclock.dt = 0.1 * ms
    stimulus = TimedArray([0.0, 2.0], dt=10 * ms)  # noqa: F841 (Brian2 finds it here); 0, then 2 from 10 ms
    k = 0.05 * second  # noqa: F841
    c = DenseCoupling(np.array([[0.1]]))
    net = RateNetwork(c, tau=5 * ms, transfer=power_law(), drive="stimulus(t)", dynamics="-r + (1 - k*r)*F")
    monitor = StateMonitor(net.groups[0], "r", record=0)
    Network(net, monitor).run(20 * ms)
    r, dt = np.zeros(1), 1e-4
    for step in range(200):
        h = 2.0 if step * dt >= 0.01 - 1e-12 else 0.0
        r = r + dt * (-r + (1 - 0.05 * r) * power_law()(c(r[None])[0] + h)) / 5e-3
    assert monitor.r_[0, 100] == 0.0
    assert np.isclose(net.groups[0].r_[0], r[0], rtol=1e-10)


def test_store_restore():
    rates = RateNetwork(coupling(), tau=10 * ms, transfer="power_law", drive=DRIVE)
    net = Network(rates)
    net.store()
    net.run(5 * ms)
    first = np.array(rates.groups[0].r_)
    net.restore()
    net.run(5 * ms)
    assert np.array_equal(first, rates.groups[0].r_)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(tau=-1 * ms), ValueError, "must be positive"),
        (dict(tau=1 * mV), DimensionMismatchError, "time constants"),
        (dict(tau=10 * ms, names=["E"]), ValueError, "one name per cell type"),
        (dict(tau=10 * ms, transfer="softplus"), ValueError, "Unknown transfer function"),
        (dict(tau=10 * ms, drive=np.ones((2, 20))), ValueError, "drive.*shape"),
        (dict(tau=10 * ms, initial=np.ones((3, 21)) * Hz), ValueError, "initial.*shape"),
        (dict(tau=10 * ms, initial=1 * mV), DimensionMismatchError, "initial rates"),
        (dict(tau=np.nan * ms), ValueError, "tau must be positive and finite"),
        (dict(tau=[10 * ms, np.inf * ms]), ValueError, "tau must be positive and finite"),
        (dict(tau=10 * ms, drive=np.nan), ValueError, r"drive contains NaN or infinite values \(1 of 1\)"),
        (dict(tau=10 * ms, drive=np.where(np.arange(42).reshape(2, 21) == 5, np.inf, 0.5)), ValueError,
         r"drive contains NaN or infinite values \(1 of 42\)"),
        (dict(tau=10 * ms, initial=np.full((2, 21), np.nan) * Hz), ValueError, "initial contains NaN"),
    ],
)
def test_bad_input(kwargs, error, match):
    kwargs.setdefault("transfer", "power_law")
    with pytest.raises(error, match=match):
        RateNetwork(coupling(), **kwargs)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: DenseCoupling(np.ones((3, 4))), ValueError, "must be square"),
        (lambda: DenseCoupling(np.ones((3, 3)), types=2), ValueError, "cannot be split"),
        (lambda: DenseCoupling(np.ones((2, 2)) * mV), DimensionMismatchError, "1/Hz"),
        (lambda: Coupling(Grid((5,)), np.ones((2, 3)), Gaussian(0.1)), ValueError, "square matrix"),
        (lambda: Coupling(Grid((5,)), np.ones((2, 2)) * ms, Gaussian(0.5)), None, None),
        (lambda: DenseCoupling(np.array([[0.1, np.nan], [0.0, 0.1]])), ValueError,
         r"weights contain NaN or infinite values \(1 of 4, the first at index \(0, 1\)\)"),
        (lambda: Coupling(Grid((5,)), [[1.0, np.inf], [1.0, 1.0]], Gaussian(0.5)), ValueError,
         "weights contain NaN or infinite"),
    ],
)
def test_bad_weights(make, error, match):
    if error is None:
        assert np.allclose(make().weights, 1e-3)  # weights with units are taken in 1/Hz = s
        return
    with pytest.raises(error, match=match):
        make()
