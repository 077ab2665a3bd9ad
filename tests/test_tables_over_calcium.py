"""
Tables over variables other than v and over two variables: logarithmic grids
for concentrations, bilinear `Table2D`, and a cell with calcium dynamics and
calcium-dependent K channels (lut4brian.models.calcium_cell) against its exact
equations.
"""

import numpy as np
import pytest
from brian2 import (
    Network, NeuronGroup, SpikeMonitor, StateMonitor, defaultclock, mM, ms, mV, prefs, volt,
)
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.units.fundamentalunits import DimensionMismatchError
from brian2.utils.logger import catch_logs
from conftest import TARGETS, build, use_target

from lut4brian import Table2D, log_grid, models, report, tabulate
from lut4brian.grid import Grid, coarsest_grid


def bilinear(v_mV, c_mM):
    """A function that bilinear interpolation in (v, log c) reproduces exactly."""
    return 2.0 * v_mV * np.log(c_mM) + v_mV - 3.0 * np.log(c_mM)


@pytest.mark.parametrize("target", TARGETS)
def test_a_2d_table_interpolates_bilinearly_on_every_target(target, tmp_path, capfd):
    use_target(target, tmp_path / "standalone", build_on_run=False)
    v, c = np.arange(-100, 51, 2.0), 1e-5 * 10 ** (np.arange(41) / 10)
    f = Table2D(bilinear(v[:, None], c[None, :]), low=(-100 * mV, 1e-5 * mM), step=(2 * mV, 10**0.1),
                log=(False, True), name="lut_f2d")
    group = NeuronGroup(5, "y = lut_f2d(v, c) : 1\nv : volt\nc : mmolar", namespace={"lut_f2d": f})
    group.v = [-70.3, -21.1, 10, 49.9, -250] * mV
    group.c = [2e-4, 3.3e-3, 1e-5, 9e-2, 10] * mM
    monitor = StateMonitor(group, "y", record=True, when="end")
    with catch_logs(only_from=("lut4brian",)) as logs:
        Network(group, monitor).run(0.2 * ms)
        build(target, tmp_path / "standalone")
    expected = bilinear(np.clip([-70.3, -21.1, 10, 49.9, -250], -100, 50),
                        np.clip([2e-4, 3.3e-3, 1e-5, 9e-2, 10], 1e-5, 0.1))
    np.testing.assert_allclose(monitor.y[:, -1], expected, rtol=1e-10, atol=1e-10)
    if target == "cpp_standalone":  # the binary prints the report
        reports = [line for line in capfd.readouterr().out.splitlines() if "left its grid" in line]
    else:
        reports = [message for _, _, message in logs if "left its grid" in message]
    assert len(reports) == 2 and all("'lut_f2d'" in report for report in reports)  # both axes


def test_direct_calls_take_units_and_propagate_nan():
    v, c = np.arange(-100, 51, 2.0), 1e-5 * 10 ** (np.arange(41) / 10)
    f = Table2D(bilinear(v[:, None], c[None, :]) * mV, low=(-100 * mV, 1e-5 * mM), step=(2 * mV, 10**0.1),
                log=(False, True))
    assert abs(float(f(-33 * mV, 4e-3 * mM) / mV) - bilinear(-33, 4e-3)) < 1e-10
    assert np.isnan(np.asarray(f(np.nan * mV, 1e-3 * mM))).all()
    with pytest.raises(DimensionMismatchError, match="second argument"):
        f(-33 * mV, 4e-3 * mV)


def test_separable_parts_get_1d_tables_and_inseparable_ones_a_2d_table():
    lut = tabulate("""dq/dt = alpha*(1 - q) - beta*q : 1
                      alpha = 1/ms/(1 + exp(-v/(10*mV))*mM/Ca) : Hz
                      beta = exp(-v/(20*mV))/ms * 1/(1 + Ca/mM) : Hz
                      v : volt
                      Ca : mmolar""", v=(-100 * mV, 50 * mV, 0.5 * mV), Ca=log_grid(1e-5 * mM, 1 * mM, points=101))
    assert "lut_q_rate" in lut["q"].expr.code and "(v, Ca)" in lut["q"].expr.code
    single = tabulate("""dn/dt = (n_inf - n)/tau : 1
                         n_inf = 1/(1 + exp(-v/(5*mV))) * 1/(1 + (Ca/(0.01*mM))**2) : 1
                         tau = 1*ms : second
                         v : volt
                         Ca : mmolar""", v=(-100 * mV, 50 * mV, 0.5 * mV), Ca=log_grid(1e-5 * mM, 1 * mM, points=101))
    code = single["n"].expr.code
    assert "(v, Ca)" not in code and code.count("(v)") == 1 and code.count("(Ca)") == 1
    info = {i.name: i for i in report(lut)}
    two_d = next(i for name, i in info.items() if name.startswith("lut_q_rate"))
    assert two_d.points == 301 * 101 and two_d.log == (False, True)
    assert two_d.max_rel_error < 1e-2


