"""
What tabulate does with membrane currents, jumps, names it cannot resolve,
and repeated runs; each case comes from a model of Brian2's examples.
"""

import numpy as np
import pytest
from brian2 import (
    Cylinder, Equations, Network, NeuronGroup, SpatialNeuron, SpikeMonitor, StateMonitor, cm, defaultclock,
    kelvin, mM, mS, ms, msiemens, mV, nM, ohm, pA, second, uA, uF, um,
)
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.units.constants import faraday_constant, gas_constant, zero_celsius
from brian2.utils.logger import catch_logs

from lut4brian import models, report, tabulate

GRID = (-120 * mV, 100 * mV, 0.05 * mV)

# Brian2's examples/frompapers/Morris_Lecar_1981.py (Morris & Lecar 1981, Eq. 9): equations and constants.
MORRIS_LECAR = """
dV/dt = (-g_L*(V - V_L) - g_Ca*m_inf*(V - V_Ca) - g_K*n*(V - V_K) + I)/C : volt
dn/dt = lambda_n*(n_inf - n) : 1
m_inf = 0.5*(1 + tanh((V - V_1)/V_2)) : 1
n_inf = 0.5*(1 + tanh((V - V_3)/V_4)) : 1
lambda_n = lambda_n__max*cosh((V - V_3)/(2*V_4)) : Hz
I : amp
"""
MORRIS_LECAR_CONSTANTS = dict(
    g_L=2 * mS, g_Ca=4 * mS, g_K=8 * mS, V_L=-50 * mV, V_Ca=100 * mV, V_K=-70 * mV,
    lambda_n__max=1.0 / (15 * ms), V_1=10 * mV, V_2=15 * mV, V_3=-1 * mV, V_4=14.5 * mV, C=20 * uF,
)


def morris_lecar_group(equations, name="neurongroup*", method="exponential_euler"):
    """The example's 17 neurons, driven by 100 to 500 uA, with a threshold to count spikes."""
    neuron = NeuronGroup(17, equations, method=method, namespace=MORRIS_LECAR_CONSTANTS,
                         threshold="V > 0*mV", refractory="V > 0*mV", name=name)
    neuron.I = (np.arange(17) * 25 + 100) * uA
    neuron.V = MORRIS_LECAR_CONSTANTS["V_L"]
    neuron.n = "n_inf"
    return neuron


def morris_lecar_spikes(equations, method="exponential_euler"):
    neuron = morris_lecar_group(equations, method=method)
    spikes = SpikeMonitor(neuron)
    Network(neuron, spikes).run(220 * ms)
    return spikes.spike_trains()


def test_linear_factors_of_a_current_stay_outside_its_table():
    defaultclock.dt = 0.01 * ms
    lut = tabulate(MORRIS_LECAR, V=GRID, namespace=MORRIS_LECAR_CONSTANTS)
    assert "(V - V_Ca)*lut_" in lut["V"].expr.code  # exponential_euler sees the current as linear in V
    exact, tabulated = morris_lecar_spikes(MORRIS_LECAR), morris_lecar_spikes(lut)
    assert sum(len(t) for t in exact.values()) >= 40
    for i in exact:
        assert len(tabulated[i]) == len(exact[i])
        if len(exact[i]):
            assert np.max(np.abs(tabulated[i] - exact[i])) <= 2 * defaultclock.dt


def test_linear_factors_inside_subexpressions_that_the_voltage_sums():
    equations = Equations("""
        dV/dt = (-g_L*(V - V_L) - I_Ca + I)/C : volt
        I_Ca = g_Ca*m_inf*(V - V_Ca) : amp
        m_inf = 0.5*(1 + tanh((V - V_1)/V_2)) : 1
        I : amp""")
    lut = tabulate(equations, V=GRID, namespace=MORRIS_LECAR_CONSTANTS)
    # I_Ca depends on V alone: inlined into V's equation (and kept exact for monitors)
    assert "(V - V_Ca)*lut_" in lut["V"].expr.code


