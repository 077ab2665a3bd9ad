"""The preprocessor: what it tabulates, how it resolves constants, and what bad input gets."""

import os

import numpy as np
import pytest
from brian2 import (
    Cylinder, DimensionMismatchError, Equations, Hz, Network, NeuronGroup, SpatialNeuron,
    StateMonitor, cm, ms, mV, msiemens, nA, ohm, run, siemens, uF, um, umetre, volt,
)
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.utils.logger import catch_logs

from lut4brian import models, tabulate, tabulated

GRID = (-100 * mV, 100 * mV, 0.1 * mV)


def table_names(equations):
    if not isinstance(equations, Equations):
        equations = Equations(equations)
    return {name for name in equations.identifiers if name.startswith("lut_")}


def run_single(equations, namespace, duration=20 * ms, method="exponential_euler", current=0.5 * nA):
    group = NeuronGroup(1, equations, method=method, namespace=namespace)
    group.v = -65 * mV
    group.I = current
    monitor = StateMonitor(group, "v", record=0)
    Network(group, monitor).run(duration)
    return np.asarray(monitor.v[0])


def test_cobahh_rates_become_tables():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    for gate in "mnh":
        code = lut[gate].expr.code
        assert "exp" not in code and f"lut_{gate}_rate" in code and f"lut_{gate}_inf" in code
    # the voltage equation has nothing costly that depends on v alone
    assert lut["v"].expr.code == Equations(equations)["v"].expr.code
    assert lut["ge"].expr.code == Equations(equations)["ge"].expr.code


def test_tabulated_cobahh_matches_exact():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    exact, tabulated_v = run_single(equations, namespace), run_single(lut, namespace)
    assert np.max(np.abs(exact - tabulated_v)) < 0.05e-3  # volt; a spike in the window


def test_constants_from_the_callers_function_scope():
    def script():
        El, EK, ENa, VT = -60 * mV, -90 * mV, 50 * mV, -63 * mV
        area = 20000 * umetre**2
        Cm = 1 * uF * cm**-2 * area
        gl = 5e-5 * siemens * cm**-2 * area
        g_na = 100 * msiemens * cm**-2 * area
        g_kd = 30 * msiemens * cm**-2 * area
        taue, taui, Ee, Ei = 5 * ms, 10 * ms, 0 * mV, -80 * mV
        lut = tabulate(models.cobahh()[0], v=GRID)
        group = NeuronGroup(1, lut, method="exponential_euler")  # no namespace argument
        group.v, group.I = -65 * mV, 0.5 * nA
        monitor = StateMonitor(group, "v", record=0)
        run(20 * ms)
        return np.asarray(monitor.v[0])

    equations, namespace = models.cobahh()
    assert np.max(np.abs(script() - run_single(equations, namespace))) < 0.05e-3


def test_decorator():
    @tabulated(v=GRID)
    def hh():
        return models.hh1952()[0]

    equations, namespace = models.hh1952()
    lut = hh()
    assert isinstance(lut, Equations)
    assert any(name.startswith("lut_m_rate") for name in table_names(lut))
    assert np.max(np.abs(run_single(lut, namespace, current=10 * nA) - run_single(equations, namespace, current=10 * nA))) < 0.05e-3
    assert hh.__name__ == "hh"


def test_removable_singularity_gets_its_limit():
    # alpha_m of HH 1952 is 0/0 at -40 mV, a grid point here
    lut = tabulate("dx/dt = a*(1 - x) : 1\na = 0.1/mV*(v+40*mV)/(1-exp(-(v+40*mV)/(10*mV)))/ms : Hz\nv : volt",
                   v=(-50 * mV, -30 * mV, 1 * mV))
    (name,) = table_names(lut)
    table = DEFAULT_FUNCTIONS[name]
    assert np.isfinite(np.asarray(table.values)).all()
    assert abs(float(table(-40 * mV)) - 1000.0) < 1e-6  # the limit, 1/ms
    assert abs(float(table(-39.5 * mV)) - 1000.0 * 0.05 / (1 - np.exp(-0.05))) < 0.3


def test_pole_is_refused_with_the_expression():
    with pytest.raises(ValueError, match=r"not finite at v = -40\. mV.*pole"):
        tabulate("dx/dt = mV/(v + 40*mV)/ms : 1\nv : volt", v=(-50 * mV, -30 * mV, 1 * mV))


def test_depend_rebuilds_table_when_a_constant_changes():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    namespace["VT"] = -58 * mV  # after tabulating, before the run
    shifted = run_single(equations, namespace)
    assert np.max(np.abs(run_single(lut, namespace) - shifted)) < 0.05e-3
    namespace["VT"] = -63 * mV
    assert np.max(np.abs(run_single(lut, namespace) - shifted)) > 1e-3


