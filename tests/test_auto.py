"""prefs.lut4brian.auto and ``python -m lut4brian``: unchanged scripts with tables."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, cm, defaultclock, device, mV, ms, nA, prefs, set_device

from lut4brian import AutoTablesError, models, tabulate
from lut4brian.auto import auto_error, tabulated_groups
from lut4brian.cli import compare, format_report

from conftest import ROOT
from test_brian2_compartmental import HH_WITH_SPIKES, axon_spikes

GRID = (-100 * mV, 100 * mV, 0.1 * mV)
EXACT_V = 2e-3  # volt: lut_exponential_euler's own error over 30 ms (a wrong constant gives tens of mV)


def cobahh_group(equations, namespace, method="exponential_euler", name="hh*", n=3):
    group = NeuronGroup(n, equations, method=method, namespace=namespace, name=name,
                        threshold="v > -20*mV", refractory=3 * ms)
    group.v, group.m, group.h, group.n = -65 * mV, 0.05, 0.6, 0.32
    group.I = np.linspace(0.5, 1.0, n) * nA
    return group


def simulate(groups, duration=30 * ms, run_namespace=None, between=None):
    """Spike counts and v traces of each group; ``between()`` runs between two halves of the run."""
    spikes = [SpikeMonitor(g) for g in groups]
    traces = [StateMonitor(g, "v", record=True) for g in groups]
    net = Network(*groups, *spikes, *traces)
    net.run(duration / 2, namespace=run_namespace)
    if between is not None:
        between()
    net.run(duration / 2, namespace=run_namespace)
    return [np.asarray(s.count) for s in spikes], [np.asarray(t.v) for t in traces]


@pytest.fixture(autouse=True)
def auto_off_afterwards():
    yield
    prefs.lut4brian.auto = None
    prefs.lut4brian.exclude = []


def assert_close(reference, result, tolerance_v):
    for c_ref, c, v_ref, v in zip(reference[0], result[0], reference[1], result[1]):
        assert c_ref.sum() >= 2
        np.testing.assert_array_equal(c, c_ref)
        assert np.max(np.abs(v - v_ref)) < tolerance_v


@pytest.mark.parametrize("target", ["numpy", "cython"])
def test_auto_matches_exact_and_the_explicit_tabulate(target):
    prefs.codegen.target = target
    prefs.codegen.runtime.numpy.discard_units = True
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.cobahh()
    exact = simulate([cobahh_group(equations, namespace)])
    explicit = simulate([cobahh_group(tabulate(equations, v=GRID, namespace=namespace), namespace,
                                      method="lut_exponential_euler")])
    prefs.lut4brian.auto = dict(v=GRID)
    group = cobahh_group(equations, namespace, name="auto_hh")
    automatic = simulate([group])
    assert_close(exact, automatic, EXACT_V)
    # the same tables and integrator as the explicit call: the same numbers
    np.testing.assert_array_equal(automatic[0][0], explicit[0][0])
    assert np.max(np.abs(automatic[1][0] - explicit[1][0])) < 1e-9
    assert "lut_m_rate" in group.state_updater.abstract_code.replace("_1", "")  # the code has tables...
    assert "exprel" not in group.state_updater.abstract_code  # ... and no rate left exact
    assert "VT" not in group.state_updater.abstract_code
    assert group.equations["m"].expr.code == equations.split("dm/dt = ")[1].split(":")[0].strip()  # kept exact
    record = tabulated_groups["auto_hh"]
    assert record["method"] == "lut_exponential_euler"
    assert {t["name"].rstrip("_0123456789") for t in record["tables"]} == {
        f"lut_{x}_{kind}" for x in "mnh" for kind in ("rate", "inf")}


def test_constants_from_the_group_and_the_run_namespace_in_every_run():
    """One group with its own VT, one reading VT from the run namespace, which changes between two runs."""
    prefs.codegen.runtime.numpy.discard_units = True
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.cobahh()
    own = dict(namespace, VT=-55 * mV)
    shared = dict(namespace)

    def both(eqs_method):
        groups = [cobahh_group(equations, own, name="own*", method=eqs_method),
                  cobahh_group(equations, None, name="shared*", method=eqs_method)]

        def change():
            shared["VT"] = -58 * mV

        return simulate(groups, run_namespace=shared, between=change)

    exact = both("exponential_euler")
    shared["VT"] = namespace["VT"]
    prefs.lut4brian.auto = dict(v=GRID)
    automatic = both("exponential_euler")
    assert exact[0][0].sum() != exact[0][1].sum()  # VT matters
    assert_close(exact, automatic, EXACT_V)


def test_other_integrators_keep_theirs_with_tables_and_a_tolerance():
    prefs.codegen.runtime.numpy.discard_units = True
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.cobahh()
    exact = simulate([cobahh_group(equations, namespace, method="rk4")])
    prefs.lut4brian.auto = dict(v=(-100 * mV, 100 * mV), tolerance=1e-4)
    group = cobahh_group(equations, namespace, method="rk4", name="rk4_hh")
    assert_close(exact, simulate([group]), 1e-3)
    assert tabulated_groups["rk4_hh"]["method"] == "rk4"
    assert all(t["points"] < 2001 for t in tabulated_groups["rk4_hh"]["tables"])  # steps chosen for 1e-4


def test_a_group_with_nothing_to_tabulate_runs_unchanged_and_is_listed():
    prefs.lut4brian.auto = dict(v=GRID)
    group = NeuronGroup(2, "dv/dt = (1*mV - v)/(10*ms) : volt", method="exact", name="leaky_lif")
    Network(group).run(5 * ms)
    assert tabulated_groups["leaky_lif"]["tables"] == []
    np.testing.assert_allclose(group.v[:] / mV, 1 - np.exp(-0.5), rtol=1e-9)


def test_exclude_keeps_a_group_exact():
    equations, namespace = models.cobahh()
    prefs.lut4brian.auto = dict(v=GRID)
    prefs.lut4brian.exclude = ["kept_*"]
    kept, tabulated = cobahh_group(equations, namespace, name="kept_hh"), cobahh_group(equations, namespace)
    Network(kept, tabulated).run(0.2 * ms)
    assert "lut_" not in kept.state_updater.abstract_code
    assert "lut_" in tabulated.state_updater.abstract_code
    assert "kept_hh" not in tabulated_groups


def test_auto_on_a_spatial_neuron():
    # Brian2's examples/compartmental/hh_with_spikes.py, 1 cm and 100 compartments
    prefs.codegen.runtime.numpy.discard_units = True
    defaultclock.dt = 0.01 * ms
    exact, _ = axon_spikes(HH_WITH_SPIKES, length=1 * cm, compartments=100)
    prefs.lut4brian.auto = dict(v=(-100 * mV, 150 * mV, 0.05 * mV))
    tabulated, _ = axon_spikes(HH_WITH_SPIKES, length=1 * cm, compartments=100, name="axon_auto")
    assert tabulated_groups["axon_auto"]["method"] == "lut_exponential_euler"
    assert len(exact[99]) == 1  # the spike reached the end of the axon
    for k in exact:
        assert len(tabulated[k]) == len(exact[k])
        assert np.all(np.abs(tabulated[k] - exact[k]) <= 0.02 * ms)


def test_a_group_that_cannot_be_tabulated_is_named_with_the_way_out():
    # sqrt(-v/mV) is NaN for v > 0 on the grid, though the neuron never gets there
    equations = """dv/dt = (-70*mV - v)/(10*ms) : volt
                   dn/dt = (sqrt(-v/mV)/10 - n)/(5*ms) : 1"""
    prefs.lut4brian.auto = dict(v=GRID)
    group = NeuronGroup(1, equations, method="exponential_euler", name="root_gate")
    group.v = -70 * mV
    with pytest.raises(Exception) as raised:  # Brian2 wraps it, naming the group's state updater
        Network(group).run(1 * ms)
    error = auto_error(raised.value)
    assert isinstance(error, AutoTablesError)
    assert (error.group, error.expression) == ("root_gate", "sqrt(-v/mV)/10")
    assert "'root_gate'" in str(error) and "not finite at v = " in str(error)
    assert "prefs.lut4brian.exclude = ['root_gate']" in str(error)
    prefs.lut4brian.exclude = ["root_gate"]
    Network(group).run(1 * ms)
    assert abs(group.n[0] - np.sqrt(70) / 10 * (1 - np.exp(-0.2))) < 1e-3


def test_auto_on_cpp_standalone(tmp_path):
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.cobahh()
    prefs.codegen.runtime.numpy.discard_units = True
    exact = simulate([cobahh_group(equations, namespace), cobahh_group(equations, dict(namespace, VT=-55 * mV))])
    set_device("cpp_standalone", directory=str(tmp_path / "standalone"), build_on_run=False)
    prefs.lut4brian.auto = dict(v=GRID)
    groups = [cobahh_group(equations, namespace), cobahh_group(equations, dict(namespace, VT=-55 * mV))]
    spikes = [SpikeMonitor(g) for g in groups]
    traces = [StateMonitor(g, "v", record=True) for g in groups]
    net = Network(*groups, *spikes, *traces)
    net.run(15 * ms)
    net.run(15 * ms)
    device.build(directory=str(tmp_path / "standalone"))
    result = [np.asarray(s.count) for s in spikes], [np.asarray(t.v) for t in traces]
    assert_close(exact, result, EXACT_V)


def _script_output(code, directory):
    """Spike times and state-update code of ``code`` in a fresh Python (to see what an import changes)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=directory,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    return done.stdout


