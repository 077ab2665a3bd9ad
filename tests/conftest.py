import os

import pytest
from brian2 import defaultclock, device, ms, prefs, set_device
from brian2.devices.device import reinit_devices, reset_device

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["numpy", "cython", "cpp_standalone"]


def _defaults():
    # Compiled cython modules go to the build folder, never the home directory.
    prefs.codegen.runtime.cython.cache_dir = os.path.join(ROOT, "build", "cython_cache")
    prefs.codegen.target = "numpy"
    prefs.codegen.runtime.numpy.discard_units = False
    defaultclock.dt = 0.1 * ms


@pytest.fixture(autouse=True)
def brian_defaults():
    """Every test starts on the runtime device with the numpy target and dt = 0.1 ms."""
    _defaults()
    yield
    # A standalone project that was built and run must be forgotten, or the
    # next test using cpp_standalone finds it "already run"; reinit_devices
    # also resets the preferences, so the defaults are set again at once.
    reset_device("runtime")
    reinit_devices()
    _defaults()


def use_target(target, directory, build_on_run=True):
    """Select a Brian2 target; cpp_standalone builds into ``directory``."""
    if target == "cpp_standalone":
        set_device("cpp_standalone", directory=str(directory), build_on_run=build_on_run)
    else:
        prefs.codegen.target = target


def build(target, directory):
    """Build and run a cpp_standalone project set up with ``build_on_run=False``."""
    if target == "cpp_standalone":
        device.build(directory=str(directory))
