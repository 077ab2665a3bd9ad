"""
Tests of `lut4brian.compat`, the layer for scripts written for lut4brian 0.1.0.

The Wang-Buzsaki model below is 0.1.0's own example script (tests/test-c-tbl.py
there), written the 0.1.0 way; it is compared with the same model written
directly in Brian2 equations, on every target.
"""

import os

import numpy as np
import pytest
from brian2 import (
    Network,
    NeuronGroup,
    StateMonitor,
    array,
    defaultclock,
    exp,
    exprel,
    linspace,
    mS,
    ms,
    mV,
    prefs,
    uA,
    uF,
)
from brian2.devices.device import device, reset_device, set_device

try:  # the 0.1.0 way, once the package exports the compatibility layer
    from lut4brian import lut4brian, lutinit, lutinterpol
except ImportError:
    import lut4brian.compat as lut4brian
    from lut4brian.compat import lutinit, lutinterpol

TARGETS = ["numpy", "cython", "cpp_standalone"]
DT = 0.01 * ms
DURATION = 100 * ms
CURRENTS = [0.5, 1.0, 2.0] * uA

# The Wang-Buzsaki tables of 0.1.0's example, on a 1 mV grid.
X = linspace(-100, 50, 151)


def wb_tables(x):
    alpha_m = 0.1 * 10.0 / exprel(-(x + 35.0) / (10.0))
    beta_m = 4 * exp(-(x + 60.0) / (18.0))
    minf = alpha_m / (alpha_m + beta_m)
    alpha_h = 0.07 * exp(-(x + 58.0) / (20.0))
    beta_h = 1.0 / (exp(-0.1 * (x + 28.0)) + 1.0)
    htau = 1.0 / (alpha_h + beta_h)
    hinf = alpha_h * htau
    alpha_n = 0.01 * 10 / exprel(-(x + 34.0) / (10.0))
    beta_n = 0.125 * exp(-(x + 44.0) / (80.0))
    ntau = 1.0 / (alpha_n + beta_n)
    ninf = alpha_n * ntau
    return array([minf, hinf, htau, ninf, ntau])


# Constants as 0.1.0's script has them: found by Brian2 in the caller's
# namespace at run(), like lutinterpol itself.
Cm, gL, EL, ENa, EK, gNa, gK = 1 * uF, 0.1 * mS, -65 * mV, 55 * mV, -90 * mV, 35 * mS, 9 * mS
WB_COMMON = """
dv/dt = (-gNa*minf**3*h*(v-ENa)-gK*n**4*(v-EK)-gL*(v-EL)+I)/Cm : volt
dh/dt = 5*(hinf-h)/htau/ms : 1
dn/dt = 5*(ninf-n)/ntau/ms : 1
I : amp
"""
WB_LUT = WB_COMMON + """
minf = lutinterpol(v/mV,0) : 1
hinf = lutinterpol(v/mV,1) : 1
htau = lutinterpol(v/mV,2) : 1
ninf = lutinterpol(v/mV,3) : 1
ntau = lutinterpol(v/mV,4) : 1
"""
# The expressions the tables were made from, with htau and ntau in ms.
WB_EXACT = WB_COMMON + """
alpha_m = 0.1/mV*10*mV/exprel(-(v+35*mV)/(10*mV)) : 1
beta_m = 4*exp(-(v+60*mV)/(18*mV)) : 1
minf = alpha_m/(alpha_m+beta_m) : 1
alpha_h = 0.07*exp(-(v+58*mV)/(20*mV)) : 1
beta_h = 1./(exp(-0.1/mV*(v+28*mV))+1) : 1
htau = 1/(alpha_h+beta_h) : 1
hinf = alpha_h*htau : 1
alpha_n = 0.01/mV*10*mV/exprel(-(v+34*mV)/(10*mV)) : 1
beta_n = 0.125*exp(-(v+44*mV)/(80*mV)) : 1
ntau = 1/(alpha_n+beta_n) : 1
ninf = alpha_n*ntau : 1
"""


def set_wb_table():
    lut4brian.Xmin = -100.0
    lut4brian.Xmax = 50.0
    lut4brian.dX = 1.0
    lut4brian.tbl = wb_tables(X)


