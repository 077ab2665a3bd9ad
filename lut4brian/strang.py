"""
Second-order integrators for Hodgkin-Huxley-type equations that need no
exp() for tabulated gates, by splitting the gates from the membrane:
``lut_strang`` (Strang splitting, every variable at the step's time) and
``lut_staggered`` (NEURON's staggered steps, the gates half a step behind).
"""

import sympy
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException, extract_method_options

from .integrate import _fuse_lookups, _gates, _symbol, linear_coefficients, with_step_tables
from .preferences import tables_enabled

__all__ = ["LutStaggered", "LutStrang", "lut_staggered", "lut_strang"]

_DT, _T = sympy.Symbol("dt", real=True), sympy.Symbol("t", real=True)
_HALF = 0.5 * _DT


def split(coefficients, prefer=()):
    """
    The variables integrated exactly with the others frozen (gates): each
    has ``M != 0``, ``M`` and ``C`` free of itself and of every other gate.
    Chosen greedily, ``prefer`` first (tabulated gates), then the variables
    that depend on fewest others. Returns ``(gates, rest)``.
    """
    names = sorted(coefficients)
    depends = {x: {s.name for s in sympy.Add(*coefficients[x]).free_symbols} & set(names) for x in names}
    gates = []
    for x in sorted(names, key=lambda x: (x not in prefer, len(depends[x]), x)):
        M = coefficients[x][0]
        if M == 0 or x in depends[x] or depends[x] & set(gates) or any(x in depends[g] for g in gates):
            continue
        gates.append(x)
    return gates, [x for x in names if x not in gates]


def _exact_step(x, M, C, h):
    """``x`` after ``h`` of ``dx/dt = M*x + C`` with ``M``, ``C`` constant (an exp())."""
    if C == 0:
        return x * sympy.exp(h * M)
    return (x + C / M) * sympy.exp(h * M) - C / M


def _stage(targets, prefix, functions):
    """Abstract code for ``targets`` (name, sympy expression): lookups fused per grid and argument, repeats computed once."""
    if not targets:
        return []
    names, expressions = zip(*targets)
    lines, expressions = _fuse_lookups(list(expressions), functions, prefix)
    temporaries, reduced = sympy.cse(expressions, symbols=sympy.numbered_symbols(f"{prefix}cse"),
                                     optimizations="basic")
    lines += [f"{symbol} = {sympy_to_str(value)}" for symbol, value in temporaries]
    return lines + [f"{name} = {sympy_to_str(value)}" for name, value in zip(names, reduced)]


class _Splitting(StateUpdateMethod):
    """
    What lut4brian's splitting integrators share: the equations they accept,
    the split into gates and rest, and the final assignments; a subclass
    writes one step (``_step``) into ``_<variable>`` temporaries.
    """

    name = None

    def can_integrate(self, equations, variables, method_options=None):
        try:
            linear_coefficients(equations, variables)
        except UnsupportedEquationsException:
            return False
        return True

    def __call__(self, equations, variables=None, method_options=None):
        extract_method_options(method_options, {})
        coefficients = linear_coefficients(equations, variables, self.name)
        tabulated = {}
        if tables_enabled() and variables is not None:
            tabulated = _gates(equations, float(variables["dt"].owner.dt_), variables)
        gates, rest = split(coefficients, prefer=tabulated)
        code = self._step(coefficients, gates, rest, tabulated, with_step_tables(variables or {}))
        return "\n".join(code + [f"{x} = _{x}" for x in gates + rest])

    def _step(self, coefficients, gates, rest, tabulated, functions):
        raise NotImplementedError