NO_AUTO = """
{imports}
from brian2 import *
from lut4brian import models
prefs.codegen.runtime.numpy.discard_units = True
defaultclock.dt = 0.01*ms
equations, namespace = models.cobahh()
seed(1)
G = NeuronGroup(3, equations, method='exponential_euler', namespace=namespace, threshold='v > -20*mV',
                refractory=3*ms)
G.v = 'El + randn()*5*mV'
G.I = '(0.5 + 0.25*i)*nA'
s = SpikeMonitor(G)
run(20*ms)
print(G.state_updater.abstract_code)
print(list(s.t_[:]))
"""


def test_importing_lut4brian_with_auto_off_changes_nothing(tmp_path):
    without = _script_output(NO_AUTO.format(imports="import lut4brian.models"), tmp_path)
    with_it = _script_output(NO_AUTO.format(imports="import lut4brian"), tmp_path)
    assert "lut_" not in without and without.count(",") >= 3
    assert with_it == without


SCRIPT = """
import sys
from brian2 import *
from lut4brian import models
prefs.codegen.runtime.numpy.discard_units = True
defaultclock.dt = 0.01*ms
equations, namespace = models.cobahh()
globals().update(namespace)  # constants from the run namespace, as in Brian2's examples
G = NeuronGroup(4, equations, method='exponential_euler', threshold='v > -20*mV', refractory=3*ms, name='cells')
G.v = 'El + randn()*5*mV'
G.I = '(0.6 + 0.2*i)*nA'
spikes = SpikeMonitor(G)
trace = StateMonitor(G, 'v', record=[0, 3])
run(10*ms)
run(float(sys.argv[1])*ms)
"""


