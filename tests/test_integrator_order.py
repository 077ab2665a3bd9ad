"""
Integrators against the true solution: one COBAHH neuron, spike times from
a scipy reference, and the observed order when dt halves.
"""

import functools

import numpy as np
import pytest
from brian2 import Clock, Equations, Network, NeuronGroup, StateMonitor, mV, ms, nA, prefs
from brian2.core.base import BrianObjectException
from brian2.stateupdaters.base import UnsupportedEquationsException
from conftest import build, use_target
from scipy.integrate import solve_ivp
from scipy.special import exprel

from lut4brian import lut_exponential_euler, lut_staggered, lut_strang, models, tabulate

DURATION = 60.0  # ms
CURRENT = 0.5  # nA
#: A fine grid, so that the tables' own error stays far below the integrators'.
GRID = (-100 * mV, 100 * mV, 0.01 * mV)

#: integrator: (tabulated equations, dt pair in ms, least error ratio when dt halves)
ORDERS = {
    "exponential_euler": (False, (0.02, 0.01), 1.8),
    "lut_exponential_euler": (True, (0.02, 0.01), 1.8),
    "rk2": (False, (0.04, 0.02), 3.5),
    "heun": (False, (0.02, 0.01), 1.8),  # Brian2's stochastic Heun: Euler for deterministic equations
    "rk4": (False, (0.04, 0.02), 8.0),  # fourth order: 16 in the limit
    "lut_strang": (True, (0.025, 0.0125), 3.5),
    "lut_staggered": (True, (0.025, 0.0125), 3.5),
}


def _parameters():
    """COBAHH's constants in ms, mV, nA, uS, nF (so that dv/dt comes in mV/ms)."""
    _, namespace = models.cobahh()
    scale = {"Cm": 1e9, "gl": 1e6, "g_na": 1e6, "g_kd": 1e6, "El": 1e3, "EK": 1e3, "ENa": 1e3, "VT": 1e3}
    return {name: float(namespace[name]) * factor for name, factor in scale.items()}


def _cobahh_rhs(p, current):
    def rhs(t, y):
        v, m, h, n = y
        u = p["VT"] - v
        alpha_m, beta_m = 1.28 / exprel((13 + u) / 4), 1.4 / exprel(-(40 + u) / 5)
        alpha_h, beta_h = 0.128 * np.exp((17 + u) / 18), 4 / (1 + np.exp((40 + u) / 5))
        alpha_n, beta_n = 0.16 / exprel((15 + u) / 5), 0.5 * np.exp((10 + u) / 40)
        current_in = (p["gl"] * (p["El"] - v) - p["g_na"] * m**3 * h * (v - p["ENa"])
                      - p["g_kd"] * n**4 * (v - p["EK"]) + current)
        return [current_in / p["Cm"], alpha_m * (1 - m) - beta_m * m, alpha_h * (1 - h) - beta_h * h,
                alpha_n * (1 - n) - beta_n * n]

    return rhs


@functools.lru_cache(maxsize=None)
def reference_spikes():
    """Upward -20 mV crossings (ms) of the exact equations, LSODA at rtol 1e-10, atol 1e-12."""
    crossing = lambda t, y: y[0] + 20  # noqa: E731
    crossing.direction = 1
    solution = solve_ivp(_cobahh_rhs(_parameters(), CURRENT), (0, DURATION), [-65, 0, 0, 0], method="LSODA",
                         rtol=1e-10, atol=1e-12, events=crossing)
    return solution.t_events[0]


def crossings(v, dt):
    """
    Upward -20 mV crossings (ms) of ``v`` (mV, every ``dt`` ms), from the
    cubic through the four samples around each: its error, O(dt**4), stays
    below that of the integrators (a straight line's, O(dt**2), would not
    for rk4).
    """
    times = []
    for k in np.flatnonzero((v[:-1] < -20) & (v[1:] >= -20)):
        first = min(max(k - 1, 0), len(v) - 4)
        cubic = np.polynomial.Polynomial.fit(np.arange(first, first + 4) - k, v[first:first + 4] + 20, 3)
        roots = [r.real for r in cubic.roots() if abs(r.imag) < 1e-9 and -1e-9 <= r.real <= 1 + 1e-9]
        linear = (-20 - v[k]) / (v[k + 1] - v[k])
        times.append((k + min(roots, key=lambda r: abs(r - linear))) * dt)
    return np.array(times)


def neuron(method, tabulated, dt, name):
    """One COBAHH neuron from rest with m = h = n = 0, driven by CURRENT, and a monitor of v at every step."""
    equations, namespace = models.cobahh()
    if tabulated:
        equations = tabulate(equations, v=GRID, namespace=namespace)
    group = NeuronGroup(1, equations, method=method, namespace=namespace, clock=Clock(dt * ms, name=f"clock_{name}"),
                        name=name)
    group.v, group.I = -65 * mV, CURRENT * nA
    return group, StateMonitor(group, "v", record=0, name=f"v_{name}")


def spike_time_error(monitor, dt):
    times, reference = crossings(np.asarray(monitor.v[0] / mV), dt), reference_spikes()
    assert len(times) == len(reference), f"{len(times)} spikes, the reference has {len(reference)}"
    return np.max(np.abs(times - reference))


