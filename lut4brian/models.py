"""
Reference Hodgkin-Huxley-type models, written as Brian2 users write them.

Each function returns ``(equations, namespace)``: an equation string with its
rates in the published form, and the constants it needs. They serve the
tests, benchmarks and examples, and as starting points.
"""

import numpy as np
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, seed
from brian2.units import cm, kelvin, mM, mV, ms, msiemens, nA, nS, siemens, uA, ufarad, umetre
from brian2.units.constants import faraday_constant, gas_constant, zero_celsius

__all__ = ["cobahh", "cobahh_network", "hh1952", "wang_buzsaki", "calcium_cell"]


#: The Traub-Miles rates of Brian2's ``examples/COBAHH.py`` (with ``exprel``), shared by the models below.
_TRAUB_MILES_RATES = """
    alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
    beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
    alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
    beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
    alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
    beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
"""


def cobahh():
    """
    The Traub-Miles neuron of Brian2's ``examples/COBAHH.py`` (rates with
    ``exprel``), with excitatory and inhibitory conductances ``ge``, ``gi``
    and an injected current ``I``.
    """
    area = 20000 * umetre**2
    namespace = dict(
        Cm=1 * ufarad * cm**-2 * area,
        gl=5e-5 * siemens * cm**-2 * area,
        El=-60 * mV, EK=-90 * mV, ENa=50 * mV,
        g_na=100 * msiemens * cm**-2 * area,
        g_kd=30 * msiemens * cm**-2 * area,
        VT=-63 * mV,
        taue=5 * ms, taui=10 * ms, Ee=0 * mV, Ei=-80 * mV,
        we=6 * nS, wi=67 * nS,
    )
    equations = """
    dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
             g_na*(m*m*m)*h*(v-ENa)-
             g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
    dm/dt = alpha_m*(1-m)-beta_m*m : 1
    dn/dt = alpha_n*(1-n)-beta_n*n : 1
    dh/dt = alpha_h*(1-h)-beta_h*h : 1
    dge/dt = -ge*(1./taue) : siemens
    dgi/dt = -gi*(1./taui) : siemens
    """ + _TRAUB_MILES_RATES + """
    I : amp
    """
    return equations, namespace


