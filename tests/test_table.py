"""The Table function: interpolation, clamping, units and the range report, on every target."""

import numpy as np
import pytest
from brian2 import DimensionMismatchError, Hz, NeuronGroup, StateMonitor, ms, mV, run, volt
from brian2.utils.logger import catch_logs
from conftest import TARGETS, build, use_target

from lut4brian import Table, Table2D
from lut4brian._brian_internals import register_function


def make_table(name=None):
    grid = np.arange(-100, 50.5, 0.5) * mV
    return Table(np.tanh(np.asarray(grid) * 30) * Hz + 5 * Hz, low=-100 * mV, step=0.5 * mV, name=name)


def reference(table, x):
    """np.interp with clamping, as a reference (the table itself never uses it)."""
    return np.interp(x, np.asarray(table.grid), np.asarray(table.values))


def test_values_and_units():
    table = make_table()
    x = np.linspace(-0.12, 0.07, 1001)
    assert np.allclose(np.asarray(table(x * volt)), reference(table, x), rtol=1e-12, atol=1e-12)
    assert np.allclose(np.asarray(table(table.grid)), np.asarray(table.values), rtol=1e-14)
    assert table(-30 * mV).dim == Hz.dim
    assert np.isnan(float(table(np.nan * mV)))
    with pytest.raises(DimensionMismatchError):
        table(3 * ms)


def test_set_values_in_place():
    table = Table([1.0, 2.0, 3.0] * Hz, low=0 * mV, step=1 * mV)
    table.set_values([3.0, 2.0, 1.0] * Hz)
    assert float(table(1.5 * mV)) == pytest.approx(1.5) and float(table(5 * mV)) == 1.0  # clamped to the new end
    surface = Table2D(np.zeros((2, 3)), low=(0 * mV, 0 * mV), step=(1 * mV, 1 * mV))
    surface.set_values(np.arange(6.0).reshape(2, 3))
    assert float(surface(1 * mV, 5 * mV)) == 5.0  # the repeated last row and column follow
    with pytest.raises(ValueError, match=r"needs values of shape \(2, 3\), got shape \(3, 2\)"):
        surface.set_values(np.zeros((3, 2)))
    with pytest.raises(DimensionMismatchError):
        table.set_values([1.0, 2.0, 3.0] * mV)
    with pytest.raises(ValueError, match="not all finite"):
        table.set_values([1.0, np.nan, 3.0] * Hz)


def test_bad_tables():
    with pytest.raises(ValueError, match="not all finite"):
        Table([1.0, np.inf], low=0 * mV, step=1 * mV)
    with pytest.raises(ValueError, match="at least two values"):
        Table([1.0], low=0 * mV, step=1 * mV)
    with pytest.raises(ValueError, match="must be positive"):
        Table([1.0, 2.0], low=0 * mV, step=-1 * mV)
    with pytest.raises(DimensionMismatchError):
        Table([1.0, 2.0], low=0 * mV, step=1 * ms)


def test_unique_names():
    names = {make_table().name for _ in range(3)}
    assert len(names) == 3


@pytest.mark.parametrize("target", TARGETS)
def test_targets_interpolate_clamp_and_report(target, tmp_path, capfd):
    use_target(target, tmp_path, build_on_run=False)
    table = make_table()
    register_function(table)
    x = np.array([-0.2, -0.1, -0.0301, -0.01234, 0.0, 0.04999, 0.05, 0.3])
    group = NeuronGroup(len(x), "y = table_value(v) : Hz\nv : volt".replace("table_value", table.name))
    group.v = x * volt
    monitor = StateMonitor(group, "y", record=True)
    with catch_logs(only_from=("lut4brian",)) as logs:
        run(0.2 * ms)
        run(0.2 * ms)
        build(target, tmp_path)
    y = np.asarray(monitor.y)[:, 0]
    assert np.allclose(y, reference(table, x), rtol=1e-12, atol=1e-12)
    if target == "cpp_standalone":
        out = capfd.readouterr().out
        reports = [line for line in out.splitlines() if f"table '{table.name}' left its grid" in line]
    else:
        reports = [msg for _, _, msg in logs if f"table '{table.name}' left its grid" in msg]
    assert len(reports) == 2, reports  # once per run
    reached = ("-0.2 V", "0.3 V") if target == "cpp_standalone" else ("-200. mV", "300. mV")
    assert all(value in reports[0] for value in reached), reports[0]


@pytest.mark.parametrize("target", TARGETS)
def test_table_by_any_name_in_a_group_namespace(target, tmp_path):
    """Like a TimedArray: the table reaches the equations under the user's own name."""
    use_target(target, tmp_path)
    table = make_table()
    x = np.array([-0.08, -0.0301, 0.01])
    group = NeuronGroup(len(x), "y = rate(v) : Hz\nv : volt", namespace={"rate": table})
    group.v = x * volt
    monitor = StateMonitor(group, "y", record=True)
    run(0.1 * ms)
    assert np.allclose(np.asarray(monitor.y)[:, 0], reference(table, x), rtol=1e-12)