# Brian2's examples/frompapers/Destexhe_et_al_1998.py (three-compartment thalamic relay cell): the T-current
# with its GHK driving force, HH currents in the soma, and tau_h_T with a jump at -81 mV.
DESTEXHE = """
Im = gl*(El-v) - I_Na - I_K - I_T: amp/meter**2
I_inj : amp (point current)
gl : siemens/meter**2
g_Na : siemens/meter**2
g_K : siemens/meter**2
I_Na = g_Na * m**3 * h * (v-E_Na) : amp/meter**2
I_K = g_K * n**4 * (v-E_K) : amp/meter**2
v2 = v - VT : volt
dm/dt = (0.32*(mV**-1)*(13.*mV-v2)/
        (exp((13.*mV-v2)/(4.*mV))-1.)*(1-m)-0.28*(mV**-1)*(v2-40.*mV)/
        (exp((v2-40.*mV)/(5.*mV))-1.)*m) / ms * tadj_HH: 1
dn/dt = (0.032*(mV**-1)*(15.*mV-v2)/
        (exp((15.*mV-v2)/(5.*mV))-1.)*(1.-n)-.5*exp((10.*mV-v2)/(40.*mV))*n) / ms * tadj_HH: 1
dh/dt = (0.128*exp((17.*mV-v2)/(18.*mV))*(1.-h)-4./(1+exp((40.*mV-v2)/(5.*mV)))*h) / ms * tadj_HH: 1
I_T = P_Ca * m_T**2*h_T * G_Ca : amp/meter**2
P_Ca : meter/second
G_Ca = Z_Ca**2*F*v*gamma*(Ca_i - Ca_o*exp(-Z_Ca*gamma*v))/(1 - exp(-Z_Ca*gamma*v)) : coulomb/meter**3
dm_T/dt = -(m_T - m_T_inf)/tau_m_T : 1
dh_T/dt = -(h_T - h_T_inf)/tau_h_T : 1
m_T_inf = 1/(1 + exp(-(v/mV + 56)/6.2)) : 1
h_T_inf = 1/(1 + exp((v/mV + 80)/4)) : 1
tau_m_T = (0.612 + 1.0/(exp(-(v/mV + 131)/16.7) + exp((v/mV + 15.8)/18.2))) * ms / tadj_m_T: second
tau_h_T = (int(v<-81*mV) * exp((v/mV + 466)/66.6) +
           int(v>=-81*mV) * (28 + exp(-(v/mV + 21)/10.5))) * ms / tadj_h_T: second
"""
_T = 34 * kelvin + zero_celsius
DESTEXHE_CONSTANTS = dict(
    VT=-52 * mV, El=-76.5 * mV, E_Na=50 * mV, E_K=-100 * mV, tadj_HH=3.0 ** ((34 - 36) / 10.0),
    tadj_m_T=2.5 ** ((34 - 24) / 10.0), tadj_h_T=2.5 ** ((34 - 24) / 10.0),
    gamma=faraday_constant / (gas_constant * _T), Z_Ca=2, Ca_i=240 * nM, Ca_o=2 * mM, F=faraday_constant,
)


def destexhe_soma_voltage(equations, method="exponential_euler"):
    morpho = Cylinder(x=[0, 38.42] * um, diameter=26 * um)
    morpho.dend = Cylinder(x=[0, 12.49] * um, diameter=10.28 * um)
    morpho.dend.distal = Cylinder(x=[0, 84.67] * um, diameter=8.5 * um)
    neuron = SpatialNeuron(morpho, equations, Cm=0.88 * uF / cm**2, Ri=173 * ohm * cm,
                           method=method, namespace=DESTEXHE_CONSTANTS)
    neuron.v = -74 * mV
    neuron.main.g_Na = neuron.main.g_K = 100 * msiemens / cm**2
    neuron.dend.Cm *= 7.954
    neuron.m_T, neuron.h_T = "m_T_inf", "h_T_inf"
    neuron.P_Ca = 1.7e-5 * cm / second
    neuron.dend.distal.P_Ca = 9.5e-5 * cm / second * 7.954
    neuron.gl = 0.0379 * msiemens / cm**2
    neuron.dend.gl = 0.0379 * msiemens / cm**2 * 7.954
    monitor = StateMonitor(neuron, "v", record=0)
    net = Network(neuron, monitor)
    net.run(50 * ms)
    neuron.main.I_inj = 75 * pA
    net.run(150 * ms)
    return np.asarray(monitor.v[0])


