"""pytest set-up shared by the tests and the doctests of the packages."""

import os

from brian2 import prefs


def pytest_configure(config):
    # Brian2's 'auto' target compiles with cython when it can; its modules go
    # to the build folder, never the home directory.
    prefs.codegen.runtime.cython.cache_dir = os.path.join(os.path.dirname(__file__), "build", "cython_cache")
