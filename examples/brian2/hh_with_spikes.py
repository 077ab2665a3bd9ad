"""
Hodgkin & Huxley (1952)'s squid axon as a 10 cm cable of 1000 compartments,
as in Brian2's ``examples/compartmental/hh_with_spikes.py``: a current
pulse at one end starts an action potential that travels along the axon
(about 12.5 m/s); the spike of each compartment is recorded (threshold
``m > 0.5``).

Shortened copy for ``python -m lut4brian --compare``: 10 ms before and
after the 3 ms pulse instead of 50 ms (``python hh_with_spikes.py AFTER_MS``
sets the time after it), no plot.
"""
import sys

from brian2 import *

after = (float(sys.argv[1]) if len(sys.argv) > 1 else 10) * ms
defaultclock.dt = 0.01 * ms

morpho = Cylinder(length=10 * cm, diameter=2 * 238 * um, n=1000, type='axon')

El = 10.613 * mV
ENa = 115 * mV
EK = -12 * mV
gl = 0.3 * msiemens / cm**2
gNa0 = 120 * msiemens / cm**2
gK = 36 * msiemens / cm**2

eqs = '''
Im = gl * (El-v) + gNa * m**3 * h * (ENa-v) + gK * n**4 * (EK-v) : amp/meter**2
I : amp (point current) # applied current
dm/dt = alpham * (1-m) - betam * m : 1
dn/dt = alphan * (1-n) - betan * n : 1
dh/dt = alphah * (1-h) - betah * h : 1
alpham = (0.1/mV) * 10*mV/exprel((-v+25*mV) / (10*mV))/ms : Hz
betam = 4 * exp(-v/(18*mV))/ms : Hz
alphah = 0.07 * exp(-v/(20*mV))/ms : Hz
betah = 1/(exp((-v+30*mV) / (10*mV)) + 1)/ms : Hz
alphan = (0.01/mV) * 10*mV/exprel((-v+10*mV) / (10*mV))/ms : Hz
betan = 0.125*exp(-v/(80*mV))/ms : Hz
gNa : siemens/meter**2
'''

neuron = SpatialNeuron(morphology=morpho, model=eqs, method="exponential_euler",
                       refractory="m > 0.4", threshold="m > 0.5",
                       Cm=1 * uF / cm**2, Ri=35.4 * ohm * cm)
neuron.v = 0 * mV
neuron.h = 1
neuron.m = 0
neuron.n = .5
neuron.I = 0 * amp
neuron.gNa = gNa0
M = StateMonitor(neuron, 'v', record=range(0, 1000, 100))
spikes = SpikeMonitor(neuron)

run(10 * ms)
neuron.I[0] = 1 * uA  # current injection at one end
run(3 * ms)
neuron.I = 0 * amp
run(after)
print(f"{spikes.num_spikes} compartments spiked")