def test_spatial_neuron_membrane_current_stays_exact_and_the_gates_are_tabulated():
    defaultclock.dt = 0.025 * ms
    with catch_logs("INFO", only_from=("lut4brian",)) as logs:
        lut = tabulate(DESTEXHE, v=GRID, namespace=DESTEXHE_CONSTANTS)
    assert lut["I_T"].expr.code == Equations(DESTEXHE)["I_T"].expr.code
    assert "lut_m_rate" in lut["m"].expr.code and "lut_m_T_inf" in lut["m_T"].expr.code
    assert any("Kept exact for SpatialNeuron" in message and "I_T" in message for _, _, message in logs)
    exact, tabulated = destexhe_soma_voltage(Equations(DESTEXHE)), destexhe_soma_voltage(lut)
    assert exact.max() > 0  # the current step makes it burst
    crossings = [np.flatnonzero((trace[1:] > 0) & (trace[:-1] <= 0)) for trace in (exact, tabulated)]
    assert len(crossings[0]) >= 2 and len(crossings[0]) == len(crossings[1])
    assert np.max(np.abs(crossings[0] - crossings[1])) <= 2  # time steps


def test_a_table_in_a_spatial_membrane_current_gets_a_lut4brian_error():
    lut = tabulate("dm/dt = (1/(1 + exp(-v/(5*mV))) - m)/ms : 1\nIm = g*m : amp/meter**2\ng : siemens/meter**2",
                   v=GRID)
    table = next(name for name in lut.identifiers if name.startswith("lut_"))
    membrane = f"Im = g*{table}(v)*v/mV : amp/meter**2\ng : siemens/meter**2\ndm/dt = -m/ms : 1"
    with pytest.raises(ValueError, match=r"SpatialNeuron differentiates the membrane current Im.*exact"):
        tabulate(membrane, v=GRID)


def test_jumps_stay_exact_and_are_reported():
    with catch_logs("INFO", only_from=("lut4brian",)) as logs:
        lut = tabulate(DESTEXHE, v=GRID, namespace=DESTEXHE_CONSTANTS)
    assert "int(v < -81*mV)" in lut["tau_h_T"].expr.code
    assert any("jump" in message and "int(v < -81*mV)" in message for _, _, message in logs)
    assert max(info.max_rel_error for info in report(lut)) < 1e-4  # was 1.6e-2 across the jump


def test_names_that_cannot_be_resolved_are_listed():
    equations, namespace = models.cobahh()
    with catch_logs(only_from=("lut4brian",)) as logs:
        lut = tabulate(equations, v=GRID, namespace={k: v for k, v in namespace.items() if k != "VT"})
    assert any("'VT'" in message and "could not resolve" in message for _, _, message in logs)
    assert "lut_m_rate" not in str(lut)


def test_gates_without_tabulated_rates_are_reported_by_the_integrator():
    # a name of its own: the message is given once per process for the same equations
    lut = tabulate("dn_slow/dt = (1/(1 + exp(-v/(5*mV))) - n_slow)/(2*ms) : 1\nv : volt", v=GRID)
    group = NeuronGroup(1, lut, method="lut_exponential_euler")
    with catch_logs("INFO", only_from=("lut4brian",)) as logs:
        Network(group).run(0.1 * ms)
    assert any("found no gate" in message and "n_slow" in message for _, _, message in logs)


def test_repeated_runs_reuse_the_state_updater_and_follow_dt():
    equations, namespace = models.cobahh()
    lut = tabulate(equations, v=GRID, namespace=namespace)
    values = []
    for eqs, method in ((equations, "exponential_euler"), (lut, "lut_exponential_euler")):
        group = NeuronGroup(1, eqs, method=method, namespace=namespace)
        group.v, group.m = -20 * mV, 0.0
        net = Network(group)
        defaultclock.dt = 0.01 * ms
        net.run(0.1 * ms)
        hits = StateUpdateMethod.apply_stateupdater._cache_statistics.hits
        group.v, group.m = -20 * mV, 0.0
        defaultclock.dt = 0.1 * ms
        net.run(0.1 * ms)
        assert StateUpdateMethod.apply_stateupdater._cache_statistics.hits > hits
        values.append(float(group.m[0]))
    assert values[0] > 0.06  # one step of 0.1 ms from m = 0 at -20 mV
    assert abs(values[1] - values[0]) < 1e-3 * values[0]  # not the decay tables of dt = 0.01 ms


def test_a_pole_between_grid_points_is_reported():
    with catch_logs(only_from=("lut4brian",)) as logs:
        tabulate("dx/dt = mV/(v + 40.03*mV)/ms : 1\nv : volt", v=(-50 * mV, -30 * mV, 0.1 * mV))
    assert any("pole" in message and "near -40.05 mV" in message for _, _, message in logs)
    with catch_logs(only_from=("lut4brian",)) as logs:  # a smooth function: no warning
        tabulate(models.cobahh()[0], v=GRID, namespace=models.cobahh()[1])
    assert not any("pole" in message for _, _, message in logs)
