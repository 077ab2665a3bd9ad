"""
Bridges between rate populations and spiking groups, both ways, built from
ordinary Brian2 objects so that they run on every target:

* `poisson_spikes`: a rate group drives spiking groups through Poisson spikes
  at its rates (a `NeuronGroup` the user connects with `Synapses`);
* `rate_input`: a rate group writes ``w*r`` into a variable of a spiking
  group (a current or a conductance), through ``(summed)`` `Synapses`;
* `population_rate`: the spikes of a spiking group, filtered exponentially
  into a population rate ``A`` in Hz, become an input variable of rate
  groups (a `linked_var`).

A "rate group" is any group with a state variable in Hz (``r`` by default),
such as one cell type of a `RateNetwork` (``net['E']``) or a subgroup of it.
"""

import numpy as np
from brian2 import BrianObject, Hz, NeuronGroup, Synapses, linked_var
from brian2.core.spikesource import SpikeSource
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.devices.device import get_device
from brian2.equations.codestrings import Expression
from brian2.equations.equations import PARAMETER, SUBEXPRESSION, Equations, SingleEquation
from brian2.groups.group import Group
from brian2.units.allunits import second
from brian2.units.fundamentalunits import DimensionMismatchError, Quantity, fail_for_dimension_mismatch, get_unit

from .rate_network import RateNetwork

__all__ = ["poisson_spikes", "rate_input", "population_rate", "PopulationRate"]

_CONNECT_ARGUMENTS = {"condition", "i", "j", "p", "n", "skip_if_invalid", "namespace"}


def poisson_spikes(rates, scale=1.0, rate="r", dt=None, name="poissonspikes*"):
    """
    One Poisson spike generator per rate unit, firing at ``scale`` times the
    unit's rate: connect it to spiking groups with ordinary `Synapses`.

    Parameters
    ----------
    rates : `Group`
        The rate group (``net['E']`` of a `RateNetwork`, or a subgroup), with
        a variable in Hz.
    scale : float
        Dimensionless factor on the rate (e.g. the number of neurons a rate
        unit stands for); kept in the group as ``scale`` and can be changed.
    rate : str
        The name of the rate variable in ``rates``.
    dt : `Quantity`, optional
        The time step of the generators (``defaultclock.dt`` by default). A
        spike is drawn with probability ``scale*rate*dt`` per step (in the
        ``thresholds`` slot, after the rate groups have updated), so rates
        near ``1/dt`` saturate and rates below zero give no spikes.
    name : str
        The name of the `NeuronGroup`.

    Returns
    -------
    `NeuronGroup`
        ``len(rates)`` spiking units with the linked variable ``rate`` (Hz);
        its attribute ``rate_source`` is ``rates``.

    Examples
    --------
    >>> from brian2 import NeuronGroup, Network, SpikeMonitor, Hz, ms, seed
    >>> seed(11)  # the counts are random: 100 vs 200 Hz in 100 ms come out in this order in ~96% of seeds
    >>> rates = NeuronGroup(3, 'r : Hz')
    >>> rates.r = [0, 100, 200]*Hz
    >>> spikes = poisson_spikes(rates)
    >>> monitor = SpikeMonitor(spikes)
    >>> Network(rates, spikes, monitor).run(100*ms)
    >>> int(monitor.count[0]), 0 < int(monitor.count[1]) < int(monitor.count[2])
    (0, True)
    """
    _check_rate_group(rates, rate, "rates")
    fail_for_dimension_mismatch(scale, None, "The scale (a dimensionless factor on the rate)")
    if not np.ndim(scale) == 0 or not float(scale) >= 0:
        raise ValueError(f"The scale must be one non-negative number; got {scale!r}.")
    clock = {} if dt is None else {"dt": dt}
    generators = NeuronGroup(len(rates), "rate : Hz (linked)\nscale : 1 (shared, constant)",
                             threshold="rand() < scale*rate*dt", name=name, **clock)
    generators.rate = linked_var(rates, rate)
    generators.scale = float(scale)
    # Brian2's link holds the rate group only weakly: a subgroup written
    # inline (poisson_spikes(net['E'][:10])) would be gone before the run.
    object.__setattr__(generators, "rate_source", rates)
    return generators