def test_several_tabulations_coexist():
    equations, namespace = models.cobahh()
    first = tabulate(equations, v=GRID, namespace=namespace)
    second = tabulate(equations, v=(-90 * mV, 60 * mV, 0.2 * mV), namespace=namespace)
    assert table_names(first).isdisjoint(table_names(second))
    a, b = run_single(first, namespace), run_single(second, namespace)
    assert np.max(np.abs(a - b)) < 0.5e-3


def test_spatial_neuron():
    # v is defined by SpatialNeuron itself; the currents are per unit area
    rates = [line for line in models.hh1952()[0].splitlines() if line.strip().startswith(("alpha", "beta"))]
    membrane = """
    Im = gNa*m**3*h*(ENa-v) + gK*n**4*(EK-v) + gL*(EL-v) : amp/meter**2
    dm/dt = alpha_m*(1-m) - beta_m*m : 1
    dh/dt = alpha_h*(1-h) - beta_h*h : 1
    dn/dt = alpha_n*(1-n) - beta_n*n : 1
    """ + "\n".join(rates)
    namespace = dict(models.hh1952()[1], gNa=120 * msiemens / cm**2, gK=36 * msiemens / cm**2,
                     gL=0.3 * msiemens / cm**2)
    traces = []
    for eqs in (membrane, tabulate(membrane, v=GRID, namespace=namespace)):
        neuron = SpatialNeuron(Cylinder(diameter=1 * um, length=100 * um, n=5), eqs, Cm=1 * uF / cm**2,
                               Ri=100 * ohm * cm, method="exponential_euler", namespace=namespace)
        neuron.v = -65 * mV
        neuron.v[0] = 0 * mV
        neuron.m, neuron.h, neuron.n = 0.05, 0.6, 0.32
        monitor = StateMonitor(neuron, "v", record=True)
        Network(neuron, monitor).run(5 * ms)
        traces.append(np.asarray(monitor.v))
    assert np.ptp(traces[0]) > 0.05  # the depolarisation spreads and fires
    assert np.max(np.abs(traces[0] - traces[1])) < 0.05e-3


@pytest.mark.parametrize(
    "grid, error, match",
    [
        ((0 * mV, -10 * mV, 1 * mV), ValueError, "empty or inverted"),
        ((0 * mV, 0 * mV, 1 * mV), ValueError, "empty or inverted"),
        ((-10 * mV, 10 * mV, 0 * mV), ValueError, "must be positive"),
        ((-10 * mV, 10 * mV, -1 * mV), ValueError, "must be positive"),
        ((-10 * mV, 10 * mV, 30 * mV), ValueError, "larger than its range"),
        ((-100, 50, 0.1), DimensionMismatchError, "units of V"),
        ((-100 * mV, 50 * mV, 0.1 * ms), DimensionMismatchError, "grid step"),
        ((-1 * volt, 1 * volt, 1e-7 * volt), ValueError, "more than 10000000"),
        ((-1 * volt, 1 * volt), TypeError, r"v=\(low, high, step\)"),
    ],
)
def test_bad_grids(grid, error, match):
    equations, namespace = models.cobahh()
    before = set(DEFAULT_FUNCTIONS)
    with pytest.raises(error, match=match):
        tabulate(equations, v=grid, namespace=namespace)
    assert set(DEFAULT_FUNCTIONS) == before  # nothing half-built


def test_bad_variables_and_expressions():
    equations, namespace = models.cobahh()
    with pytest.raises(ValueError, match="no variable 'V' to tabulate over"):
        tabulate(equations, V=GRID, namespace=namespace)
    with pytest.raises(TypeError, match="Name the table variable with its grid"):
        tabulate(equations, namespace=namespace)
    with pytest.raises(ValueError, match="no variable 'w' to tabulate over"):
        tabulate(equations, v=GRID, w=GRID, namespace=namespace)
    before = set(DEFAULT_FUNCTIONS)
    with pytest.raises(ValueError, match=r"'.*log.*' is not finite"):
        # log of a negative number: no limit exists
        tabulate("dx/dt = log(v/mV)/ms : 1\nv : volt", v=(-10 * mV, 10 * mV, 1 * mV))
    assert set(DEFAULT_FUNCTIONS) == before


def test_nothing_worth_tabulating_comes_back_unchanged():
    equations = Equations("dv/dt = (-70*mV - v)/(10*ms) : volt")
    with catch_logs(only_from=("lut4brian",)) as logs:
        assert tabulate(equations, v=GRID) is equations
    assert len(logs) == 1 and "Nothing in these equations is worth tabulating" in logs[0][2]


def test_no_files_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    equations, namespace = models.hh1952()
    run_single(tabulate(equations, v=GRID, namespace=namespace), namespace, duration=1 * ms, current=0 * nA)
    assert os.listdir(tmp_path) == []
