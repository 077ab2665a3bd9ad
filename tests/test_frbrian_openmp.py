"""
RateNetwork on cpp_standalone with OpenMP: the coupling runs outside the
parallel loop over the units, so any thread count gives numpy's numbers, the
same in every run.
"""

import glob
import os

import numpy as np
import pytest
from brian2 import Network, defaultclock, device, ms, prefs, set_device
from brian2.devices.device import reset_device

from frbrian import Coupling, DenseCoupling, Gaussian, Grid, power_law
from frbrian.rate_network import RateNetwork

STEPS = 100
TAU = 8e-3  # s


def grid():
    return Coupling(Grid((21,)), [[1.0, -1.0], [1.0, -0.5]], Gaussian(0.2))


def wide_dense():
    # more than 10^6 weights: the product is shared among the OpenMP threads
    n = 1100
    return DenseCoupling(np.random.default_rng(1).normal(0, 0.5 / np.sqrt(n), (n, n)))


COUPLINGS = {"dense": wide_dense, "grid": grid}


def drive_of(c):
    return 0.3 + 0.1 * np.arange(c.types * c.size).reshape(c.types, c.size) / (c.types * c.size)


def numpy_euler(c, steps, dt=1e-4):
    r, drive = np.zeros((c.types, c.size)), drive_of(c)
    for _ in range(steps):
        r = r + dt * (-r + power_law()(c(r) + drive)) / TAU
    return r


def run_standalone(directory, threads, runs, vectorise=True):
    """
    The rates after ``STEPS`` steps of every network in ``COUPLINGS``, built
    once with ``threads`` OpenMP threads and run ``runs`` times (a race shows
    in some runs only), and the C++ source of each network's coupling.
    """
    set_device("cpp_standalone", directory=str(directory), build_on_run=True)
    prefs.devices.cpp_standalone.openmp_threads = threads
    flags = list(prefs.codegen.cpp.extra_compile_args_gcc)
    if not vectorise:
        prefs.codegen.cpp.extra_compile_args_gcc = flags + ["-fno-tree-vectorize"]
    defaultclock.dt = 0.1 * ms
    try:
        networks = {key: RateNetwork(make(), tau=TAU * 1000 * ms, transfer=power_law(), drive=drive_of(make()))
                    for key, make in COUPLINGS.items()}
        Network(*networks.values()).run(STEPS * defaultclock.dt)
        results = []
        for run in range(runs):
            if run:
                device.run(str(directory), with_output=False)
            results.append({key: np.stack([np.array(g.r_) for g in net.groups]) for key, net in networks.items()})
        sources = {}
        for key, net in networks.items():
            # Brian2 appends _1, _2, ... to a code object's name that an earlier build still holds
            [path] = glob.glob(os.path.join(str(directory), "code_objects", f"{net.name}_coupling_codeobject*.cpp"))
            with open(path) as file:
                sources[key] = (net.name, file.read())
        return results, sources
    finally:
        prefs.codegen.cpp.extra_compile_args_gcc = flags
        device.reinit()
        device.activate()
        reset_device("runtime")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Per (threads, vectorise): every run's rates and the coupling's source (threads 0: without OpenMP)."""
    return {(threads, vectorise): run_standalone(tmp_path_factory.mktemp(f"omp{threads}{vectorise}"), threads,
                                                 runs=5 if threads > 1 else 1, vectorise=vectorise)
            for threads, vectorise in ((0, True), (8, True), (1, False), (2, False), (8, False))}


def test_the_coupling_runs_once_outside_the_parallel_loop(builds):
    """Inside Brian2's per-unit OpenMP loop, one unit would compute the inputs while other threads use them."""
    for (threads, _), (_, sources) in builds.items():
        for key, (name, source) in sources.items():
            run_function = source[source.index("void _run_"):]
            serial, *loop = run_function.split("#pragma omp parallel for")
            assert f"{name}_couple(t)" in serial, (key, threads)
            assert not any(f"{name}_couple(" in part for part in loop), (key, threads)
            # the dense product uses Brian2's threads, none of its own
            assert "std::thread" not in source
            parallel_product = f"{name}_couple_compute()" in source and "#pragma omp" in source.split("void _run_")[0]
            assert parallel_product == (key == "dense" and threads > 0), (key, threads)


@pytest.mark.parametrize("threads", [2, 8])
def test_every_thread_count_gives_the_same_bits(builds, threads):
    """Without vectorisation: with it, a unit's rounding depends on whether it falls in a vector or in the
    scalar remainder of a thread's share of Brian2's loop (not an OpenMP matter, see the next test)."""
    one = builds[1, False][0][0]
    for run, rates in enumerate(builds[threads, False][0]):
        for key in COUPLINGS:
            assert np.array_equal(rates[key], one[key]), (key, threads, run)


def test_with_brian2s_default_flags_runs_repeat_and_agree_to_rounding(builds):
    without_openmp = builds[0, True][0][0]
    for run, rates in enumerate(builds[8, True][0]):
        for key in COUPLINGS:
            assert np.array_equal(rates[key], builds[8, True][0][0][key]), (key, run)
            assert np.allclose(rates[key], without_openmp[key], rtol=1e-15, atol=0), (key, run)


@pytest.mark.parametrize("build", [(0, True), (8, True), (1, False), (2, False), (8, False)])
def test_matches_numpy(builds, build):
    for key, make in COUPLINGS.items():
        reference = numpy_euler(make(), STEPS)
        assert np.abs(reference).max() > 0.1
        for rates in builds[build][0]:
            assert np.allclose(rates[key], reference, rtol=1e-12, atol=1e-14), (key, build)
