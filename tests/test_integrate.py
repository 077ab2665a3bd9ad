"""lut_exponential_euler, grids from a tolerance, the report and the switch back to exact equations."""

import re

import numpy as np
import pytest
import sympy
from brian2 import (
    Clock, Network, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, mV, ms, nA, prefs,
)
from brian2.devices.device import reinit_devices
from conftest import TARGETS, build, use_target

from lut4brian import models, report, tabulate
from lut4brian.grid import interpolation_error
from lut4brian.integrate import optimise_update

GRID = (-100 * mV, 100 * mV, 0.1 * mV)


def cobahh_group(equations, namespace, method, clock=None, name="neurongroup*"):
    group = NeuronGroup(1, equations, method=method, namespace=namespace, clock=clock, name=name,
                        threshold="v > -20*mV", refractory="v > -20*mV")
    group.v, group.m, group.h, group.n, group.I = -65 * mV, 0.05, 0.6, 0.32, 0.5 * nA
    return group


def test_gate_updates_have_no_exp_and_repeats_are_computed_once():
    equations, namespace = models.cobahh()
    group = cobahh_group(tabulate(equations, v=GRID, namespace=namespace), namespace, "lut_exponential_euler")
    Network(group).run(defaultclock.dt)
    code = group.state_updater.abstract_code
    updates = dict(line.split(" = ", 1) for line in code.splitlines())
    for gate in "mnh":
        assert "exp" not in updates[f"_{gate}"] and "_decay_at(" in updates[f"_{gate}"]
    assert code.count("n**4") == 1 and code.count("m**3") == 1
    assert code.count("lut_index") == 1  # one grid index for the six tables
    assert len(re.findall(r"\bexp\(", code)) == 3  # v, and the constant decays of ge and gi


def test_common_subexpressions_change_nothing_but_the_cost():
    equations, namespace = models.cobahh()
    traces = []
    for method in ("exponential_euler", "lut_exponential_euler"):
        group = cobahh_group(equations, namespace, method)  # exact equations: CSE only
        monitor = StateMonitor(group, "v", record=0)
        Network(group, monitor).run(20 * ms)
        traces.append(np.asarray(monitor.v[0]))
    assert np.max(np.abs(traces[0] - traces[1])) < 1e-9


def test_optimise_update_keeps_statement_semantics():
    a, b, x, dt = sympy.symbols("a b x dt", real=True)
    steady = a * b / (a + b)
    optimised = optimise_update({"x": steady + (x - steady) * sympy.exp(-dt * (a + b))})
    assert optimised.count("a + b") == 1 and optimised.endswith("x = _x")


@pytest.mark.parametrize("target", TARGETS)
def test_decay_tables_follow_dt(target, tmp_path):
    """A later run with another dt, and groups on clocks with different dt."""
    use_target(target, tmp_path, build_on_run=False)
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    fast, slow = Clock(0.01 * ms, name="fast"), Clock(0.025 * ms, name="slow")
    groups = {}
    for clock in (fast, slow):
        for variant, eqs, method in (("exact", equations, "exponential_euler"),
                                     ("lut", lut, "lut_exponential_euler")):
            groups[clock.name, variant] = cobahh_group(eqs, namespace, method, clock, f"{variant}_{clock.name}")
    monitors = {key: SpikeMonitor(group) for key, group in groups.items()}
    net = Network(*groups.values(), *monitors.values())
    net.run(30 * ms)
    fast.dt = 0.02 * ms
    net.run(30 * ms)
    build(target, tmp_path)
    for clock, dt in (("fast", 0.02 * ms), ("slow", 0.025 * ms)):
        exact, lut_times = (np.asarray(monitors[clock, v].t) for v in ("exact", "lut"))
        assert len(exact) >= 4 and len(lut_times) == len(exact)
        assert np.max(np.abs(exact - lut_times)) <= 2 * float(dt)


def test_decay_tables_follow_a_changed_constant():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    namespace["VT"] = -58 * mV
    times = []
    for eqs, method in ((equations, "exponential_euler"), (lut, "lut_exponential_euler")):
        defaultclock.dt = 0.01 * ms
        group = cobahh_group(eqs, namespace, method)
        spikes = SpikeMonitor(group)
        Network(group, spikes).run(40 * ms)
        times.append(np.asarray(spikes.t))
    assert len(times[0]) >= 3 and len(times[0]) == len(times[1])
    assert np.max(np.abs(times[0] - times[1])) <= 2 * 0.01e-3


