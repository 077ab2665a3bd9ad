"""
prefs.lut4brian.range_check = False on cpp_standalone: branch-free tables with
their samples compiled into the code give the same numbers as the checked ones.
"""

import os

import numpy as np
from brian2 import Network, defaultclock, NeuronGroup, StateMonitor, mV, ms, nA, prefs
from conftest import build, use_target

from lut4brian import Table, Table2D, models, tabulate


def cobahh_network(name, method):
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace)
    group = NeuronGroup(3, lut, method=method, namespace=namespace, name=name)
    group.v, group.I = -65 * mV, [0.3, 0.7, 1.2] * nA
    monitor = StateMonitor(group, ["v", "m"], record=True)
    return Network(group, monitor), monitor


def test_unchecked_tables_give_the_same_numbers_and_compile_their_samples(tmp_path):
    use_target("cpp_standalone", tmp_path, build_on_run=False)
    defaultclock.dt = 0.02 * ms  # rk4 on COBAHH needs dt below 0.065 ms
    monitors = {}
    for method in ("rk4", "lut_exponential_euler"):
        for checked in (True, False):
            prefs.lut4brian.range_check = checked  # read when the code is generated, at run()
            name = f"{method}_{'checked' if checked else 'unchecked'}"
            net, monitors[name] = cobahh_network(name, method)
            net.run(20 * ms)
    build("cpp_standalone", tmp_path)
    for method in ("rk4", "lut_exponential_euler"):
        checked, unchecked = monitors[f"{method}_checked"], monitors[f"{method}_unchecked"]
        assert np.max(np.asarray(checked.v)) > 0  # the neurons spike
        # the same arithmetic, but gcc vectorises the unchecked loop: it may round differently (fused multiply-adds)
        dv, dm = (np.max(np.abs(np.asarray(checked_) - np.asarray(unchecked_)))
                  for checked_, unchecked_ in ((checked.v, unchecked.v), (checked.m, unchecked.m)))
        assert dv < 1e-12 and dm < 1e-12, (method, dv, dm)
        code = open(os.path.join(tmp_path, "code_objects", f"{method}_unchecked_stateupdater_codeobject.cpp")).read()
        assert "static const double _namespacelut_" in code and "_range[" not in code.split("void _run")[0]


def bounded_group():
    table = Table([1.0, 2.0, 4.0], low=0 * mV, step=1 * mV)
    log_table = Table([1.0, 2.0, 4.0], low=1 * mV, step=10.0, log=True)
    surface = Table2D([[1.0, 2.0], [3.0, 5.0]], low=(0 * mV, 0 * mV), step=(1 * mV, 1 * mV))
    group = NeuronGroup(5, "x : volt\ny = table(x) : 1\nz = log_table(x) : 1\ns = surface(x, 0.5*mV) : 1",
                        namespace={"table": table, "log_table": log_table, "surface": surface})
    group.x = [0.5, 1.5, 10, np.nan, -1] * mV
    return group, StateMonitor(group, ["y", "z", "s"], record=True)


def test_unchecked_tables_clamp_and_keep_nan_as_checked_ones_do(tmp_path):
    """After a checked run of the same group in the same build, and on a logarithmic grid too."""
    use_target("cpp_standalone", tmp_path, build_on_run=False)
    group, monitor = bounded_group()
    net = Network(group, monitor)
    net.run(0.1 * ms)  # checked
    prefs.lut4brian.range_check = False
    net.run(0.1 * ms)
    build("cpp_standalone", tmp_path)
    y, z, s = np.asarray(monitor.y), np.asarray(monitor.z), np.asarray(monitor.s)
    for step in (0, 1):
        assert np.allclose(y[[0, 1, 2, 4], step], [1.5, 3.0, 4.0, 1.0]) and np.isnan(y[3, step])
        assert z[4, step] == 1.0 and np.isnan(z[3, step])  # log of a negative argument: the low end
        assert np.allclose(s[[0, 1, 2, 4], step], [2.75, 4.0, 4.0, 1.5]) and np.isnan(s[3, step])  # 2-D too


def test_unchecked_tables_report_nothing(tmp_path, capfd):
    use_target("cpp_standalone", tmp_path, build_on_run=False)
    prefs.lut4brian.range_check = False
    group, monitor = bounded_group()
    Network(group, monitor).run(0.1 * ms)
    build("cpp_standalone", tmp_path)
    assert np.asarray(monitor.y)[2, 0] == 4.0  # clamped
    assert "left its grid" not in capfd.readouterr().out