def test_a_log_grid_needs_a_tenth_of_the_points_of_a_uniform_one():
    """Along [Ca], for the same tolerance, as tabulate chooses them (the most any slice of v needs)."""
    equations, namespace = models.calcium_cell()
    w_inf = "(Ca_i/(0.025*mM))**2/(1 + (Ca_i/(0.025*mM))**2)"
    beta_q = "0.28/ms/(1 + Ca_i/(0.011*mM*exp(-2*1.0*v/u_T)))"
    units = {"mM": mM, "ms": ms, "u_T": namespace["u_T"]}
    for code in (w_inf, beta_q):
        sizes = [max(coarsest_grid(code, grid, dict(units, v=v * mV), DEFAULT_FUNCTIONS, 1e-4, 1e-6).size
                     for v in (-80, -40, 0, 40))
                 for grid in (Grid("Ca_i", 1e-5 * mM, 1 * mM, None), Grid("Ca_i", 1e-5 * mM, 1 * mM, None, log=True))]
        assert sizes[1] * 10 <= sizes[0], (code, sizes)


def calcium_spikes(equations, method, namespace, cells=8):
    group = NeuronGroup(cells, equations, method=method, threshold="v > -20*mV", refractory="v > -20*mV",
                        namespace=namespace)
    group.v, group.Ca_i = -65 * mV, namespace["Ca_rest"]
    group.I = "(1 + 9.0*i/N)*uA/cm**2"
    spikes, calcium = SpikeMonitor(group), StateMonitor(group, "Ca_i", record=True, dt=1 * ms)
    Network(group, spikes, calcium).run(1000 * ms)
    return spikes.spike_trains(), np.asarray(calcium.Ca_i)


def test_calcium_cell_keeps_its_spikes_over_one_second():
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.01 * ms
    equations, namespace = models.calcium_cell()
    lut = tabulate(equations, v=(-100 * mV, 100 * mV), Ca_i=log_grid(1e-5 * mM, 1 * mM), tolerance=1e-5,
                   namespace=namespace)
    assert "lut_q_rate" in lut["q"].expr.code and "(v, Ca_i)" in lut["q"].expr.code
    assert "lut_w_inf" in lut["w"].expr.code
    group = NeuronGroup(1, lut, method="lut_exponential_euler", namespace=namespace)
    Network(group).run(defaultclock.dt)
    update_q = next(line for line in group.state_updater.abstract_code.splitlines() if line.startswith("_q ="))
    assert "exp" not in update_q and "(v, Ca_i)" in update_q  # the BK gate's exact step from 2-D step tables
    exact, calcium = calcium_spikes(equations, "exponential_euler", namespace)
    tabulated, _ = calcium_spikes(lut, "lut_exponential_euler", namespace)
    assert calcium.max() / calcium.min() > 100  # calcium spans more than two decades
    assert sum(len(t) for t in exact.values()) > 500
    for i, times in exact.items():
        assert len(tabulated[i]) == len(times)
        assert np.rint(np.abs(tabulated[i] - times) / defaultclock.dt).max() <= 2  # time steps


def test_bad_logarithmic_grids():
    with pytest.raises(ValueError, match="0 < low < high"):
        log_grid(0 * mM, 1 * mM)
    with pytest.raises(ValueError, match="at least 2 points"):
        log_grid(1e-5 * mM, 1 * mM, points=1)
    eqs = "dw/dt = (1/(1 + (Ca/(0.01*mM))**2) - w)/ms : 1\nCa : mmolar"
    with pytest.raises(TypeError, match="its points"):
        tabulate(eqs, Ca=log_grid(1e-5 * mM, 1 * mM))
    with pytest.raises(DimensionMismatchError, match="variable's unit"):
        tabulate(eqs, Ca=log_grid(1e-5 * volt, 1 * volt, points=50))
