"""Rate populations as Brian2 groups (frbrian.brian) on every target, against numpy and the fixed point."""

import numpy as np
import pytest
from brian2 import DimensionMismatchError, Hz, Network, StateMonitor, defaultclock, ms, mV
from conftest import TARGETS, use_target

from frbrian import Coupling, Gaussian, Grid, power_law, steady_state
from frbrian.brian import RateNetwork

WEIGHTS = [[1.0, -1.0], [1.0, -0.5]]  # 1/Hz
TAU = np.array([10e-3, 5e-3])  # s
DRIVE = 0.5


def coupling():
    return Coupling(Grid((21,)), WEIGHTS, Gaussian(0.2))


def numpy_euler(steps, dt):
    c, r = coupling(), np.zeros((2, 21))
    for _ in range(steps):
        r = r + dt * (-r + power_law()(c(r) + DRIVE)) / TAU[:, None]
    return r


@pytest.fixture(scope="module", params=TARGETS)
def trace(request, tmp_path_factory):
    use_target(request.param, tmp_path_factory.mktemp(request.param))
    defaultclock.dt = 0.1 * ms
    rates = RateNetwork(coupling(), tau=list(TAU * 1000 * ms), transfer=power_law(), drive=DRIVE, names=["E", "I"])
    monitors = [StateMonitor(rates[name], "r", record=True) for name in ("E", "I")]
    Network(rates, *monitors).run(300 * ms)
    return request.param, np.stack([np.asarray(m.r_) for m in monitors])  # (type, unit, time)


def test_matches_a_numpy_euler_loop(trace):
    target, r = trace
    reference = numpy_euler(100, 1e-4)  # the monitor's sample 100 is the state after 100 steps
    assert np.allclose(r[:, :, 100], reference, rtol=1e-10, atol=1e-14), target


def test_relaxes_to_the_fixed_point(trace):
    _, r = trace
    fixed = steady_state(coupling(), power_law(), np.full((2, 21), DRIVE)).rates
    assert np.allclose(r[:, :, -1], fixed, rtol=1e-6)


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
    ],
)
def test_bad_input(kwargs, error, match):
    kwargs.setdefault("transfer", "power_law")
    with pytest.raises(error, match=match):
        RateNetwork(coupling(), **kwargs)