def test_reference_is_converged():
    # a second method at the same tolerance agrees far below the errors measured here
    crossing = lambda t, y: y[0] + 20  # noqa: E731
    crossing.direction = 1
    dop853 = solve_ivp(_cobahh_rhs(_parameters(), CURRENT), (0, DURATION), [-65, 0, 0, 0], method="DOP853",
                       rtol=1e-10, atol=1e-12, events=crossing).t_events[0]
    assert len(reference_spikes()) >= 4 and len(dop853) == len(reference_spikes())
    assert np.max(np.abs(dop853 - reference_spikes())) < 1e-6


def observed_ratios(target, tmp_path):
    use_target(target, tmp_path, build_on_run=False)
    runs = {}
    for method, (tabulated, dts, _) in ORDERS.items():
        for k, dt in enumerate(dts):
            runs[method, dt] = neuron(method, tabulated, dt, f"{method}_{k}")
    Network(*[obj for pair in runs.values() for obj in pair]).run(DURATION * ms)
    build(target, tmp_path)
    errors = {key: spike_time_error(monitor, key[1]) for key, (_, monitor) in runs.items()}
    return {method: errors[method, dts[0]] / errors[method, dts[1]] for method, (_, dts, _) in ORDERS.items()}, errors


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_observed_order(target, tmp_path):
    ratios, errors = observed_ratios(target, tmp_path)
    for method, (_, dts, least) in ORDERS.items():
        assert ratios[method] >= least, (method, errors[method, dts[0]], errors[method, dts[1]])


def test_lut_strang_at_a_coarse_step():
    # exact gate steps keep it on the right spikes at dt = 0.1 ms (where rk2 and rk4 lose or add spikes)
    group, monitor = neuron("lut_strang", True, 0.1, "coarse")
    Network(group, monitor).run(DURATION * ms)
    assert spike_time_error(monitor, 0.1) < 1.0


def test_lut_staggered_gates_lag_by_half_a_step():
    """
    Gates set at t = 0 are taken as their values at -dt/2: an error of
    first order, here a tenth of the method's own (gates set to the
    reference solution's values at -dt/2 remove it).
    """
    dt = 0.025
    rhs = _cobahh_rhs(_parameters(), CURRENT)
    half_step_back = solve_ivp(rhs, (0, -dt / 2), [-65, 0, 0, 0], method="LSODA", rtol=1e-10, atol=1e-12).y[1:, -1]
    times = {}
    for started in ("at_zero", "half_step_back"):
        group, monitor = neuron("lut_staggered", True, dt, started)
        if started == "half_step_back":
            group.m, group.h, group.n = half_step_back
        gates = StateMonitor(group, "m", record=0, name=f"m_{started}")
        Network(group, monitor, gates).run(DURATION * ms)
        times[started] = crossings(np.asarray(monitor.v[0] / mV), dt)
    error = spike_time_error(monitor, dt)
    assert 0.005 < error < 0.05
    assert 0.0005 < np.max(np.abs(times["at_zero"] - times["half_step_back"])) < 0.1 * error
    # what a monitor records at time t is m at t - dt/2 (in the first 0.5 ms, where m moves fastest)
    t = np.asarray(gates.t / ms)
    early = (t >= dt) & (t <= 0.5)
    exact = solve_ivp(rhs, (0, 6), [-65, 0, 0, 0], method="LSODA", rtol=1e-10, atol=1e-12, dense_output=True).sol
    recorded, t = np.asarray(gates.m[0])[early], t[early]
    lag = np.max(np.abs(recorded - exact(t - dt / 2)[1]))
    assert lag < 0.2 * np.max(np.abs(recorded - exact(t)[1]))


@pytest.mark.parametrize("method", ["lut_strang", "lut_staggered"])
def test_without_tables_is_the_same_scheme(method):
    times = {}
    for enabled in (True, False):
        prefs.lut4brian.enabled = enabled
        try:
            group, monitor = neuron(method, True, 0.025, f"tables_{enabled}")
            Network(group, monitor).run(DURATION * ms)
        finally:
            prefs.lut4brian.enabled = True
        code = group.state_updater.abstract_code
        assert ("lut_index" in code) == enabled and (code.count("exp(") >= 3) != enabled
        times[enabled] = crossings(np.asarray(monitor.v[0] / mV), 0.025)
    # the tables' own error (0.01 mV grid) is far below the integrator's (about 0.03 ms here)
    assert len(times[True]) == len(times[False]) == len(reference_spikes())
    assert np.max(np.abs(times[True] - times[False])) < 1e-3


def test_refused_equations_name_the_equation_and_the_alternative():
    adex = Equations("dv/dt = (-v + exp(v/mV)*mV)/(10*ms) : volt")
    with pytest.raises(UnsupportedEquationsException, match=r"'dv/dt = .*': .*not linear in v.*method='rk4'"):
        lut_strang(adex)
    noisy = Equations("dv/dt = -v/(10*ms) + xi*mV/sqrt(ms) : volt")
    with pytest.raises(UnsupportedEquationsException, match=r"'dv/dt = .*': it is stochastic.*'euler' or 'heun'"):
        lut_strang(noisy)
    with pytest.raises(UnsupportedEquationsException, match=r"lut_staggered cannot integrate 'dv/dt = .*not linear"):
        lut_staggered(adex)
    with pytest.raises(UnsupportedEquationsException, match=r"lut_exponential_euler cannot integrate 'dv/dt = .*rk4"):
        lut_exponential_euler(Equations("dv/dt = -v**2/(10*ms*mV) : volt"))
    # in a run, Brian2 reports the same message as the cause of its own
    with pytest.raises(BrianObjectException) as raised:
        Network(NeuronGroup(1, adex, method="lut_strang")).run(0.1 * ms)
    assert "not linear in v" in str(raised.value.__cause__)