class LutStrang(_Splitting):
    r"""
    Strang splitting with exact gate steps from tables (``method='lut_strang'``): second order, no exp() per gate.

    The variables are split into *gates* ``x``, whose equation
    ``dx/dt = M*x + C`` has coefficients free of every gate (HH gates,
    whose rates depend on ``v``; also linear synaptic conductances), and
    the *rest* ``y`` (the membrane potential). One step of ``dt``:

    1. the rest go half a step with the gates fixed, by the linearly
       implicit midpoint rule (Crank-Nicolson in each variable):
       ``y_half = y + dt/2*(M*y + C)/(1 - dt/4*M)``, ``M`` and ``C`` taken
       a quarter step on (predicted by an implicit Euler step where the rest
       appear in each other's coefficients; for HH with synapses they do
       not, and nothing is predicted);
    2. each gate goes a full step exactly, with the rest fixed halfway:
       ``x' = x*D(v_half) + K(v_half)``, from the decay ``D = exp(-dt*Q)``
       and input ``K = x_inf*(1 - D)`` tables of ``lut_exponential_euler``
       (built for each group's own ``dt``);
    3. the rest go the second half step as in 1, with the gates at ``x'``.

    Each flow is integrated to second order and the composition is
    symmetric, so the method has global order 2 (Strang 1968), from any
    initial state, with every variable a value at the step's time; the
    gates stay in [0, 1], and the exact gate steps keep it stable at any
    ``dt``. Of the exp-free designs compared in
    ``benchmarks/exp_free_designs.py``, ``lut_staggered`` (this splitting
    in the other order, its gate half steps merged) is cheaper and more
    accurate, with the gates half a step behind; for spike times to 0.1 ms
    or better, Brian2's ``rk4`` on the same tables is faster than either.

    Cost per step for a tabulated HH model: one grid index (``v_half``), two
    lookups and one multiply-add per gate, two evaluations of the membrane
    coefficients and two divisions; no exp() (a constant decay, such as a
    synaptic conductance's, is one exp() per step, not per neuron). That is
    about the work of ``lut_exponential_euler`` plus one membrane update, or
    of ``rk2`` on tables; less than ``rk4``'s.

    It integrates deterministic equations linear in their own variable
    (what ``exponential_euler`` needs) and refuses others with the
    equation, the reason, and the integrator to use. Crank-Nicolson is
    A-stable but not L-stable: a non-gate variable with a time constant far
    below ``dt`` rings (decays with alternating sign). With
    ``prefs.lut4brian.enabled = False`` (or for gates without tables) the
    same scheme takes the gate steps with exp(): the exact equations,
    integrated to the same order.

    Examples
    --------
    >>> from brian2 import NeuronGroup, mV, nA, run, ms
    >>> from lut4brian import models, tabulate
    >>> eqs, namespace = models.cobahh()
    >>> eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
    >>> G = NeuronGroup(1, eqs, method='lut_strang', namespace=namespace)
    >>> G.v, G.I = -65*mV, 0.5*nA
    >>> run(1*ms)
    >>> code = G.state_updater.abstract_code
    >>> [line.split(" =")[0] for line in code.splitlines() if "exp(" in line]  # the synaptic decays only
    ['_ge', '_gi']
    """

    name = "lut_strang"

    def _step(self, coefficients, gates, rest, tabulated, functions):
        halfway = {_symbol(y): _symbol(f"_lut_half_{y}") for y in rest}
        code = _rest_step(coefficients, rest, {_T: _T + 0.25 * _DT}, "_lut_half_", "_lut_a", functions)
        code += _gate_step(coefficients, gates, tabulated, {**halfway, _T: _T + _HALF}, functions)
        new_gates = {_symbol(x): _symbol(f"_{x}") for x in gates}
        return code + _rest_step(coefficients, rest, {**new_gates, **halfway, _T: _T + 0.75 * _DT}, "_", "_lut_d",
                                 functions, start=halfway)