def rate_input(rates, target, variable, weight, connect=None, rate="r", name="rateinput*"):
    """
    Drive a variable of a (spiking) group with ``w*r`` of a rate group:
    ``variable = sum of w*r_pre`` over its incoming connections, written
    every step just before the target group updates (Brian2's summed
    variables), from the rates at the start of the step.

    Parameters
    ----------
    rates : `Group`
        The rate group (``net['E']``, or a subgroup), with a variable in Hz.
    target : `Group`
        The group receiving the input. ``variable`` must be a parameter of it
        (e.g. ``I_rate : amp`` or ``g_rate : siemens``, used in its ``dv/dt``),
        that no other ``(summed)`` synapses write.
    variable : str
        The name of that parameter.
    weight : `Quantity`
        ``w`` in the unit of ``variable`` per Hz (amp/Hz for a current): one
        value, or one per unit for the default one-to-one connectivity. It is
        the synapses' variable ``w``; set ``synapses.w`` to change it later.
    connect : None, True or dict
        Who drives whom. ``None`` (default): one-to-one, rate unit ``i`` to
        target neuron ``i``, for groups of the same size (a rate unit is a
        place on a grid); ``True``: all-to-all; a dict: keyword arguments of
        `Synapses.connect` (``dict(j='i*10 + k for k in range(10)')``,
        ``dict(p=0.1)``, ...).
    rate : str
        The name of the rate variable in ``rates``.
    name : str
        The name of the `Synapses`.

    Returns
    -------
    `Synapses`
        The connections, with the weight ``w``.

    Examples
    --------
    >>> from brian2 import NeuronGroup, Network, Hz, ms, pA
    >>> rates = NeuronGroup(2, 'r : Hz')
    >>> rates.r = [10, 20]*Hz
    >>> neurons = NeuronGroup(2, 'I_rate : amp')
    >>> synapses = rate_input(rates, neurons, 'I_rate', weight=0.5*pA/Hz)
    >>> Network(rates, neurons, synapses).run(1*ms)
    >>> neurons.I_rate[:]
    array([ 5., 10.]) * pamp
    """
    _check_rate_group(rates, rate, "rates")
    target_dim = _summed_target(target, variable)
    connect = _connect_arguments(connect, rates, target)
    weight = _weight(weight, target_dim, variable, connect, rates)
    model = Equations([
        SingleEquation(PARAMETER, "w", dimensions=target_dim / Hz.dim),
        SingleEquation(SUBEXPRESSION, f"{variable}_post", dimensions=target_dim,
                       expr=Expression(f"w*{rate}_pre"), flags=["summed"]),
    ])
    synapses = Synapses(rates, target, model, name=name)
    synapses.connect(**connect)
    synapses.w = weight
    return synapses


