"""
Every place where lut4brian reaches into Brian2 beyond its public API.

Brian2 offers no public extension point for the things below, so they are
kept here, small and in one place:

* Names in equations are resolved at ``run()`` from the group's namespace,
  the caller's namespace and Brian2's default functions. Tables are entered
  into the default functions (one per expression and grid, however often it
  is tabulated) so that tabulated equations work in any script or function
  with no ``namespace=`` argument.
* A table's values depend on constants that Brian2 resolves for each group
  at ``run()``, from the group's ``namespace`` and then the run namespace.
  Brian2 hands a function's dynamic implementation the group (``owner``)
  but not the run namespace, so ``Network.before_run``, where every code
  object is generated, is wrapped once to remember it.
* On a standalone device the function namespaces of all runs are collected
  only at the build. The samples generated for a group's code are kept on
  the group itself (a private attribute, which Brian2 groups allow), so that
  they live exactly as long as the group.
* Brian2 has no hook that runs after ``Network.run``; the out-of-range report
  wraps ``Network.after_run`` once. On cpp_standalone, where the run happens
  in the compiled binary, the report is C++ code inserted after each network
  run with the public ``device.insert_code``.
"""

import time
import weakref

from brian2.core.base import BrianObject
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.core.network import Network
from brian2.core.variables import Constant, Variable
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.devices.device import all_devices, get_device
from brian2.groups.neurongroup import StateUpdater
from brian2.units.fundamentalunits import Quantity, get_unit

__all__ = ["register_function", "report_range_in_standalone", "resolve_constants", "standalone_samples",
           "GroupNamespace", "set_state_update_hook", "live_objects", "time_runs", "run_times", "standalone_run_time",
           "seed_standalone_device"]


def register_function(function):
    """Make ``function`` resolvable by its name in every group's equations."""
    DEFAULT_FUNCTIONS[function.name] = function


#: The run namespaces of the networks preparing a run (innermost last).
_run_namespaces = []


def _wrap_once(cls, name, wrap):
    """Replace the method ``cls.name`` by ``wrap(method)``, once per process (a reload must not wrap twice)."""
    method = getattr(cls, name)
    if not getattr(method, "_lut4brian", False):
        wrapped = wrap(method)
        wrapped._lut4brian = True
        setattr(cls, name, wrapped)


def _remember_run_namespace(before_run):
    def before_run_remembering_namespace(self, run_namespace):
        _run_namespaces.append(run_namespace)
        try:
            return before_run(self, run_namespace)
        finally:
            _run_namespaces.pop()

    return before_run_remembering_namespace


_wrap_once(Network, "before_run", _remember_run_namespace)


def resolve_constants(owner, names):
    """
    The values (`Quantity`) of the external constants ``names`` as Brian2
    resolves them for the code of ``owner`` in the run being prepared, or
    ``None`` for a name it cannot resolve there (or outside a run). A
    monitor's code reads its source group's subexpressions, so a monitor
    resolves them like its source.
    """
    group = getattr(owner, "source", owner)
    if not _run_namespaces or not hasattr(group, "resolve_all"):
        return dict.fromkeys(names)
    values = {}
    for name in names:
        try:
            variable = group.resolve_all([name], _run_namespaces[-1], user_identifiers=set())[name]
            values[name] = Quantity(variable.get_value(), dim=variable.dim)
        except (KeyError, TypeError, AttributeError):
            values[name] = None
    return values


def standalone_samples(owner):
    """``{array name: samples}`` generated for the code of ``owner`` on a standalone device."""
    samples = getattr(owner, "_lut4brian_samples", None)
    if samples is None:
        samples = {}
        owner._lut4brian_samples = samples
    return samples


#: Every table and grid index alive (they add themselves), for the range report after each run.
live_tables = weakref.WeakSet()


def _report_after_run(after_run):
    def after_run_with_report(self, *args, **kwargs):
        result = after_run(self, *args, **kwargs)
        for table in list(live_tables):
            table.report_range()
        return result

    return after_run_with_report


_wrap_once(Network, "after_run", _report_after_run)


def report_range_in_standalone(table):
    """On cpp_standalone, print the out-of-range report of a table (or grid index) after each run."""
    device = get_device()
    # brian2cuda's device derives from cpp_standalone, but its tables live on
    # the GPU and keep no record (see lut4brian.cuda).
    if not isinstance(device, CPPStandaloneDevice) or "cuda" in type(device).__name__.lower():
        return
    record = f"brian::{table.name}_range"
    unit = str(get_unit(table.arg_dim))
    low, high = (repr(bound) for bound in table.bounds_)
    code = f"""
    if ({record}[0] < {low} || {record}[1] > {high}) {{
        std::cout << "WARNING lut4brian: the argument of {table.subject} left its grid "
                  << "[{low}, {high}] {unit} (reached";
        if ({record}[0] < {low}) std::cout << " " << {record}[0] << " {unit}";
        if ({record}[1] > {high}) std::cout << " " << {record}[1] << " {unit}";
        std::cout << "); values there were clamped to the end of the grid." << std::endl;
    }}
    {record}[0] = {low};
    {record}[1] = {high};
"""
    if code not in device.code_lines["after_network_run"]:
        device.insert_code("after_network_run", code)


