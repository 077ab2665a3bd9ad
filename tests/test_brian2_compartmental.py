"""
Brian2's compartmental Hodgkin-Huxley-type examples, each written as a small
test case with the example's own equations and parameters (shorter cables
and runs), exact against tabulated on cython; spike_initiation also on
cpp_standalone.
"""

import numpy as np
from brian2 import (
    Cylinder, Network, Soma, SpatialNeuron, SpikeMonitor, StateMonitor, amp, cm, defaultclock, device, meter, mV,
    ms, msiemens, nA, ohm, prefs, set_device, siemens, uA, uF, um,
)

from lut4brian import tabulate

GRID = (-100 * mV, 150 * mV, 0.05 * mV)

# Brian2's examples/compartmental/hh_with_spikes.py (Hodgkin & Huxley 1952 on a 10 cm axon, 1000
# compartments): here 2 cm and 200 compartments, the same compartment length.
HH_WITH_SPIKES = """
Im = gl * (El-v) + gNa * m**3 * h * (ENa-v) + gK * n**4 * (EK-v) : amp/meter**2
I : amp (point current)
dm/dt = alpham * (1-m) - betam * m : 1
dn/dt = alphan * (1-n) - betan * n : 1
dh/dt = alphah * (1-h) - betah * h : 1
alpham = (0.1/mV) * (-v+25*mV) / (exp((-v+25*mV) / (10*mV)) - 1)/ms : Hz
betam = 4 * exp(-v/(18*mV))/ms : Hz
alphah = 0.07 * exp(-v/(20*mV))/ms : Hz
betah = 1/(exp((-v+30*mV) / (10*mV)) + 1)/ms : Hz
alphan = (0.01/mV) * (-v+10*mV) / (exp((-v+10*mV) / (10*mV)) - 1)/ms : Hz
betan = 0.125*exp(-v/(80*mV))/ms : Hz
gNa : siemens/meter**2
"""
HH_WITH_SPIKES_CONSTANTS = dict(El=10.613 * mV, ENa=115 * mV, EK=-12 * mV, gl=0.3 * msiemens / cm**2,
                                gK=36 * msiemens / cm**2)


def axon_spikes(equations, method="exponential_euler", length=2 * cm, compartments=200, name="spatialneuron*"):
    """Spike times (ms) of each compartment as the action potential travels, and the conduction velocity."""
    morpho = Cylinder(length=length, diameter=2 * 238 * um, n=compartments, type="axon")
    neuron = SpatialNeuron(morpho, equations, method=method, refractory="m > 0.4",
                           threshold="m > 0.5", Cm=1 * uF / cm**2, Ri=35.4 * ohm * cm,
                           namespace=HH_WITH_SPIKES_CONSTANTS, name=name)
    neuron.v, neuron.h, neuron.m, neuron.n = 0 * mV, 1, 0, 0.5
    neuron.gNa = 120 * msiemens / cm**2
    spikes = SpikeMonitor(neuron)
    net = Network(neuron, spikes)
    net.run(5 * ms)
    neuron.I[0] = 1 * uA
    net.run(3 * ms)
    neuron.I = 0 * amp
    net.run(5 * ms)
    velocity = np.polyfit(spikes.t / ms, neuron.distance[spikes.i] / meter, 1)[0]  # m/ms
    return spikes.spike_trains(), velocity


def test_hh_with_spikes_travels_at_the_same_velocity():
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.01 * ms
    lut = tabulate(HH_WITH_SPIKES, v=GRID, namespace=HH_WITH_SPIKES_CONSTANTS)
    assert "exp" not in lut["m"].expr.code
    (exact, v_exact), (tabulated, v_lut) = axon_spikes(HH_WITH_SPIKES), axon_spikes(lut, "lut_exponential_euler")
    assert 10 < v_exact * 1e3 < 15  # m/s: the example reports about 12.5
    assert abs(v_lut - v_exact) < 1e-3 * v_exact
    assert sum(len(t) for t in exact.values()) >= 190  # (nearly) every compartment fires once
    for i, times in exact.items():
        assert len(tabulated[i]) == len(times)
        if len(times):
            assert np.max(np.abs(tabulated[i] - times)) <= 2 * defaultclock.dt


# Brian2's examples/compartmental/spike_initiation.py (ball and stick, Na and K channels in the axon
# 30-60 um from the soma, gates with constant time constants).
SPIKE_INITIATION = """
Im = gL*(EL-v)+gNa*m*h*(ENa-v)+gK*n*(EK-v) : amp/meter**2
dm/dt = (minf-m)/(0.3*ms) : 1
dh/dt = (hinf-h)/(3*ms) : 1
dn/dt = (ninf-n)/(5*ms) : 1
minf = 1/(1+exp((va-v)/ka)) : 1
hinf = 1/(1+exp((v-vi)/ki)) : 1
ninf = 1/(1+exp((vk-v)/kk)) : 1
I : amp (point current)
gNa : siemens/meter**2
gK : siemens/meter**2
"""
SPIKE_INITIATION_CONSTANTS = dict(gL=1e-4 * siemens / cm**2, EL=-70 * mV, ENa=50 * mV, ka=6 * mV, ki=6 * mV,
                                  va=-30 * mV, vi=-50 * mV, EK=-90 * mV, vk=-20 * mV, kk=8 * mV)