class PopulationRate(BrianObject):
    """
    The exponentially filtered population rate of a spiking group, made by
    `population_rate`: ``A(t) = (1/N) sum_k exp(-(t - t_k)/tau)/tau`` over
    the spike times ``t_k < t`` of all its ``N`` neurons, in Hz (its
    integral over time is the mean spike count per neuron).

    Add it to a `Network` (or let ``run()`` find it). It is also contained
    in every rate group that reads ``A``, so that simulating such a group
    always simulates its input: Brian2 would otherwise run the group with a
    frozen ``A`` without a warning.

    Attributes
    ----------
    filter : `NeuronGroup`
        One unit with the variable ``A`` and ``tau`` (a shared constant).
        ``A`` decays exactly, ``A *= exp(-dt/tau)``, at the end of every
        step (``when='end'``), so that during a step rate groups and
        `StateMonitor` read ``A(t)`` with all spikes before ``t``; the spikes
        of the step itself are added later in that step (by the synapses),
        as through any synapse.
    synapses : `Synapses`
        From every neuron of the spiking group to the filter:
        ``A += 1/(N*tau)`` per spike.
    """

    add_to_magic_network = True

    def __init__(self, spikes, tau, readers=(), variable="A", name="populationrate*"):
        BrianObject.__init__(self, name=name)
        self.variable = variable
        self.filter = NeuronGroup(1, "A : Hz\ntau : second (shared, constant)", clock=spikes.clock,
                                  name=f"{self.name}_filter")
        self.filter.tau = tau
        # The exact decay over one step, as the step's last act: during the
        # next step everything reads A(t) (monitors included), and after a
        # run A is the value at the network's time.
        self.filter.run_regularly("A *= exp(-dt/tau)", when="end", name=f"{self.name}_decay")
        self.synapses = Synapses(spikes, self.filter, on_pre="A_post += 1/(N_pre*tau_post)",
                                 name=f"{self.name}_synapses")
        self.synapses.connect()
        self.contained_objects.extend([self.filter, self.synapses])
        for group in readers:
            self._link(group, variable)

    @property
    def tau(self):
        return self.filter.tau

    def link(self, group, variable=None):
        """Feed ``A`` to one more rate group, through its linked variable (``A`` by default)."""
        variable = self.variable if variable is None else variable
        _check_reader(group, variable)
        self._link(group, variable)

    def _link(self, group, variable):
        setattr(group, variable, linked_var(self.filter, "A"))
        if self not in group.contained_objects:
            group.contained_objects.append(self)

    def before_run(self, run_namespace):
        # cpp_standalone (brian2 2.9) declares the spike pathways only of the
        # Synapses added to a network directly (it reads Network.objects, not
        # their contained objects), so these synapses are announced here.
        device = get_device()
        if isinstance(device, CPPStandaloneDevice):
            device.synapses.add(self.synapses)
        super().before_run(run_namespace)


def population_rate(spikes, tau, target=None, variable="A", name="populationrate*"):
    """
    Feed the exponentially filtered population rate of a spiking group to
    rate groups: ``A(t) = (1/N) sum_k exp(-(t - t_k)/tau)/tau`` in Hz, over
    the spikes ``t_k < t`` of the ``N`` neurons of ``spikes``.

    Parameters
    ----------
    spikes : `SpikeSource`
        A group that spikes: a `NeuronGroup` with a threshold, a
        `SpikeGeneratorGroup`, a `PoissonGroup`, or a subgroup of one.
    tau : `Quantity`
        The filter's time constant, in seconds (positive).
    target : `Group` or list of them, optional
        The rate groups that read ``A``. Each must declare it as a linked
        variable in Hz: ``'A : Hz (linked)'`` in its equations (for a
        `RateNetwork`: ``equations='A : Hz (linked)'``), used in its input,
        e.g. ``drive='h + w_A*A/Hz'``. More groups can be linked later with
        `PopulationRate.link`.
    variable : str
        The name of that linked variable in the target groups.
    name : str
        The name of the returned object; its parts are ``<name>_filter`` and
        ``<name>_synapses``.

    Returns
    -------
    `PopulationRate`
        Holds the filter group (``.filter``, with the variable ``A``) and the
        synapses (``.synapses``).

    Examples
    --------
    >>> from brian2 import NeuronGroup, Network, SpikeGeneratorGroup, Hz, ms
    >>> spiking = SpikeGeneratorGroup(2, [0, 1], [1, 1]*ms)  # both neurons spike at 1 ms
    >>> rates = NeuronGroup(1, 'A : Hz (linked)')
    >>> bridge = population_rate(spiking, tau=10*ms, target=rates)
    >>> Network(spiking, rates, bridge).run(11*ms)          # A(11 ms) = exp(-1)/tau
    >>> print(f"{float(rates.A[0]):.4f}")
    36.7879
    """
    _check_spike_source(spikes)
    fail_for_dimension_mismatch(tau, second, "The filter time constant tau")
    if not np.ndim(tau) == 0 or not float(tau) > 0:
        raise ValueError(f"The filter time constant tau must be one positive time; got {tau!r}.")
    readers = [] if target is None else list(target) if isinstance(target, (list, tuple)) else [target]
    for group in readers:
        _check_reader(group, variable)
    return PopulationRate(spikes, tau, readers, variable, name)


# Checks, all done before any Brian2 object is created: a failed call leaves
# nothing behind (Brian2 warns about objects that never ran, and
# cpp_standalone would keep their code in the project).