class LutStaggered(_Splitting):
    r"""
    NEURON's staggered steps with exact gate steps from tables
    (``method='lut_staggered'``): second order, no exp() per gate, the
    cheapest step of lut4brian's second-order integrators.

    The variables are split as for ``lut_strang``. The gates are taken to
    be half a step behind the rest (NEURON's ``secondorder = 2``; Hines
    1984). One step of ``dt``:

    1. each gate goes a full step exactly, at the current ``v``:
       ``x' = x*D(v) + K(v)`` (the tables of ``lut_exponential_euler``),
       to half a step after ``v``'s time;
    2. the rest go a full step with the gates fixed at ``x'``, by the
       linearly implicit midpoint rule (Crank-Nicolson):
       ``y' = y + dt*(M*y + C)/(1 - dt/2*M)``.

    This is ``lut_strang``'s splitting in the other order (gate half step,
    membrane step, gate half step) with the gate half steps of consecutive
    steps merged: one grid index, two lookups per gate and one membrane
    update per step, against ``lut_strang``'s two membrane half steps. On
    the COBAHH work-precision problem its spike times are also about 20%
    more accurate at the same ``dt`` (``benchmarks/exp_free_designs.py``).

    The price is NEURON's: the gates a `StateMonitor` records at time ``t``
    are their values at ``t - dt/2``, and the gates you set at the start
    are taken as those half a step earlier. That error is of first order in
    ``dt``: for COBAHH started from m = h = n = 0 it moves the first spike
    by 0.002 ms at ``dt`` = 0.025 ms, a tenth of the method's own error
    there (``tests/test_integrator_order.py``), and would overtake it only
    at steps of about 0.002 ms. Where it matters, set the gates to their
    values half a step before the start (at rest they are the same). Where
    every variable must be a value at the step's time, use ``lut_strang``.

    It integrates and refuses the same equations as ``lut_strang``, and
    with ``prefs.lut4brian.enabled = False`` (or for gates without tables)
    takes the gate steps with exp().

    Examples
    --------
    >>> from brian2 import NeuronGroup, mV, nA, run, ms
    >>> from lut4brian import models, tabulate
    >>> eqs, namespace = models.cobahh()
    >>> eqs = tabulate(eqs, v=(-100*mV, 100*mV, 0.1*mV), namespace=namespace)
    >>> G = NeuronGroup(1, eqs, method='lut_staggered', namespace=namespace)
    >>> G.v, G.I = -65*mV, 0.5*nA
    >>> run(1*ms)
    >>> print(G.state_updater.abstract_code.count('lut_index'))  # one grid index per step
    1
    """

    name = "lut_staggered"

    def _step(self, coefficients, gates, rest, tabulated, functions):
        code = _gate_step(coefficients, gates, tabulated, {}, functions)
        new_gates = {_symbol(x): _symbol(f"_{x}") for x in gates}
        return code + _rest_step(coefficients, rest, {**new_gates, _T: _T + _HALF}, "_", "_lut_d", functions,
                                 step=_DT)


def _gate_step(coefficients, gates, tabulated, frozen, functions):
    """Abstract code for one exact step of each gate into ``_<gate>``, with the symbols in ``frozen`` replaced."""
    steps = []
    for x in gates:
        update = tabulated[x] if x in tabulated else _exact_step(_symbol(x), *coefficients[x], _DT)
        steps.append((f"_{x}", update.xreplace(frozen)))
    return _stage(steps, "_lut_c_", functions)


def _rest_step(coefficients, rest, frozen, target, prefix, functions, start=None, step=_HALF):
    """
    Abstract code for a ``step`` (half a ``dt`` by default) of the non-gate
    variables ``rest`` with everything in ``frozen`` fixed (a replacement of
    symbols, the time at the step's midpoint included), from ``start``
    (symbols replacing the variables; the variables themselves by default),
    into ``target + name``.
    """
    start = start or {}
    begin = {_symbol(y): start.get(_symbol(y), _symbol(y)) for y in rest}
    known = {**frozen, **begin}
    # the rest's values at the step's midpoint, where they appear in each other's coefficients
    needed = sorted({s.name for y in rest for s in sympy.Add(*coefficients[y]).free_symbols} & set(rest))
    predictors, midpoint = [], dict(frozen)
    for y in needed:
        M, C = (c.xreplace(known) for c in coefficients[y])
        predictors.append((f"{prefix}_mid_{y}", (begin[_symbol(y)] + 0.5 * step * C) / (1 - 0.5 * step * M)))
        midpoint[_symbol(y)] = _symbol(f"{prefix}_mid_{y}")
    updates = []
    for y in rest:
        M, C = (c.xreplace(midpoint) for c in coefficients[y])
        value = begin[_symbol(y)]
        updates.append((f"{target}{y}", value + step * (M * value + C) / (1 - 0.5 * step * M)))
    return _stage(predictors, f"{prefix}_b_", functions) + _stage(updates, f"{prefix}_c_", functions)


lut_strang = LutStrang()
StateUpdateMethod.register("lut_strang", lut_strang)
lut_staggered = LutStaggered()
StateUpdateMethod.register("lut_staggered", lut_staggered)
