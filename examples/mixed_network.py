"""
A mixed network: LIF spiking neurons and E/I rate populations on a ring,
coupled both ways with frbrian's bridges.

    python examples/mixed_network.py [--target numpy|cython|cpp_standalone] [--duration-ms 600] [--plot FILE]

* rate -> spikes: each E rate unit stands for SCALE excitatory neurons; its
  Poisson spikes (``poisson_spikes``) excite the LIF neurons at its place on
  the ring;
* rate -> current: the I rate units inhibit the LIF neurons at their place
  through a current ``w*r_I`` (``rate_input``);
* spikes -> rate: the LIF neurons' population rate, filtered exponentially
  (``population_rate``), is an input of every E and I unit.

The network is built twice in one Brian2 network, with the spike feedback
on and off (``w_A = 0``), so that one run shows what the feedback changes.
"""

import argparse
import os

import numpy as np
from brian2 import (Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, defaultclock, ms, pA, prefs,
                    set_device)

from frbrian import Coupling, Grid, RateNetwork, WrappedGaussian, power_law
from frbrian.bridges import poisson_spikes, population_rate, rate_input

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

UNITS = 50                    # rate units per cell type, on a ring
PER_UNIT = 4                  # LIF neurons at each place of the ring
WEIGHTS = [[0.04, -0.05], [0.05, -0.03]]  # 1/Hz, W[target, source] for E, I
SCALE = 100                   # excitatory neurons an E rate unit stands for
FEEDBACK = {"E": 0.02, "I": 0.01}  # w_A: input per Hz of LIF population rate


def lif_equations():
    # v in mV above rest; the inhibitory current from the I rates acts through
    # a leak conductance of 10 nS (10 pA give -1 mV at steady state)
    return """
    dv/dt = (-v - I_inh/(10*nS))/(20*ms) : volt (unless refractory)
    I_inh : amp
    """


def build(feedback, label):
    """One copy of the mixed network; ``feedback`` scales the spike -> rate input."""
    x = Grid((UNITS,), periodic=True).axes()[0]
    rates = RateNetwork(Coupling(Grid((UNITS,), periodic=True), WEIGHTS, WrappedGaussian(0.2)),
                        tau=[10 * ms, 5 * ms], transfer=power_law(k=10, n=2), names=["E", "I"],
                        drive="h + w_A*A/Hz", equations="A : Hz (linked)\nw_A : 1", name=f"rates_{label}")
    rates["E"].h = 1.0 + 0.5 * np.exp(-x ** 2 / 0.02)   # a bump of input at the centre of the ring
    rates["I"].h = 0.8
    for name in ("E", "I"):
        rates[name].w_A = feedback * FEEDBACK[name]

    lif = NeuronGroup(UNITS * PER_UNIT, lif_equations(), threshold="v > 20*mV", reset="v = 0*mV",
                      refractory=2 * ms, method="euler", name=f"lif_{label}")
    local = dict(j=f"k for k in range({PER_UNIT}*i, {PER_UNIT}*(i + 1))")  # rate unit i -> its LIF neurons
    excitation = poisson_spikes(rates["E"], scale=SCALE, name=f"poisson_{label}")
    onto_lif = Synapses(excitation, lif, on_pre="v += 1.2*mV", name=f"excitation_{label}")
    onto_lif.connect(**local)
    inhibition = rate_input(rates["I"], lif, "I_inh", weight=10 * pA / Hz, connect=local, name=f"inhibition_{label}")
    feedback_rate = population_rate(lif, tau=10 * ms, target=[rates["E"], rates["I"]], name=f"lifrate_{label}")

    monitors = {"E": StateMonitor(rates["E"], "r", record=True, dt=1 * ms, name=f"trace_E_{label}"),
                "I": StateMonitor(rates["I"], "r", record=True, dt=1 * ms, name=f"trace_I_{label}"),
                "A": StateMonitor(feedback_rate.filter, "A", record=0, dt=1 * ms, name=f"trace_A_{label}"),
                "spikes": SpikeMonitor(lif, name=f"spikes_{label}")}
    objects = [rates, lif, excitation, onto_lif, inhibition, feedback_rate, *monitors.values()]
    return objects, monitors


def summary(label, monitors, duration):
    late = monitors["E"].t > duration / 2    # the second half, after the transient
    E, I = (np.asarray(monitors[n].r_)[:, late] for n in ("E", "I"))
    A = np.asarray(monitors["A"].A_)[0, late]
    centre = UNITS // 2
    lif_rate = monitors["spikes"].num_spikes / (UNITS * PER_UNIT * float(duration))
    print(f"  {label:<12} E {E.mean():6.2f} Hz (centre {E[centre].mean():6.2f}, edge {E[0].mean():6.2f})"
          f"   I {I.mean():6.2f} Hz   LIF {lif_rate:6.2f} Hz   A {A.mean():6.2f} Hz")


def plot(filename, runs, duration):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 1, figsize=(7, 8))
    x = Grid((UNITS,), periodic=True).axes()[0]
    for (label, monitors), style in zip(runs, ("-", "--")):
        late = monitors["E"].t > duration / 2
        for name, colour in (("E", "C3"), ("I", "C0")):
            profile = np.asarray(monitors[name].r_)[:, late].mean(axis=1)
            axes[0].plot(x, profile, style, color=colour, label=f"{name}, {label}")
        axes[2].plot(monitors["A"].t / ms, monitors["A"].A_[0], style, color="k", label=label)
    spikes = runs[0][1]["spikes"]
    axes[1].plot(spikes.t / ms, spikes.i, ",k")
    axes[0].set(xlabel="position on the ring", ylabel="rate (Hz)")
    axes[1].set(xlabel="time (ms)", ylabel="LIF neuron", title=f"LIF spikes, {runs[0][0]}")
    axes[2].set(xlabel="time (ms)", ylabel="filtered LIF rate A (Hz)")
    axes[0].legend(fontsize="small", ncol=2)
    axes[2].legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(filename, dpi=120)
    print(f"Figure written to {filename}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="numpy")
    parser.add_argument("--duration-ms", type=float, default=600.0)
    parser.add_argument("--plot", metavar="FILE", help="write a figure (needs matplotlib)")
    args = parser.parse_args()
    if args.target == "cpp_standalone":
        set_device("cpp_standalone", directory=os.path.join(ROOT, "build", "mixed_network"))
    else:
        prefs.codegen.target = args.target
        prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    defaultclock.dt = 0.1 * ms
    duration = args.duration_ms * ms

    runs, objects = [], []
    for label, feedback in (("feedback", 1.0), ("no feedback", 0.0)):
        parts, monitors = build(feedback, label.replace(" ", ""))
        objects += parts
        runs.append((label, monitors))
    Network(*objects).run(duration)

    print(f"LIF ({UNITS * PER_UNIT} neurons) + E/I rates ({UNITS} units each), {duration}, target {args.target}; "
          f"means over the second half:")
    for label, monitors in runs:
        summary(label, monitors, duration)
    if args.plot:
        plot(args.plot, runs, duration)


if __name__ == "__main__":
    main()