def _check_group(group, role):
    if isinstance(group, RateNetwork):
        raise TypeError(f"The {role} must be a group; pass the RateNetwork's cell types, e.g. "
                        f"net[{group.names[0]!r}].")
    if not isinstance(group, Group) or isinstance(group, Synapses):
        raise TypeError(f"The {role} must be a NeuronGroup or a subgroup; got {type(group).__name__}.")


def _check_rate_group(group, rate, role):
    _check_group(group, role)
    if rate not in group.variables:
        raise ValueError(f"The rate group '{group.name}' has no variable '{rate}'; name its rate variable (in Hz) "
                         f"with rate=.")
    fail_for_dimension_mismatch(group.variables[rate].dim, Hz, f"The rate variable '{rate}' of '{group.name}' (Hz)")


def _equation(group, variable):
    return getattr(group, "equations", {}).get(variable, None)


def _summed_target(target, variable):
    _check_group(target, "target")
    equation = _equation(target, variable)
    declare = "give it a parameter of its own for this input, e.g. 'I_rate : amp', used in its dv/dt"
    if equation is None:
        raise ValueError(f"The target group '{target.name}' has no variable '{variable}': {declare}.")
    if equation.type != PARAMETER or equation.flags:
        raise ValueError(f"The variable '{variable}' of '{target.name}' must be a plain parameter (not a "
                         f"differential equation, subexpression, or shared/constant/linked): {declare}.")
    return equation.dim


def _connect_arguments(connect, rates, target):
    if connect is None:
        if len(rates) != len(target):
            raise ValueError(f"One-to-one input (connect=None) needs groups of the same size; the rates have "
                             f"{len(rates)} units, the target {len(target)}. Give connect=True (all-to-all) "
                             f"or a dict of Synapses.connect arguments.")
        return {"j": "i"}
    if connect is True:
        return {}
    if not isinstance(connect, dict):
        raise TypeError(f"connect must be None (one-to-one), True (all-to-all) or a dict of Synapses.connect "
                        f"arguments; got {connect!r}.")
    unknown = set(connect) - _CONNECT_ARGUMENTS
    if unknown:
        raise ValueError(f"Unknown Synapses.connect arguments {sorted(unknown)}; use {sorted(_CONNECT_ARGUMENTS)}.")
    return dict(connect)


def _weight(weight, target_dim, variable, connect, rates):
    weight = Quantity(weight)
    if weight.dim != target_dim / Hz.dim:
        raise DimensionMismatchError(f"The weight must be in the unit of '{variable}' per Hz "
                                     f"({get_unit(target_dim)}/Hz); got {weight!r}", weight.dim)
    if np.ndim(weight) == 0:
        return weight
    if connect != {"j": "i"} or np.shape(weight) != (len(rates),):
        raise ValueError(f"The weight is one value, or one per unit ({len(rates)}) for one-to-one input; got "
                         f"shape {np.shape(weight)}. For other connectivity set synapses.w after creation.")
    return weight


def _check_spike_source(spikes):
    if isinstance(spikes, RateNetwork) or not isinstance(spikes, SpikeSource) or "spike" not in getattr(
            spikes, "events", {}):
        what = "a group without a threshold" if isinstance(spikes, SpikeSource) else type(spikes).__name__
        raise TypeError(f"spikes must be a spiking group (a NeuronGroup with a threshold, a SpikeGeneratorGroup, "
                        f"a PoissonGroup, or a subgroup of one); got {what}.")


def _check_reader(group, variable):
    _check_group(group, "target")
    equation = _equation(group, variable)
    declare = (f"add the line '{variable} : Hz (linked)' to its equations (RateNetwork: "
               f"equations='{variable} : Hz (linked)') and use {variable} in its input, e.g. "
               f"drive='h + w_{variable}*{variable}/Hz'")
    if equation is None:
        raise ValueError(f"The rate group '{group.name}' has no variable '{variable}' to receive the population "
                         f"rate: {declare}.")
    if "linked" not in equation.flags:
        raise ValueError(f"The variable '{variable}' of '{group.name}' must be a linked variable: {declare}.")
    if equation.dim is not Hz.dim:
        raise DimensionMismatchError(f"The population rate is in Hz, but '{variable}' of '{group.name}' is in "
                                     f"{get_unit(equation.dim)}: {declare}", equation.dim)