def test_compare_reports_the_same_spikes(tmp_path, capsys):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    report = compare(str(script), ["5"])
    assert report["errors"] == dict(exact=None, tables=None)
    assert report["run_time"]["exact"] > 0 and report["run_time"]["tables"] > 0
    assert [t["name"].rstrip("_0123456789") for t in report["groups"]["cells"]["tables"]] == [
        f"lut_{x}_{kind}" for x in "hmn" for kind in ("inf", "rate")]
    spikes, trace = report["monitors"]["spikemonitor"], report["monitors"]["statemonitor"]
    assert spikes["spikes_exact"] >= 4 and spikes["spikes_tables"] == spikes["spikes_exact"]
    assert spikes["neurons_with_other_counts"] == 0 and spikes["max_spike_shift"] <= 0.03e-3
    assert 0 < trace["variables"]["v"]["max_difference"] < EXACT_V or spikes["max_spike_shift"] > 0
    text = format_report(report)
    assert f"{spikes['spikes_exact']} spikes exact, {spikes['spikes_exact']} with tables" in text
    assert "group 'cells': 6 tables, integrated with lut_exponential_euler" in text


def test_command_line_runs_and_reports_a_failure(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.replace("run(10*ms)", textwrap.dedent("""
        R = NeuronGroup(1, '''dv/dt = (-70*mV - v)/(10*ms) : volt
                            dn/dt = (sqrt(-v/mV)/10 - n)/(5*ms) : 1''', method='exponential_euler',
                        name='root_gate')
        R.v = -70*mV
        run(10*ms)""")))
    command = [sys.executable, "-m", "lut4brian", "--compare", str(script), "5"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 1
    assert "fails with prefs.lut4brian.auto" in done.stdout
    assert "Group: 'root_gate'" in done.stdout and "prefs.lut4brian.exclude = ['root_gate']" in done.stdout
    script.write_text("from brian2 import prefs\nprefs.lut4brian.exclude = ['root_gate']\n" + script.read_text())
    done = subprocess.run([sys.executable, "-m", "lut4brian", "--grid", "-100:100:0.2", str(script), "5"],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr


def test_command_line_variable_names_the_voltage(tmp_path):
    # a model of ours whose voltage is called V: the default (v) finds nothing, --variable V tabulates it
    script = tmp_path / "capital_v.py"
    script.write_text(textwrap.dedent("""
        from brian2 import *
        prefs.codegen.target = 'numpy'
        eqs = '''dV/dt = (-65*mV - V + 30*mV*w)/(10*ms) : volt
                 dw/dt = (1/(1 + exp(-(V + 40*mV)/(5*mV))) - w)/(2*ms*cosh((V + 40*mV)/(20*mV))) : 1'''
        cells = NeuronGroup(2, eqs, method='exponential_euler', name='capital')
        cells.V = [-70, -30]*mV
        run(2*ms)
        """))
    groups = {}
    for variable in ("v", "V"):
        out = tmp_path / f"{variable}.pickle"
        command = [sys.executable, "-m", "lut4brian", "--variable", variable, "--_run-variant", "tables",
                   "--_out", str(out), str(script)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                              env=dict(os.environ, PYTHONPATH=ROOT))
        assert done.returncode == 0, done.stderr
        with open(out, "rb") as file:
            groups[variable] = pickle.load(file)["groups"]["capital"]
    assert groups["v"]["tables"] == [] and groups["v"]["method"] == "exponential_euler"
    assert len(groups["V"]["tables"]) == 2 and groups["V"]["method"] == "lut_exponential_euler"
