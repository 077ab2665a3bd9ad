"""
Brette et al. (2007)'s benchmark 3, as in Brian2's ``examples/COBAHH.py``:
4000 Hodgkin-Huxley neurons (Traub-Miles rates) in a random network with
exponential conductance synapses, 80% excitatory, connection probability 2%.

Shortened copy for ``python -m lut4brian --compare``: 100 ms instead of
1 s (``python COBAHH.py DURATION_MS`` sets it), a SpikeMonitor added (the
original records three voltage traces only) and no plot.
"""
import sys

from brian2 import *

duration = (float(sys.argv[1]) if len(sys.argv) > 1 else 100) * ms

area = 20000 * umetre**2
Cm = (1 * ufarad * cm**-2) * area
gl = (5e-5 * siemens * cm**-2) * area
El = -60 * mV
EK = -90 * mV
ENa = 50 * mV
g_na = (100 * msiemens * cm**-2) * area
g_kd = (30 * msiemens * cm**-2) * area
VT = -63 * mV
taue = 5 * ms  # synaptic time constants
taui = 10 * ms
Ee = 0 * mV  # synaptic reversal potentials
Ei = -80 * mV
we = 6 * nS  # synaptic weights
wi = 67 * nS

eqs = Equations('''
dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
         g_na*(m*m*m)*h*(v-ENa)-
         g_kd*(n*n*n*n)*(v-EK))/Cm : volt
dm/dt = alpha_m*(1-m)-beta_m*m : 1
dn/dt = alpha_n*(1-n)-beta_n*n : 1
dh/dt = alpha_h*(1-h)-beta_h*h : 1
dge/dt = -ge*(1./taue) : siemens
dgi/dt = -gi*(1./taui) : siemens
alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
''')

P = NeuronGroup(4000, model=eqs, threshold='v>-20*mV', refractory=3 * ms, method='exponential_euler')
Pe = P[:3200]
Pi = P[3200:]
Ce = Synapses(Pe, P, on_pre='ge+=we')
Ci = Synapses(Pi, P, on_pre='gi+=wi')
Ce.connect(p=0.02)
Ci.connect(p=0.02)

P.v = 'El + (randn() * 5 - 5)*mV'
P.ge = '(randn() * 1.5 + 4) * 10.*nS'
P.gi = '(randn() * 12 + 20) * 10.*nS'

trace = StateMonitor(P, 'v', record=[1, 10, 100])
spikes = SpikeMonitor(P)
run(duration)
print(f"{spikes.num_spikes} spikes in {duration}")