def cobahh_network(equations, namespace, neurons=4000, record=10, random_seed=4321,
                   method="exponential_euler"):
    """
    The network of Brian2's ``examples/COBAHH.py`` (80% excitatory, p = 0.02,
    random initial state) built from ``equations``, exact or tabulated.

    Returns ``(network, spikes, trace)``: a `Network`, its `SpikeMonitor` and
    a `StateMonitor` of ``v`` (every 0.1 ms) of ``record`` evenly spaced neurons.
    The same ``random_seed`` gives the same connections and initial state;
    ``method`` is the integrator of the neurons.
    """
    seed(random_seed)
    n_exc = int(0.8 * neurons)
    group = NeuronGroup(neurons, equations, threshold="v>-20*mV", refractory=3 * ms,
                        method=method, namespace=namespace)
    exc = Synapses(group[:n_exc], group, on_pre="ge+=we", namespace=namespace)
    inh = Synapses(group[n_exc:], group, on_pre="gi+=wi", namespace=namespace)
    exc.connect(p=0.02)
    inh.connect(p=0.02)
    group.v = "El + (randn() * 5 - 5)*mV"
    group.ge = "(randn() * 1.5 + 4) * 10.*nS"
    group.gi = "(randn() * 12 + 20) * 10.*nS"
    spikes = SpikeMonitor(group)
    trace = StateMonitor(group, "v", record=np.arange(0, neurons, max(1, neurons // record)), dt=0.1 * ms)
    return Network(group, exc, inh, spikes, trace), spikes, trace


def hh1952():
    """
    Hodgkin and Huxley's squid axon (1952), per unit area, in the modern sign
    convention (rest near -65 mV). The rates are written with ``1 - exp``, so
    that alpha_m and alpha_n are 0/0 at -40 mV and -55 mV.
    """
    namespace = dict(
        C=1 * ufarad, gNa=120 * msiemens, gK=36 * msiemens, gL=0.3 * msiemens,
        ENa=50 * mV, EK=-77 * mV, EL=-54.387 * mV,
    )
    equations = """
    dv/dt = (gNa*m**3*h*(ENa-v) + gK*n**4*(EK-v) + gL*(EL-v) + I)/C : volt
    dm/dt = alpha_m*(1-m) - beta_m*m : 1
    dh/dt = alpha_h*(1-h) - beta_h*h : 1
    dn/dt = alpha_n*(1-n) - beta_n*n : 1
    alpha_m = 0.1/mV*(v+40*mV)/(1-exp(-(v+40*mV)/(10*mV)))/ms : Hz
    beta_m = 4*exp(-(v+65*mV)/(18*mV))/ms : Hz
    alpha_h = 0.07*exp(-(v+65*mV)/(20*mV))/ms : Hz
    beta_h = 1/(exp(-(v+35*mV)/(10*mV))+1)/ms : Hz
    alpha_n = 0.01/mV*(v+55*mV)/(1-exp(-(v+55*mV)/(10*mV)))/ms : Hz
    beta_n = 0.125*exp(-(v+65*mV)/(80*mV))/ms : Hz
    I : amp
    """
    return equations, namespace


def wang_buzsaki():
    """
    Wang and Buzsaki's (1996) interneuron, as in lut4brian 0.1.0's example:
    instantaneous sodium activation and a temperature factor of 5 on h and n.
    """
    namespace = dict(
        Cm=1 * ufarad, gL=0.1 * msiemens, EL=-65 * mV, ENa=55 * mV, EK=-90 * mV,
        gNa=35 * msiemens, gK=9 * msiemens, phi=5,
    )
    equations = """
    dv/dt = (-gNa*minf**3*h*(v-ENa) - gK*n**4*(v-EK) - gL*(v-EL) + I)/Cm : volt
    minf = alpha_m/(alpha_m + beta_m) : 1
    alpha_m = 0.1/mV*10*mV/exprel(-(v+35*mV)/(10*mV))/ms : Hz
    beta_m = 4*exp(-(v+60*mV)/(18*mV))/ms : Hz
    dh/dt = phi*(alpha_h*(1-h) - beta_h*h) : 1
    alpha_h = 0.07*exp(-(v+58*mV)/(20*mV))/ms : Hz
    beta_h = 1/(exp(-0.1/mV*(v+28*mV)) + 1)/ms : Hz
    dn/dt = phi*(alpha_n*(1-n) - beta_n*n) : 1
    alpha_n = 0.01/mV*10*mV/exprel(-(v+34*mV)/(10*mV))/ms : Hz
    beta_n = 0.125*exp(-(v+44*mV)/(80*mV))/ms : Hz
    I : amp
    """
    return equations, namespace


#: A current that makes each model fire regularly, for single-neuron tests.
DRIVE = {"cobahh": 0.5 * nA, "hh1952": 10 * uA, "wang_buzsaki": 1 * uA}


def calcium_cell():
    """
    A Traub-Miles point neuron (Brian2's ``examples/COBAHH.py`` rates, per
    area) with calcium: a high-voltage-activated Ca current (Reuveni et al.
    1993), a Ca pool under the membrane with first-order removal (Destexhe
    et al. 1993), a BK channel whose rates depend on voltage and calcium
    (Moczydlowski and Latorre 1983, the kinetics of NEURON's ``cagk.mod``)
    and a calcium-gated AHP channel (Destexhe et al. 1994, ``iahp``). The
    current ``I`` is per area; ``Ca_i`` spans decades (1e-5 to 1e-2 mM).
    """
    namespace = dict(
        C_m=1 * ufarad * cm**-2, g_L=0.05 * msiemens * cm**-2, E_L=-60 * mV, E_Na=50 * mV, E_K=-90 * mV,
        g_Na=100 * msiemens * cm**-2, g_K=30 * msiemens * cm**-2, VT=-63 * mV,
        g_Ca=1 * msiemens * cm**-2, E_Ca=120 * mV, depth=1 * umetre, tau_Ca=100 * ms, Ca_rest=2.4e-4 * mM,
        g_BK=1 * msiemens * cm**-2, g_AHP=0.5 * msiemens * cm**-2,
        F=faraday_constant, u_T=gas_constant * (36 * kelvin + zero_celsius) / faraday_constant,
    )
    equations = """
    dv/dt = (g_L*(E_L - v) + I_Na + I_K + I_Ca + I_BK + I_AHP + I)/C_m : volt
    I : amp/meter**2
    I_Na = g_Na*m**3*h*(E_Na - v) : amp/meter**2
    I_K = g_K*n**4*(E_K - v) : amp/meter**2
    dm/dt = alpha_m*(1 - m) - beta_m*m : 1
    dn/dt = alpha_n*(1 - n) - beta_n*n : 1
    dh/dt = alpha_h*(1 - h) - beta_h*h : 1
    """ + _TRAUB_MILES_RATES + """
    I_Ca = g_Ca*s**2*(E_Ca - v) : amp/meter**2
    ds/dt = alpha_s*(1 - s) - beta_s*s : 1
    alpha_s = 0.055/mV*3.8*mV/exprel((-27*mV - v)/(3.8*mV))/ms : Hz
    beta_s = 0.94*exp((-75*mV - v)/(17*mV))/ms : Hz
    dCa_i/dt = I_Ca/(2*F*depth) + (Ca_rest - Ca_i)/tau_Ca : mmolar
    I_BK = g_BK*q*(E_K - v) : amp/meter**2
    dq/dt = alpha_q*(1 - q) - beta_q*q : 1
    alpha_q = 0.48/ms/(1 + 0.18*mM*exp(-2*0.84*v/u_T)/Ca_i) : Hz
    beta_q = 0.28/ms/(1 + Ca_i/(0.011*mM*exp(-2*1.0*v/u_T))) : Hz
    I_AHP = g_AHP*w**2*(E_K - v) : amp/meter**2
    dw/dt = 0.03/ms*(1 + (Ca_i/(0.025*mM))**2)*(w_inf - w) : 1
    w_inf = (Ca_i/(0.025*mM))**2/(1 + (Ca_i/(0.025*mM))**2) : 1
    """
    return equations, namespace
