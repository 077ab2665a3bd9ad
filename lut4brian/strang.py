"""
``lut_strang``: a second-order integrator for Hodgkin-Huxley-type equations
that needs no exp() for tabulated gates (Strang splitting of the gates from
the membrane).
"""

import sympy
from brian2.parsing.sympytools import sympy_to_str
from brian2.stateupdaters.base import StateUpdateMethod, UnsupportedEquationsException, extract_method_options

from .integrate import _fuse_lookups, _gates, _symbol, linear_coefficients, with_step_tables
from .preferences import tables_enabled

__all__ = ["LutStrang", "lut_strang"]

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


class LutStrang(StateUpdateMethod):
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
    ``dt``. Of the exp-free designs tried (second-order Rush-Larsen midpoint,
    NEURON's staggered steps, this splitting in gate-membrane-gate order),
    this one came closest to order 2 at dt 0.05 ms. Its splitting error is
    still larger than the explicit midpoint rule's: for accurate spike
    times, Brian2's ``rk2`` or ``rk4`` on the same tables reach a given
    error sooner (``benchmarks/integrator_candidates.py``).

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

    def can_integrate(self, equations, variables, method_options=None):
        try:
            linear_coefficients(equations, variables)
        except UnsupportedEquationsException:
            return False
        return True

    def __call__(self, equations, variables=None, method_options=None):
        extract_method_options(method_options, {})
        coefficients = linear_coefficients(equations, variables)
        tabulated = {}
        if tables_enabled() and variables is not None:
            tabulated = _gates(equations, float(variables["dt"].owner.dt_), variables)
        gates, rest = split(coefficients, prefer=tabulated)
        halfway = {_symbol(y): _symbol(f"_lut_half_{y}") for y in rest}
        functions = with_step_tables(variables or {})
        code = _rest_half_step(coefficients, rest, {_T: _T + 0.25 * _DT}, "_lut_half_", "_lut_a", functions)
        # the gates: one exact step from the rest halfway
        after = {**halfway, _T: _T + _HALF}
        steps = []
        for x in gates:
            update = tabulated[x] if x in tabulated else _exact_step(_symbol(x), *coefficients[x], _DT)
            steps.append((f"_{x}", update.xreplace(after)))
        code += _stage(steps, "_lut_c_", functions)
        new_gates = {_symbol(x): _symbol(f"_{x}") for x in gates}
        code += _rest_half_step(coefficients, rest, {**new_gates, **halfway, _T: _T + 0.75 * _DT}, "_", "_lut_d",
                                functions, start=halfway)
        code += [f"{x} = _{x}" for x in gates + rest]
        return "\n".join(code)


def _rest_half_step(coefficients, rest, frozen, target, prefix, functions, start=None):
    """
    Abstract code for half a step of the non-gate variables ``rest`` with
    everything in ``frozen`` fixed (a replacement of symbols, the time at the
    half step's midpoint included), from ``start`` (symbols replacing the
    variables; the variables themselves by default), into ``target + name``.
    """
    start = start or {}
    begin = {_symbol(y): start.get(_symbol(y), _symbol(y)) for y in rest}
    known = {**frozen, **begin}
    # the rest's values a quarter step on, where they appear in each other's coefficients
    needed = sorted({s.name for y in rest for s in sympy.Add(*coefficients[y]).free_symbols} & set(rest))
    predictors, midpoint = [], dict(frozen)
    for y in needed:
        M, C = (c.xreplace(known) for c in coefficients[y])
        predictors.append((f"{prefix}_mid_{y}", (begin[_symbol(y)] + 0.5 * _HALF * C) / (1 - 0.5 * _HALF * M)))
        midpoint[_symbol(y)] = _symbol(f"{prefix}_mid_{y}")
    updates = []
    for y in rest:
        M, C = (c.xreplace(midpoint) for c in coefficients[y])
        value = begin[_symbol(y)]
        updates.append((f"{target}{y}", value + _HALF * (M * value + C) / (1 - 0.5 * _HALF * M)))
    return _stage(predictors, f"{prefix}_b_", functions) + _stage(updates, f"{prefix}_c_", functions)


lut_strang = LutStrang()
StateUpdateMethod.register("lut_strang", lut_strang)
