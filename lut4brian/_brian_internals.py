"""
Every place where lut4brian reaches into Brian2 beyond its public API.

Brian2 offers no public extension point for the two things below, so they are
kept here, small and in one place:

* Names in equations are resolved at ``run()`` from the group's namespace,
  the caller's namespace and Brian2's default functions. Tables are entered
  into the default functions (under unique names) so that tabulated equations
  work in any script or function with no ``namespace=`` argument.
* Brian2 has no hook that runs after ``Network.run``; the out-of-range report
  wraps ``Network.after_run`` once. On cpp_standalone, where the run happens
  in the compiled binary, the report is C++ code inserted after each network
  run with the public ``device.insert_code``.
"""

from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.core.network import Network
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.devices.device import get_device
from brian2.units.fundamentalunits import get_unit

__all__ = ["register_function", "report_range_in_standalone"]


def register_function(function):
    """Make ``function`` resolvable by its name in every group's equations."""
    DEFAULT_FUNCTIONS[function.name] = function


def _report_after_run(after_run):
    def after_run_with_report(self, *args, **kwargs):
        result = after_run(self, *args, **kwargs)
        from .table import _live_tables

        for table in list(_live_tables):
            table.report_range()
        return result

    after_run_with_report._lut4brian = True
    return after_run_with_report


if not getattr(Network.after_run, "_lut4brian", False):
    Network.after_run = _report_after_run(Network.after_run)


def report_range_in_standalone(table):
    """On cpp_standalone, print the out-of-range report of a table (or grid index) after each run."""
    device = get_device()
    # brian2cuda's device derives from cpp_standalone, but its tables live on
    # the GPU and keep no record (see lut4brian.cuda).
    if not isinstance(device, CPPStandaloneDevice) or "cuda" in type(device).__name__.lower():
        return
    record = f"brian::{table.name}_range"
    unit = str(get_unit(table.arg_dim))
    low, high = f"{table.low_!r}", f"{table.high_!r}"
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
