"""
prefs.lut4brian.range_check = False on cpp_standalone: branch-free tables with
their samples compiled into the code give the same numbers as the checked ones.
"""

import os

import numpy as np
from brian2 import Network, defaultclock, NeuronGroup, StateMonitor, mV, ms, nA, prefs
from brian2.utils.logger import catch_logs
from conftest import build, use_target

from lut4brian import Table, models, tabulate


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


def test_unchecked_tables_clamp_silently_and_keep_nan(tmp_path):
    use_target("cpp_standalone", tmp_path, build_on_run=False)
    prefs.lut4brian.range_check = False
    table = Table([1.0, 2.0, 4.0], low=0 * mV, step=1 * mV)
    group = NeuronGroup(4, "x : volt\ny = table(x) : 1", namespace={"table": table})
    group.x = [0.5, 1.5, 10, np.nan] * mV
    monitor = StateMonitor(group, "y", record=True)
    Network(group, monitor).run(0.1 * ms)
    with catch_logs() as logs:
        build("cpp_standalone", tmp_path)
    y = np.asarray(monitor.y)[:, 0]
    assert np.allclose(y[:3], [1.5, 3.0, 4.0]) and np.isnan(y[3])
    assert not [log for log in logs if "outside" in log[2]]  # no range record, no warning
