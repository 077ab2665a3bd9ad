"""
Models from Brian2's own examples, with each example's equations and
parameters, exact against tabulated (more cases: tests/test_membrane_and_jumps.py
for Morris & Lecar 1981 and Destexhe et al. 1998, tests/test_accuracy.py for
COBAHH, Hodgkin & Huxley 1952 and Wang & Buzsaki 1996).
"""

import numpy as np
from brian2 import (
    Network, NeuronGroup, SpikeMonitor, cm, defaultclock, device, mV, ms, msiemens, prefs, set_device, siemens,
    uF, ufarad, umetre,
)

from lut4brian import tabulate

GRID = (-100 * mV, 150 * mV, 0.05 * mV)

# Brian2's examples/IF_curve_Hodgkin_Huxley.py (Traub-Miles neuron, rates written with exp).
IF_CURVE = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*(13.*mV-v+VT)/
    (exp((13.*mV-v+VT)/(4.*mV))-1.)/ms*(1-m)-0.28*(mV**-1)*(v-VT-40.*mV)/
    (exp((v-VT-40.*mV)/(5.*mV))-1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV-v+VT)/
    (exp((15.*mV-v+VT)/(5.*mV))-1.)/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
I : amp
"""
_AREA = 20000 * umetre**2
IF_CURVE_CONSTANTS = dict(
    Cm=1 * ufarad * cm**-2 * _AREA, gl=5e-5 * siemens * cm**-2 * _AREA, El=-65 * mV, EK=-90 * mV,
    ENa=50 * mV, g_na=100 * msiemens * cm**-2 * _AREA, g_kd=30 * msiemens * cm**-2 * _AREA, VT=-63 * mV,
)


def if_curve_group(equations, method, neurons=20, name="neurongroup*"):
    """Unconnected neurons driven by 0 to 0.7 nA, as in the example."""
    group = NeuronGroup(neurons, equations, threshold="v > -40*mV", refractory="v > -40*mV", method=method,
                        namespace=IF_CURVE_CONSTANTS, name=name)
    group.v = IF_CURVE_CONSTANTS["El"]
    group.I = "0.7*nA * i / N"
    return group


def if_curve_spikes(equations, method, neurons=20):
    group = if_curve_group(equations, method, neurons)
    spikes = SpikeMonitor(group)
    Network(group, spikes).run(300 * ms)
    return spikes.spike_trains()


def test_if_curve_hodgkin_huxley_on_cython():
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.01 * ms
    lut = tabulate(IF_CURVE, v=GRID, namespace=IF_CURVE_CONSTANTS)
    exact = if_curve_spikes(IF_CURVE, "exponential_euler")
    assert sum(len(t) for t in exact.values()) >= 50
    for method in ("exponential_euler", "lut_exponential_euler"):
        tabulated = if_curve_spikes(lut, method)
        for i, times in exact.items():
            assert len(tabulated[i]) == len(times)
            if len(times):
                assert np.max(np.abs(tabulated[i] - times)) <= 2 * defaultclock.dt


# Brian2's examples/frompapers/Stimberg_et_al_2019/example_3_bisection.py (Stimberg, Brette & Goodman
# 2019, Fig. 4B): HH 1952 with rk4, the threshold of each neuron found by bisection over store/restore.
BISECTION = """
dv/dt = (gl * (El-v) + gNa * m**3 * h * (ENa-v) + gK * n**4 * (EK-v)) / C : volt
gNa : siemens/meter**2 (constant)
dm/dt = alpham * (1-m) - betam * m : 1
dn/dt = alphan * (1-n) - betan * n : 1
dh/dt = alphah * (1-h) - betah * h : 1
alpham = (0.1/mV) * 10*mV / exprel((-v+25*mV) / (10*mV))/ms : Hz
betam = 4 * exp(-v/(18*mV))/ms : Hz
alphah = 0.07 * exp(-v/(20*mV))/ms : Hz
betah = 1/(exp((-v+30*mV) / (10*mV)) + 1)/ms : Hz
alphan = (0.01/mV) * 10*mV / exprel((-v+10*mV) / (10*mV))/ms : Hz
betan = 0.125*exp(-v/(80*mV))/ms : Hz
"""
BISECTION_CONSTANTS = dict(
    El=10.613 * mV, ENa=115 * mV, EK=-12 * mV, gl=0.3 * msiemens / cm**2, gK=36 * msiemens / cm**2,
    gNa_max=100 * msiemens / cm**2, gNa_min=15 * msiemens / cm**2, C=1 * uF / cm**2,
)


def bisection_thresholds(equations, iterations=6, size=20):
    neurons = NeuronGroup(size, equations, method="rk4", threshold="v>50*mV", reset="",
                          namespace=BISECTION_CONSTANTS)
    neurons.gNa = "gNa_min + (gNa_max - gNa_min)*1.0*i/N"
    neurons.v = 0 * mV
    neurons.m = "1/(1 + betam/alpham)"
    neurons.n = "1/(1 + betan/alphan)"
    neurons.h = "1/(1 + betah/alphah)"
    spikes = SpikeMonitor(neurons)
    net = Network(neurons, spikes)
    net.store()
    v0, step = 25 * mV * np.ones(size), 25 * mV
    for _ in range(iterations):
        net.restore()
        neurons.v = v0
        net.run(20 * ms)
        v0[spikes.count > 0] -= step
        v0[spikes.count == 0] += step
        step /= 2.0
    return np.asarray(v0)


def test_stimberg_2019_bisection_with_store_restore():
    defaultclock.dt = 0.01 * ms
    lut = tabulate(BISECTION, v=GRID, namespace=BISECTION_CONSTANTS)
    assert "exprel" not in lut["m"].expr.code
    exact, tabulated = bisection_thresholds(BISECTION), bisection_thresholds(lut)
    assert np.ptp(exact) > 5e-3  # volt: thresholds differ with gNa
    np.testing.assert_array_equal(tabulated, exact)  # every bisection decision the same


def test_if_curve_and_morris_lecar_on_cpp_standalone(tmp_path):
    """Exact and tabulated groups side by side in one standalone project (Morris_Lecar_1981.py runs there)."""
    from test_membrane_and_jumps import MORRIS_LECAR, MORRIS_LECAR_CONSTANTS, morris_lecar_group

    set_device("cpp_standalone", directory=str(tmp_path / "standalone"), build_on_run=False)
    defaultclock.dt = 0.01 * ms
    lut_if = tabulate(IF_CURVE, v=GRID, namespace=IF_CURVE_CONSTANTS)
    lut_ml = tabulate(MORRIS_LECAR, V=GRID, namespace=MORRIS_LECAR_CONSTANTS)
    groups = [if_curve_group(IF_CURVE, "exponential_euler", name="if_exact"),
              if_curve_group(lut_if, "exponential_euler", name="if_lut"),
              morris_lecar_group(MORRIS_LECAR, name="ml_exact"), morris_lecar_group(lut_ml, name="ml_lut")]
    monitors = {group.name: SpikeMonitor(group) for group in groups}
    Network(*groups, *monitors.values()).run(220 * ms)
    device.build(directory=str(tmp_path / "standalone"))
    for model in ("if", "ml"):
        exact, tabulated = (monitors[f"{model}_{v}"].spike_trains() for v in ("exact", "lut"))
        assert sum(len(t) for t in exact.values()) >= 30
        for i, times in exact.items():
            assert len(tabulated[i]) == len(times)
            if len(times):
                assert np.max(np.abs(tabulated[i] - times)) <= 2 * defaultclock.dt
