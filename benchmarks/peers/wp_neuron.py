"""
Work precision of NEURON on Brian2's COBAHH neuron: ``--neurons``
independent single-compartment cells (``traub.mod``, the rates tabulated
over v), cell k driven by a constant current ``wp_common.currents_nA``, all
starting at -65 mV with m = h = n = 0; the voltage of the compared cells
(``wp_common.subset``) recorded at every step and turned into spike times by
linear interpolation of the upward -20 mV crossing.

    benchmarks/peers/.venv-sims/bin/python benchmarks/peers/wp_neuron.py \\
        [--neurons 500] [--duration-ms 200] [--dt-ms 0.1 0.05 ...] [--secondorder 0 2] \\
        [--cvode-atol 1e-3 1e-5] [--repeats 3]

Prints one JSON line per configuration: ``simulator``, ``version``,
``config``, ``dt_ms`` (null for CVODE), ``run_s`` (the shortest of
``--repeats`` runs of ``ParallelContext.psolve``, one thread: the
initialisation and the table's construction are not timed), ``runs_s`` and
``spikes`` (``{cell: [ms, ...]}``). ``benchmarks/work_precision.py`` runs it
and computes the errors.

Differences from the Brian2 model: the cells are 20000 um2 cylinders with
cm = 1 uF/cm2 (the same 200 pF and the same conductances); NEURON has no
refractoriness (irrelevant here: Brian2's refractory period only blocks its
threshold, not the voltage); the rates come from ``traub.mod``'s table
(0.1 mV grid, linear interpolation, ``usetable_traub = 1``;
``--no-table`` computes them exactly); the gates follow ``cnexp``
(exponential Euler with frozen v) at ``secondorder = 0``, and are staggered
half a step from v at ``secondorder = 2`` (second order in dt). CVODE
(variable step, one error control over all cells, absolute tolerance
``--cvode-atol``, the recorded samples are its own steps) computes the rates
from the same table.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wp_common  # noqa: E402

MECHANISMS = os.path.join(wp_common.HERE, "nrnmech")  # where nrnivmodl compiles traub.mod (git ignores it)


def compile_mechanisms():
    """Compile ``traub.mod`` (NEURON's nrnivmodl, with the system's C++ compiler) unless already done."""
    source = os.path.join(wp_common.HERE, "traub.mod")
    library = os.path.join(MECHANISMS, "x86_64", "libnrnmech.so")
    if os.path.exists(library) and os.path.getmtime(library) > os.path.getmtime(source):
        return
    os.makedirs(MECHANISMS, exist_ok=True)
    with open(source) as original, open(os.path.join(MECHANISMS, "traub.mod"), "w") as copy:
        copy.write(original.read())
    nrnivmodl = os.path.join(os.path.dirname(sys.executable), "nrnivmodl")
    result = subprocess.run([nrnivmodl], cwd=MECHANISMS, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"nrnivmodl could not compile traub.mod:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def load_neuron(script=os.path.basename(__file__)):
    """``(neuron, h)`` with ``traub`` loaded and the standard run library (``script``: who asks, for the message)."""
    neuron = wp_common.need("neuron", script)
    compile_mechanisms()
    neuron.load_mechanisms(MECHANISMS)
    h = neuron.h
    h.load_file("stdrun.hoc")
    return neuron, h


def traub_cell(h, name, area_um2=20000.0):
    """One compartment of area ``area_um2`` (200 pF at 1 uF/cm2) with ``traub`` and COBAHH's reversal potentials."""
    cell = h.Section(name=name)
    cell.L = cell.diam = float(np.sqrt(area_um2 / np.pi))
    cell.nseg = 1
    cell.cm = 1.0
    cell.insert("traub")
    cell.ena, cell.ek = wp_common.COBAHH["E_Na"], wp_common.COBAHH["E_K"]
    return cell


def build(h, neurons):
    """The cells, their clamps (kept alive) and the compared cells' voltage recordings."""
    cells = [traub_cell(h, f"cell{k}") for k in range(neurons)]
    clamps = []
    for cell, amp in zip(cells, wp_common.currents_nA(neurons)):
        clamp = h.IClamp(cell(0.5))
        clamp.delay, clamp.dur, clamp.amp = 0.0, 1e9, float(amp)
        clamps.append(clamp)
    compared = wp_common.subset(neurons)
    traces = [h.Vector().record(cells[k](0.5)._ref_v) for k in compared]
    t = h.Vector().record(h._ref_t)
    return cells, clamps, compared, traces, t


def run_config(h, model, duration_ms, repeats, dt_ms=None, secondorder=0, atol=None):
    """Best-of-``repeats`` run time and the spikes of one configuration."""
    cells, clamps, compared, traces, t = model
    cvode = h.CVode()
    cvode.active(1 if atol is not None else 0)
    if atol is not None:
        cvode.atol(atol)
        cvode.rtol(0)
    else:
        h.dt = dt_ms
        h.secondorder = secondorder
    pc = h.ParallelContext()
    pc.nthread(1)
    pc.set_maxstep(10)
    runs = []
    for _ in range(repeats):
        h.finitialize(wp_common.V0_MV)
        start = time.perf_counter()
        pc.psolve(duration_ms)
        runs.append(time.perf_counter() - start)
    spikes = wp_common.spikes_of(np.array(t), [np.array(trace) for trace in traces], compared)
    return wp_common.best_of(runs), runs, spikes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=500)
    parser.add_argument("--duration-ms", type=float, default=200.0)
    parser.add_argument("--dt-ms", type=float, nargs="*", default=wp_common.DTS_MS)
    parser.add_argument("--secondorder", type=int, nargs="*", default=[0, 2], choices=[0, 1, 2])
    parser.add_argument("--cvode-atol", type=float, nargs="*", default=[1e-3, 1e-5])
    parser.add_argument("--no-table", dest="table", action="store_false", help="usetable_traub = 0")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    neuron, h = load_neuron()
    h.usetable_traub = 1 if args.table else 0
    model = build(h, args.neurons)
    table = "tables" if args.table else "no tables"
    configs = [(f"fixed step, secondorder={order}, {table}", dict(dt_ms=dt, secondorder=order))
               for order in args.secondorder for dt in args.dt_ms]
    configs += [(f"CVODE atol={atol:g}, {table}", dict(atol=atol)) for atol in args.cvode_atol]
    for config, options in configs:
        run_s, runs, spikes = run_config(h, model, args.duration_ms, args.repeats, **options)
        wp_common.emit(dict(simulator="NEURON", version=neuron.__version__, config=config,
                            dt_ms=options.get("dt_ms"), neurons=args.neurons, duration_ms=args.duration_ms,
                            run_s=run_s, runs_s=runs, spikes=spikes))


if __name__ == "__main__":
    main()