def check_points(seed=1):
    """Points inside and outside the grid, on grid points and at the ends."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-130, 80, 200), [-100.0, 50.0, -100.5, 50.5, -37.0, -36.999999]])
    k = rng.integers(0, 5, len(x)).astype(np.int32)
    return x, k


def interp_reference(x, k):
    table = wb_tables(X)
    return np.array([np.interp(xi, X, table[ki]) for xi, ki in zip(x, k)])


@pytest.fixture(autouse=True)
def keep_module_variables():
    saved = [getattr(lut4brian, name) for name in ("Xmin", "Xmax", "dX", "tbl")]
    yield
    for name, value in zip(("Xmin", "Xmax", "dX", "tbl"), saved):
        setattr(lut4brian, name, value)


class use_target:
    """Run Brian2 on ``target`` in ``directory`` (the cwd), then restore everything."""

    def __init__(self, target, directory, build_on_run=True):
        self.target, self.directory = target, str(directory)
        self.build_on_run = build_on_run

    def __enter__(self):
        self.cwd = os.getcwd()
        os.chdir(self.directory)
        if self.target == "cpp_standalone":
            standalone_dir = os.path.join(self.directory, "standalone_output")
            set_device("cpp_standalone", directory=standalone_dir, build_on_run=self.build_on_run)
        else:
            prefs.codegen.target = self.target
        defaultclock.dt = DT
        return self

    def __exit__(self, *exc):
        if self.target == "cpp_standalone":
            device.reinit()
            device.activate()
            reset_device()
        prefs.codegen.target = "numpy"
        defaultclock.dt = 0.1 * ms
        os.chdir(self.cwd)


def wb_group(equations):
    group = NeuronGroup(
        3,
        equations,
        threshold="v>0*mV",
        refractory="v>0*mV",
        method="euler",
    )
    group.I = CURRENTS
    rest = wb_tables(np.array([-65.0]))[:, 0]
    group.v = -65 * mV
    group.h = rest[1]
    group.n = rest[3]
    return group


def simulate_script(target, directory):
    """0.1.0's example script plus a group that evaluates lutinterpol at check points."""
    with use_target(target, directory):
        before = sorted(os.listdir("."))
        set_wb_table()
        lutinit()
        lut, exact = wb_group(WB_LUT), wb_group(WB_EXACT)
        # Spikes are read from the v traces (see spike_times), which saves
        # the compilation of two SpikeMonitors.
        monitors = [StateMonitor(lut, "v", record=True), StateMonitor(exact, "v", record=True)]
        xs, ks = check_points()
        ks[:2] = [-1, 5]  # rows that do not exist
        xs[2] = np.nan
        points = NeuronGroup(len(xs), "x : 1\nk : integer\ny : 1")
        points.x, points.k = xs, ks
        points.run_regularly("y = lutinterpol(x, k)", when="start")
        Network(lut, exact, points, monitors).run(DURATION)
        return {
            "v": [np.asarray(m.v[:]) for m in monitors],
            "points": (xs, ks, np.asarray(points.y[:])),
            "new_files": sorted(set(os.listdir(".")) - set(before)),
        }


@pytest.fixture(scope="module")
def script_results(tmp_path_factory):
    """Run the script once per target (compiling is the slow part) and keep the results."""
    results = {}

    def get(target):
        if target not in results:
            directory = tmp_path_factory.mktemp(f"cwd_{target}")
            results[target] = simulate_script(target, directory)
        return results[target]

    return get


def spike_times(v):
    """Spike times (ms) per neuron: where v rises above 0 mV, as threshold and refractory say."""
    above = v > 0
    return [np.nonzero(row[1:] & ~row[:-1])[0] * float(DT / ms) for row in above]


@pytest.mark.parametrize("target", TARGETS)
def test_wb_script_matches_exact_model(target, script_results):
    result = script_results(target)
    lut_trains, exact_trains = (spike_times(v) for v in result["v"])
    assert [len(t) for t in lut_trains] == [len(t) for t in exact_trains]
    assert all(len(t) > 0 for t in exact_trains)
    # Measured on numpy with the 1 mV table: spike times differ by at most
    # 0.22 ms in 100 ms (the interpolation error shifts the phase slowly).
    # A table shifted by a quarter grid step (0.25 mV) already gives 0.2-2 ms
    # or a different spike count, a shift by a whole column (an indexing
    # error) changes the counts.
    for lut_times, exact_times in zip(lut_trains, exact_trains):
        np.testing.assert_allclose(lut_times, exact_times, atol=0.3)
    # Before the first spike (at 6.8 ms) the traces differ by at most 0.011 mV
    # (measured); shifting the table by a quarter step gives 0.04-0.27 mV, by
    # half a step 0.08-0.5 mV, by a whole step 0.15-1.8 mV. (Later, during the
    # spikes, tiny time shifts give differences of tens of mV, so the window
    # is kept short.)
    first_5ms = int(round(5 * ms / DT))
    lut_v, exact_v = result["v"]
    assert np.max(np.abs(lut_v - exact_v)[:, :first_5ms]) < 0.05e-3


@pytest.mark.parametrize("target", TARGETS[1:])
def test_targets_agree(target, script_results):
    reference = script_results("numpy")["v"][0]
    v = script_results(target)["v"][0]
    # Same arithmetic in every target; only rounding (and -ffast-math in the
    # compiled code) differ, and the dynamics damp rather than amplify it.
    np.testing.assert_allclose(v, reference, rtol=1e-9, atol=1e-9 * np.max(np.abs(reference)))