def ball_and_stick(equations, method="exponential_euler", name="spatialneuron*"):
    morpho = Soma(30 * um)
    morpho.axon = Cylinder(diameter=1 * um, length=300 * um, n=100)
    neuron = SpatialNeuron(morpho, equations, Cm=1 * uF / cm**2, Ri=100 * ohm * cm, method=method,
                           namespace=SPIKE_INITIATION_CONSTANTS, name=name)
    neuron.v = -65 * mV
    neuron.axon[30 * um:60 * um].gNa = 700 * SPIKE_INITIATION_CONSTANTS["gL"]
    neuron.axon[30 * um:60 * um].gK = 700 * SPIKE_INITIATION_CONSTANTS["gL"]
    return neuron


def upward_crossings(trace, level=-40 * mV):
    """Indices of the time steps at which ``trace`` crosses ``level`` upwards."""
    level = float(level)
    return np.flatnonzero((trace[1:] > level) & (trace[:-1] <= level))


def test_spike_initiation_with_constant_time_constants():
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.025 * ms
    lut = tabulate(SPIKE_INITIATION, v=GRID, namespace=SPIKE_INITIATION_CONSTANTS)
    assert "exp" not in lut["m"].expr.code
    traces = []
    for equations, method in ((SPIKE_INITIATION, "exponential_euler"), (lut, "lut_exponential_euler")):
        neuron = ball_and_stick(equations, method)
        monitor = StateMonitor(neuron, "v", record=[0, 40, 80])
        net = Network(neuron, monitor)
        net.run(1 * ms)
        neuron.main.I = 0.15 * nA
        net.run(30 * ms)
        neuron.I = 0 * amp
        net.run(10 * ms)
        traces.append(np.asarray(monitor.v))
    exact, tabulated = traces
    for trace_exact, trace_lut in zip(exact, tabulated):
        spikes = [upward_crossings(trace) for trace in (trace_exact, trace_lut)]
        assert len(spikes[0]) >= 2 and len(spikes[0]) == len(spikes[1])
        assert np.max(np.abs(spikes[0] - spikes[1])) <= 2  # time steps


def test_spike_initiation_on_cpp_standalone(tmp_path):
    set_device("cpp_standalone", directory=str(tmp_path / "standalone"), build_on_run=False)
    defaultclock.dt = 0.025 * ms
    lut = tabulate(SPIKE_INITIATION, v=GRID, namespace=SPIKE_INITIATION_CONSTANTS)
    neurons = [ball_and_stick(SPIKE_INITIATION, name="exact"), ball_and_stick(lut, "lut_exponential_euler", name="lut")]
    monitors = [StateMonitor(neuron, "v", record=[0, 80]) for neuron in neurons]
    net = Network(*neurons, *monitors)
    net.run(1 * ms)
    for neuron in neurons:
        neuron.main.I = 0.15 * nA
    net.run(25 * ms)
    device.build(directory=str(tmp_path / "standalone"))
    for trace_exact, trace_lut in zip(np.asarray(monitors[0].v), np.asarray(monitors[1].v)):
        spikes = [upward_crossings(trace) for trace in (trace_exact, trace_lut)]
        assert len(spikes[0]) >= 2 and len(spikes[0]) == len(spikes[1])
        assert np.max(np.abs(spikes[0] - spikes[1])) <= 2


# Brian2's examples/frompapers/Brette_2012/Fig3AB.py with params.py (Brette 2013, PLoS Comp Biol,
# Fig. 3A-B: the kink at spike initiation with Nav1.6 channels at one axonal compartment).
BRETTE_2012 = """
Im=gL*(EL-v)+gNa*m*(ENa-v) : amp/meter**2
dm/dt=(minf-m)/taum : 1
minf=1/(1+exp((va-v)/ka)) : 1
gNa : siemens/meter**2
gL : siemens/meter**2
Iin : amp (point current)
"""
_S = 7.85e-9 * meter**2
BRETTE_2012_CONSTANTS = dict(EL=-75 * mV, ENa=60 * mV, ka=6 * mV, va=-40 * mV, taum=0.1 * ms)
_G_L = 1.0 / (30000 * ohm * cm**2)


def brette_2012_traces(equations, method="exponential_euler"):
    """Soma and the Na compartment's voltage (volt) through the current step."""
    morpho = Soma(50 * um)
    morpho.axon = Cylinder(diameter=1 * um, length=300 * um, n=300)
    neuron = SpatialNeuron(morpho, equations, Cm=0.75 * uF / cm**2, Ri=150 * ohm * cm,
                           method=method, namespace=BRETTE_2012_CONSTANTS)
    compartment = morpho.axon.indices[40 * um]
    neuron.v = BRETTE_2012_CONSTANTS["EL"]
    neuron.gL = _G_L
    neuron.gNa[compartment] = _G_L * 2 * _S / neuron.area[compartment]
    monitor = StateMonitor(neuron, "v", record=[0, compartment])
    net = Network(neuron, monitor)
    net.run(5 * ms)
    neuron.Iin[0] = _G_L * 20 * mV * neuron.area[0]
    net.run(45 * ms)
    return np.asarray(monitor.v)


def test_brette_2012_kink_at_spike_initiation():
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.025 * ms
    lut = tabulate(BRETTE_2012, v=GRID, namespace=BRETTE_2012_CONSTANTS)
    assert "lut_minf" in lut["m"].expr.code
    exact, tabulated = brette_2012_traces(BRETTE_2012), brette_2012_traces(lut, "lut_exponential_euler")
    onsets = [upward_crossings(trace[1], -40 * mV) for trace in (exact, tabulated)]
    assert len(onsets[0]) == 1 and len(onsets[1]) == 1  # the Na compartment switches on once
    assert abs(onsets[0][0] - onsets[1][0]) <= 2  # time steps
    assert exact[1].max() > 0
    assert np.max(np.abs(exact - tabulated)) < float(0.5 * mV)
