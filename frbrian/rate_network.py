"""
Rate populations as Brian2 groups: ``tau dr/dt = -r + f(I)``, one
`NeuronGroup` per cell type, coupled through a `Coupling` (kernels on a
`Grid`) or a `DenseCoupling`.
"""

import numpy as np
from brian2 import BrianObject, Hz, NetworkOperation, NeuronGroup
from brian2.devices.device import get_device
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.units.fundamentalunits import fail_for_dimension_mismatch

from .coupling_cpp import coupling_function
from .rate_arguments import check_finite, check_shape, names_of, time_constants, transfers_of

__all__ = ["RateNetwork"]


class RateNetwork(BrianObject):
    """
    RateNetwork(coupling, tau, transfer, drive=0, names=None, initial=0*Hz, name='ratenetwork*')

    Rate units ``tau dr/dt = -r + F`` with ``F = f(I)*Hz`` and ``I = W r + h``,
    one `NeuronGroup` per cell type (``self['E']``), ``coupling.size`` units
    each.
    Add it to a `Network` (or let ``run()`` find it) like any group; it works
    with `StateMonitor`, ``store``/``restore`` and every target.

    Parameters
    ----------
    coupling : `Coupling` or `DenseCoupling`
        ``W``: the weights between cell types (in 1/Hz, so that ``W r`` is
        dimensionless) and their kernels on the grid, or a dense matrix.
    tau : `Quantity` or list of them
        Time constant per cell type.
    transfer : `Transfer`, str or list of them
        ``f``, dimensionless (the rate is ``f(I)`` in Hz).
    drive : float, array or str
        ``h``: a number, an array of shape ``(types, size)``, or a Brian2
        expression (e.g. ``'stimulus(t, i)'`` with a `TimedArray`, or
        ``'h + w_spikes*A/Hz'`` with variables declared in ``equations``).
    names : list of str, optional
        The cell types' names (``['E', 'I']``); by default ``type0``, ...
    initial : `Quantity`
        The initial rates, in Hz: one value, or an array of shape ``(types, size)``.
    dynamics : str
        The right-hand side of ``tau dr/dt``, a Brian2 expression in ``r``
        and ``F``: ``'-r + F'`` by default, ``'-r + (1 - k*r)*F'`` for
        Wilson-Cowan refractoriness (``k`` in seconds, from the namespace).
    equations : str or dict
        Extra equations for every group, or per cell type name (e.g.
        ``'A : Hz (linked)'`` for an input from a spiking population).

    Notes
    -----
    The recurrent input ``I_rec = W r`` of all groups is computed once per
    step, before the groups update: an FFT convolution for kernel coupling
    (O(N log N) per step) and a matrix-vector product for dense coupling. On
    numpy and cython it runs in a `NetworkOperation` (numpy's FFT and BLAS);
    on cpp_standalone, where Python cannot run during the simulation, in C++
    (see `frbrian.coupling_cpp`), serially and outside Brian2's OpenMP loops
    (the first group gets a shared variable ``coupled_at`` for that); only a
    large dense product is shared among the ``openmp_threads``.

    Examples
    --------
    >>> from brian2 import ms, run
    >>> from frbrian import Coupling, Gaussian, Grid
    >>> net = RateNetwork(Coupling(Grid((21,)), [[1.0, -1.0], [1.0, -0.5]], Gaussian(0.2)),
    ...                   tau=[10*ms, 5*ms], transfer='power_law', drive=1.0, names=["E", "I"])
    >>> run(50*ms)
    >>> bool(net["E"].r[10] > 0*Hz)
    True
    """

    add_to_magic_network = True

    def __init__(self, coupling, tau, transfer, drive=0.0, names=None, initial=0 * Hz, dynamics="-r + F",
                 equations="", name="ratenetwork*"):
        BrianObject.__init__(self, name=name)
        types = coupling.types
        self.coupling = coupling
        self.names = names_of(names, types)
        taus = time_constants(tau, types)
        transfers = transfers_of(transfer, types)  # all checks before any group exists
        for what, value in (("drive", drive), ("initial", initial)):
            check_shape(value, what, types, coupling.size)
        fail_for_dimension_mismatch(initial, Hz, "The initial rates")
        for what, value in (("drive", drive), ("initial", np.asarray(initial / Hz))):
            check_finite(what, value)
        self.taus = taus
        self.transfers = transfers
        self.drive, self.initial, self.dynamics = drive, initial, dynamics
        extra = equations if isinstance(equations, dict) else {n: equations for n in self.names}
        self.groups = [self._group(n, t, f, drive, k, initial, dynamics, str(extra.get(n, "")))
                       for k, (n, t, f) in enumerate(zip(self.names, taus, self.transfers))]
        self.contained_objects.extend(self.groups)
        self.contained_objects.extend(self._coupling_objects())

    def __getitem__(self, name):
        return self.groups[self.names.index(name)]

    @staticmethod
    def _standalone():
        return isinstance(get_device(), CPPStandaloneDevice)

    def _group(self, name, tau, transfer, drive, index, initial, dynamics, extra):
        external = drive if isinstance(drive, str) else "h"
        equations = f"""
        dr/dt = ({dynamics})/tau : Hz
        F = ({transfer.expression})*Hz : Hz
        I = I_rec + {external} : 1
        I_rec : 1
        tau : second (constant)
        h : 1
        """ + extra
        if index == 0 and self._standalone():
            # written by the coupling's scalar code (see _coupling_objects)
            equations += "\ncoupled_at : second (shared)"
        group = NeuronGroup(self.coupling.size, equations, method="euler", name=f"{self.name}_{name}")
        group.tau = tau
        group.r_ = np.broadcast_to(np.asarray(initial / Hz, dtype=float), (len(self.names), group.N))[index]
        if not isinstance(drive, str):
            group.h = np.broadcast_to(np.asarray(drive, dtype=float), (len(self.names), group.N))[index]
        return group

    def _coupling_objects(self):
        # I_rec of every group is set once per step, before the groups update.
        if self._standalone():
            # A write to a shared variable is scalar code: cpp_standalone runs it once, serially,
            # before its OpenMP loop over the units (a per-unit call inside that loop races).
            function, first = coupling_function(self), self.groups[0]
            name = function.implementations["cpp"].name
            first.namespace[name] = function
            runner = first.run_regularly(f"coupled_at = {name}(t)", when="before_groups",
                                         name=f"{self.name}_coupling")
            first.contained_objects.remove(runner)  # owned here, so that it runs only with the network
            return [runner]
        return [NetworkOperation(self._couple, when="before_groups", name=f"{self.name}_coupling")]

    def before_run(self, run_namespace):
        if not self._standalone():
            # The state arrays themselves: set in place each step, no copies through views.
            self._rates = [group.variables["r"].get_value() for group in self.groups]
            self._inputs = [group.variables["I_rec"].get_value() for group in self.groups]
        super().before_run(run_namespace)

    def _couple(self):
        for target, current in zip(self._inputs, self.coupling(np.stack(self._rates))):
            target[:] = current