@pytest.mark.parametrize("target", TARGETS)
def test_lutinterpol_in_group(target, script_results):
    x, k, y = script_results(target)["points"]
    assert np.all(np.isnan(y[:3]))  # rows -1 and 5, and a NaN argument
    np.testing.assert_allclose(y[3:], interp_reference(x[3:], k[3:]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("target", TARGETS)
def test_no_file_written(target, script_results):
    expected = ["standalone_output"] if target == "cpp_standalone" else []
    assert script_results(target)["new_files"] == expected


def test_direct_calls_match_interp():
    set_wb_table()
    lutinit()
    x, k = check_points(seed=2)
    np.testing.assert_allclose(lutinterpol(x, k), interp_reference(x, k), rtol=1e-12, atol=1e-12)
    for row in range(5):  # one row for all points, as in the equations
        np.testing.assert_allclose(lutinterpol(x, row), np.interp(x, X, lut4brian.tbl[row]), rtol=1e-12, atol=1e-12)
    value = lutinterpol(-64.25, 2)
    assert np.ndim(value) == 0 and value == pytest.approx(np.interp(-64.25, X, lut4brian.tbl[2]), rel=1e-14)
    # The end values exactly, outside the grid and on its ends.
    assert lutinterpol(-1000.0, 3) == lut4brian.tbl[3, 0] == lutinterpol(-100.0, 3)
    assert lutinterpol(1000.0, 3) == lut4brian.tbl[3, -1] == lutinterpol(50.0, 3)
    assert np.isnan(lutinterpol(np.nan, 0))
    assert np.isnan(lutinterpol(0.0, 5)) and np.isnan(lutinterpol(0.0, -1))


@pytest.mark.parametrize("target", TARGETS)
def test_new_table_between_runs(target, tmp_path):
    x, k = check_points(seed=3)
    coarse = np.arange(-100.0, 51.0, 5.0)
    with use_target(target, tmp_path, build_on_run=False):
        set_wb_table()
        lutinit()
        points = NeuronGroup(len(x), "x : 1\nk : integer\ny : 1")
        points.x, points.k = x, k
        points.run_regularly("y = lutinterpol(x, k)", when="start")
        monitor = StateMonitor(points, "y", record=True)
        net = Network(points, monitor)
        net.run(DT)
        # Another table, on another grid: cpp_standalone builds both runs at
        # the end, each must still read its own table and grid.
        lut4brian.dX = 5.0
        lut4brian.tbl = 2 * wb_tables(coarse)
        lutinit()
        net.run(DT)
        if target == "cpp_standalone":
            device.build(directory=str(tmp_path / "standalone_output"))
        y = monitor.y[:]
    np.testing.assert_allclose(y[:, 0], interp_reference(x, k), rtol=1e-12, atol=1e-12)
    second = np.array([np.interp(xi, coarse, 2 * wb_tables(coarse)[ki]) for xi, ki in zip(x, k)])
    np.testing.assert_allclose(y[:, 1], second, rtol=1e-12, atol=1e-12)


def test_numpy_without_lutinit(tmp_path):
    x, k = check_points(seed=4)
    with use_target("numpy", tmp_path):
        set_wb_table()  # and no lutinit(), which 0.1.0 allowed on numpy
        points = NeuronGroup(len(x), "x : 1\nk : integer\ny : 1")
        points.x, points.k = x, k
        points.run_regularly("y = lutinterpol(x, k)", when="start")
        Network(points).run(DT)
        np.testing.assert_allclose(points.y[:], interp_reference(x, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"Xmin": None}, r"lut4brian\.Xmin is not set"),
        ({"tbl": None}, r"lut4brian\.tbl is not set"),
        ({"Xmin": 50.0, "Xmax": -100.0, "dX": 1.0}, r"Xmax \(-100\.0\) must be larger than lut4brian\.Xmin"),
        ({"dX": 0.0}, r"lut4brian\.dX must be positive"),
        ({"dX": -1.0}, r"lut4brian\.dX must be positive"),
        ({"dX": 2.0}, r"151 columns, but the grid .* has 76 points"),
        ({"tbl": wb_tables(X)[0]}, r"2-D array .* got shape \(151,\)"),
        ({"tbl": wb_tables(X).T}, r"5 columns, but the grid"),
        ({"tbl": wb_tables(X)[:, :1]}, r"at least two columns"),
        ({"tbl": np.where(X > 0, np.nan, wb_tables(X))}, r"not finite .* row\(s\) \[0, 1, 2, 3, 4\]"),
        ({"Xmin": "-100 mV"}, r"lut4brian\.Xmin must be a plain number"),
        ({"Xmax": np.inf}, r"lut4brian\.Xmax must be finite"),
    ],
)
def test_lutinit_rejects_bad_input(changes, message):
    set_wb_table()
    for name, value in changes.items():
        setattr(lut4brian, name, value)
    with pytest.raises(ValueError, match=message):
        lutinit()
    with pytest.raises(ValueError, match=message):  # direct calls check too
        lutinterpol(0.0, 0)


def test_lutinit_accepts_rounded_grid():
    set_wb_table()
    lut4brian.dX = 0.1
    lut4brian.Xmax = -100.0 + 150 * 0.1  # not exactly -85 in floating point
    lut4brian.tbl = wb_tables(X)
    lutinit()