def test_switch_back_to_exact():
    equations, namespace = models.cobahh()
    prefs.lut4brian.enabled = False
    try:
        same = tabulate(equations, v=GRID, namespace=namespace)
        assert str(same) == str(tabulate(equations, v=GRID, namespace=namespace))
        assert not any(name.startswith("lut_") for name in same.identifiers)
        group = cobahh_group(same, namespace, "lut_exponential_euler")
        Network(group).run(defaultclock.dt)
        assert "_BA_v" in group.state_updater.abstract_code  # Brian2's own exponential_euler
    finally:
        prefs.lut4brian.enabled = True
    reinit_devices()
    assert prefs.lut4brian.enabled


def test_tolerance_picks_the_coarsest_step_that_meets_it():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV), tolerance=(1e-4, 1e-6), namespace=namespace)
    infos = report(lut)
    assert {info.name.rstrip("_0123456789") for info in infos} >= {"lut_m_rate", "lut_m_inf", "lut_h_rate"}
    steps = {float(info.step) for info in infos}
    assert len(steps) > 1  # each table its own step
    from brian2.core.functions import DEFAULT_FUNCTIONS

    for info in infos:
        table = DEFAULT_FUNCTIONS[info.name]
        exact, _ = interpolation_error(table.code, table.grid_spec.with_points(table.size),
                                       table.constants, table.functions)
        scale = np.max(np.abs(exact))
        assert float(info.max_abs_error) <= np.max(1e-4 * np.abs(exact) + 1e-6 * scale)
        # one point fewer would not do
        coarser = table.grid_spec.with_points(table.size - 1)
        exact, interpolated = interpolation_error(table.code, coarser, table.constants, table.functions)
        assert np.any(np.abs(interpolated - exact) > 1e-4 * np.abs(exact) + 1e-6 * np.max(np.abs(exact)))


@pytest.mark.parametrize(
    "grid, tolerance, error, match",
    [
        ((-100 * mV, 100 * mV, 0.1 * mV), 1e-4, TypeError, r"\(low, high\) when a tolerance"),
        ((-100 * mV, 100 * mV), None, TypeError, r"\(low, high, step\)"),
        ((-100 * mV, 100 * mV), -1e-3, ValueError, "non-negative"),
        ((-100 * mV, 100 * mV), (0, 0), ValueError, "not both 0"),
        ((-100 * mV, 100 * mV), 1e-9, ValueError, "needs more than 1000 grid points"),
    ],
)
def test_bad_tolerances(grid, tolerance, error, match, monkeypatch):
    monkeypatch.setattr("lut4brian.grid.MAX_POINTS", 1000)
    equations, namespace = models.cobahh()
    with pytest.raises(error, match=match):
        tabulate(equations, v=grid, tolerance=tolerance, namespace=namespace)


def test_report():
    equations, namespace = models.hh1952()
    infos = report(tabulate(equations, v=GRID, namespace=namespace))
    assert len(infos) == 6  # rate and steady state of m, h, n
    for info in infos:
        assert info.points == 2001 and info.memory_bytes == 2 * 8 * 2002
        assert info.step == 0.1 * mV and info.low == -100 * mV and info.high == 100 * mV
        assert 0 < info.max_rel_error < 1e-3
    text = str(infos)
    assert all(info.name in text for info in infos) and "max abs error" in text
    assert set(infos.as_dicts()[0]) >= {"name", "expression", "step", "points", "memory_bytes", "max_rel_error"}


def test_report_on_a_range_that_is_not_a_whole_number_of_steps():
    # 200 mV is not a multiple of 0.03 mV: the error must still follow step**2 (it once came out 1000x too large)
    equations, namespace = models.hh1952()
    errors = {}
    for step in (0.025, 0.03):
        infos = report(tabulate(equations, v=(-100 * mV, 100 * mV, step * mV), namespace=namespace))
        errors[step] = max(info.max_rel_error for info in infos)
    assert 1.2 < errors[0.03] / errors[0.025] < 1.7
