"""Tables take their constants from the group that runs them: its namespace, every run, every target, any sweep."""

import gc
import os
import tracemalloc

import numpy as np
import pytest
from brian2 import (
    Network, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, device, mV, ms, nA, prefs, set_device,
)
from brian2.core.functions import DEFAULT_FUNCTIONS

from lut4brian import models, tabulate

GRID = (-100 * mV, 100 * mV, 0.1 * mV)


def cobahh_neuron(equations, namespace, method, name="neurongroup*"):
    group = NeuronGroup(2, equations, method=method, namespace=namespace, name=name,
                        threshold="v > -20*mV", refractory="v > -20*mV")
    group.v, group.m, group.h, group.n = -65 * mV, 0.05, 0.6, 0.32
    group.I = [0.5, 0.8] * nA
    return group


def simulate(equations, namespaces, method, run_namespace=None, duration=40 * ms):
    """One group per namespace, run in one network; spike counts and v traces per group."""
    groups = [cobahh_neuron(equations, ns, method, name=f"g{k}") for k, ns in enumerate(namespaces)]
    spikes = [SpikeMonitor(g) for g in groups]
    traces = [StateMonitor(g, "v", record=True) for g in groups]
    Network(*groups, *spikes, *traces).run(duration, namespace=run_namespace)
    return [np.asarray(s.count) for s in spikes], [np.asarray(t.v) for t in traces]


def assert_same_model(reference, result, tolerance_v):
    counts, traces = reference
    assert all(c.min() >= 2 for c in counts)
    for c_ref, c, v_ref, v in zip(counts, result[0], traces, result[1]):
        np.testing.assert_array_equal(c, c_ref)
        assert np.max(np.abs(v - v_ref)) < tolerance_v


@pytest.mark.parametrize("target", ["numpy", "cython"])
@pytest.mark.parametrize("method", ["exponential_euler", "lut_exponential_euler"])
def test_each_group_uses_its_own_namespace(target, method):
    prefs.codegen.target = target
    defaultclock.dt = 0.01 * ms
    equations, tabulated_with = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=tabulated_with)
    namespaces = [tabulated_with, dict(tabulated_with, VT=-55 * mV)]
    exact = simulate(equations, namespaces, "exponential_euler")
    assert exact[0][0].sum() != exact[0][1].sum()  # VT matters here
    # lut_exponential_euler integrates the gates exactly over dt: its own error, not the tables'
    tolerance = 0.5e-3 if method == "exponential_euler" else 2e-3  # volt; a wrong VT gives tens of mV
    assert_same_model(exact, simulate(lut, namespaces, method), tolerance)


def test_constants_from_the_run_namespace():
    equations, tabulated_with = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=tabulated_with)
    run_namespace = dict(tabulated_with, VT=-55 * mV)
    exact = simulate(equations, [None], "exponential_euler", run_namespace=run_namespace)
    assert_same_model(exact, simulate(lut, [None], "exponential_euler", run_namespace=run_namespace), 0.5e-3)


GATE = """dn/dt = (1/(1 + exp(-(v - VT)/(5*mV))) - n)/(2*ms) : 1
          v : volt"""


def relaxed_gate(equations, namespace=None, run_namespace=None):
    group = NeuronGroup(1, equations, method="exponential_euler", namespace=namespace)
    group.v = -35 * mV
    Network(group).run(20 * ms, namespace=run_namespace)
    return float(group.n[0])


def test_constants_only_in_tables_keep_the_tabulated_values_where_the_group_has_none():
    # Exact Brian2 would need VT here; the tables remember the value they were made with.
    lut = tabulate(GATE, v=GRID, namespace={"VT": -40 * mV})
    assert abs(relaxed_gate(lut, run_namespace={}) - 1 / (1 + np.exp(-1))) < 1e-4
    assert abs(relaxed_gate(lut, namespace={"VT": -30 * mV}) - 1 / (1 + np.exp(1))) < 1e-4


def test_standalone_runs_and_groups_each_get_their_values(tmp_path):
    """Two groups with other VTs, a constant changed between two runs, built once, with OpenMP."""
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)

    def two_runs(eqs):
        first, second = dict(namespace), dict(namespace, VT=-55 * mV)
        groups = [cobahh_neuron(eqs, ns, "exponential_euler", name=f"g{k}") for k, ns in enumerate((first, second))]
        spikes = [SpikeMonitor(g) for g in groups]
        net = Network(*groups, *spikes)
        net.run(20 * ms)
        first["VT"], second["VT"] = -58 * mV, -63 * mV
        net.run(20 * ms)
        return spikes

    exact = [np.asarray(s.t) for s in two_runs(equations)]
    set_device("cpp_standalone", directory=str(tmp_path / "standalone"), build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = 2
    spikes = two_runs(lut)
    device.build(directory=str(tmp_path / "standalone"))
    assert all(len(t) >= 4 for t in exact)
    for t_exact, monitor in zip(exact, spikes):
        t = np.asarray(monitor.t)
        assert len(t) == len(t_exact)
        assert np.max(np.abs(t - t_exact)) <= 0.02e-3


def test_a_sweep_of_tabulate_calls_leaves_nothing_behind():
    equations, namespace = models.cobahh()
    tabulate(equations, v=GRID, namespace=namespace)
    functions = len(DEFAULT_FUNCTIONS)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for k in range(100):
        lut = tabulate(equations, v=GRID, namespace=dict(namespace, VT=(-63 + 0.01 * k) * mV))
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(DEFAULT_FUNCTIONS) == functions
    assert grown < 2e6  # bytes; each new table set would take about 0.3 MB
    assert str(lut) == str(tabulate(equations, v=GRID, namespace=namespace))  # the same names


def test_a_sweep_reuses_compiled_code(tmp_path):
    prefs.codegen.target = "cython"
    prefs.codegen.runtime.cython.cache_dir = str(tmp_path / "cython")
    compiled, results = [], []
    for VT in (-40 * mV, -30 * mV):
        results.append(relaxed_gate(tabulate(GATE, v=GRID)))
        compiled.append(sorted(os.listdir(tmp_path / "cython")))
    assert compiled[0] == compiled[1]  # no new module for the second value
    # n relaxes to n_inf(-35 mV) with each run's own VT
    np.testing.assert_allclose(results, [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-4)


def test_openmp_threads_give_bit_identical_results(tmp_path):
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    traces = []
    for threads in (1, 8):
        set_device("cpp_standalone", directory=str(tmp_path / f"threads{threads}"), build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = threads
        group = NeuronGroup(40, lut, method="lut_exponential_euler", namespace=namespace,
                            threshold="v > -20*mV", refractory="v > -20*mV")
        group.v, group.m, group.h, group.n = -65 * mV, 0.05, 0.6, 0.32
        group.I = "0.2*nA + 1.3*nA*i/(N - 1)"
        monitor = StateMonitor(group, "v", record=True)
        Network(group, monitor).run(10 * ms)
        device.build(directory=str(tmp_path / f"threads{threads}"))
        traces.append(np.asarray(monitor.v))
        device.reinit()
        device.activate()
    assert np.ptp(traces[0]) > 0.08  # volt: neurons spike
    np.testing.assert_array_equal(traces[0], traces[1])
