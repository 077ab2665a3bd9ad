"""
Tabulated against exact equations on every target: COBAHH (Traub-Miles, with
exprel), Hodgkin-Huxley 1952 and Wang-Buzsaki, one neuron each driven above
threshold for 1 s at dt = 0.01 ms with a 0.1 mV grid, integrated with Brian2's
exponential_euler and with lut_exponential_euler: the same number of spikes,
and the last spike within 2 dt.
"""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeMonitor, defaultclock, ms, mV, prefs, second
from brian2.core.functions import DEFAULT_FUNCTIONS
from conftest import TARGETS, use_target

from lut4brian import models, tabulate

MODELS = ["cobahh", "hh1952", "wang_buzsaki"]
DT = 0.01 * ms
START = {"v": -65 * mV, "m": 0.05, "h": 0.6, "n": 0.32}


def single_neuron(equations, namespace, model, name, method="exponential_euler"):
    group = NeuronGroup(1, equations, threshold="v > -20*mV", refractory="v > -20*mV",
                        method=method, namespace=namespace, name=name)
    for var, value in START.items():
        if var in group.variables:
            setattr(group, var, value)
    group.I = models.DRIVE[model]
    return group, SpikeMonitor(group, name=f"{name}_spikes")


def discard_units():
    """
    numpy: exprel, expm1 and log1p without unit checks (far faster), for this
    module only. Brian2 gives these functions their numpy version when a numpy
    code object first uses them, with the ``discard_units`` preference of that
    moment, and keeps it for the process: an earlier test in this worker
    (conftest sets the preference to False) has fixed the unit-checking one, so
    setting the preference here would change nothing. The versions are
    replaced, and the earlier ones returned, to be put back.
    """
    prefs.codegen.runtime.numpy.discard_units = True
    saved = {}
    for name in ("exprel", "expm1", "log1p"):
        implementations = DEFAULT_FUNCTIONS[name].implementations
        saved[name] = implementations._implementations.get("numpy")
        implementations.add_numpy_implementation(DEFAULT_FUNCTIONS[name].pyfunc, discard_units=True)
    return saved


def restore(saved):
    for name, implementation in saved.items():
        implementations = DEFAULT_FUNCTIONS[name].implementations._implementations
        if implementation is None:
            implementations.pop("numpy", None)
        else:
            implementations["numpy"] = implementation


@pytest.fixture(scope="module", params=TARGETS)
def spike_times(request, tmp_path_factory):
    """All nine neurons (3 models: exact, tabulated, tabulated without exp) in one network: one build per target."""
    target = request.param
    use_target(target, tmp_path_factory.mktemp(target))
    saved = discard_units()
    request.addfinalizer(lambda: restore(saved))
    defaultclock.dt = DT
    objects, monitors = [], {}
    for model in MODELS:
        equations, namespace = getattr(models, model)()
        lut = tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace)
        variants = {"exact": (equations, "exponential_euler"), "lut": (lut, "exponential_euler"),
                    "lut_exp_free": (lut, "lut_exponential_euler")}
        for variant, (eqs, method) in variants.items():
            group, monitor = single_neuron(eqs, namespace, model, f"{model}_{variant}", method)
            objects += [group, monitor]
            monitors[model, variant] = monitor
    Network(objects).run(1 * second)
    return target, {key: np.asarray(mon.t) for key, mon in monitors.items()}


@pytest.mark.parametrize("variant", ["lut", "lut_exp_free"])
@pytest.mark.parametrize("model", MODELS)
def test_same_spikes(spike_times, model, variant):
    target, times = spike_times
    exact, lut = times[model, "exact"], times[model, variant]
    assert len(exact) >= 10, f"{model} on {target} should fire regularly"
    assert len(lut) == len(exact)
    assert abs(lut[-1] - exact[-1]) <= 2 * float(DT) + 1e-12