class GroupVariable:
    """A name that is a variable of the group (an array, a subexpression), not a constant."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"GroupVariable({self.name!r})"


class GroupNamespace:
    """
    The external names of ``group`` in the run being prepared (namespace
    ``run_namespace``), as a read-only mapping for `lut4brian.tabulate`:
    a constant's value (`Quantity`), a function, or, for a name that is one
    of the group's variables, a `GroupVariable` (not a constant).
    """

    def __init__(self, group, run_namespace):
        self.group, self.run_namespace = group, run_namespace
        self._cache = {}

    def _lookup(self, name):
        if name not in self._cache:
            try:
                variable = self.group.resolve_all([name], self.run_namespace, user_identifiers=set())[name]
            except KeyError:
                variable = None
            if isinstance(variable, Constant):
                variable = Quantity(variable.get_value(), dim=variable.dim)
            elif isinstance(variable, Variable):
                variable = GroupVariable(name)
            self._cache[name] = variable
        return self._cache[name]

    def __contains__(self, name):
        return self._lookup(name) is not None

    def __getitem__(self, name):
        value = self._lookup(name)
        if value is None:
            raise KeyError(name)
        return value

    def constants(self, names):
        """``{name: value}`` for those of ``names`` that resolve to single numbers (the table-relevant ones)."""
        values = {name: self._lookup(name) for name in sorted(names)}
        return {name: value for name, value in values.items() if isinstance(value, Quantity)}


#: The function that `StateUpdater.update_abstract_code` hands each group to (none: Brian2's own code).
_state_update_hook = []


def set_state_update_hook(hook):
    """
    Have ``hook(updater, run_namespace, generate)`` make the state-update
    code of every `NeuronGroup` (and `SpatialNeuron`) from now on;
    ``generate(equations=None, method=None)`` runs Brian2's own
    ``update_abstract_code`` with other equations and integrator (``None``:
    the group's). ``hook=None`` restores Brian2's code.
    """
    _state_update_hook[:] = [] if hook is None else [hook]


def _state_update_with_hook(update_abstract_code):
    def update_abstract_code_with_hook(self, run_namespace):
        if not _state_update_hook:
            return update_abstract_code(self, run_namespace)

        def generate(equations=None, method=None):
            group = self.group
            exact = group.equations, self.method_choice
            # Brian2 reads the equations from the group in this method; they are the
            # group's again as soon as its code is made.
            group.equations = exact[0] if equations is None else equations
            self.method_choice = exact[1] if method is None else method
            try:
                return update_abstract_code(self, run_namespace)
            finally:
                group.equations, self.method_choice = exact

        return _state_update_hook[0](self, run_namespace, generate)

    return update_abstract_code_with_hook


_wrap_once(StateUpdater, "update_abstract_code", _state_update_with_hook)


def live_objects(kind):
    """Every live Brian2 object of class ``kind`` (e.g. `SpikeMonitor`), by name."""
    objects = [ref() for ref in BrianObject.__instances__()]
    return sorted((obj for obj in objects if isinstance(obj, kind)), key=lambda obj: obj.name)


#: ``(wall, loop)`` seconds of every `Network.run` since `time_runs` was called:
#: the whole call, and the simulation loop alone (without code generation and
#: compilation; Brian2's ``device._last_run_time``, ``None`` on a standalone device).
run_times = []


def time_runs():
    """Record the duration of every `Network.run` from now on in `run_times`."""
    _wrap_once(Network, "run", _timed)


def _timed(run):
    def timed_run(self, *args, **kwargs):
        # Brian2 finds the run namespace `level` frames above Network.run: one more now
        if len(args) < 6:
            kwargs["level"] = kwargs.get("level", 0) + 1
        start = time.perf_counter()
        result = run(self, *args, **kwargs)
        device = get_device()
        loop = None if isinstance(device, CPPStandaloneDevice) else getattr(device, "_last_run_time", None)
        run_times.append((time.perf_counter() - start, loop))
        return result

    return timed_run


def standalone_run_time():
    """The binary run time (s) of the last cpp_standalone build, or ``None``."""
    device = get_device()
    return getattr(device, "_last_run_time", None) if isinstance(device, CPPStandaloneDevice) else None


def seed_standalone_device(seed):
    """Seed the cpp_standalone device before a script switches to it (its first instruction)."""
    all_devices["cpp_standalone"].seed(seed)
