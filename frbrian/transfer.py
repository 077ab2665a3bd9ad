"""
Transfer functions ``r = f(I)`` of rate units: one definition gives the
Brian2 expression, a vectorised numpy function and its derivative.
"""

import numpy as np
import sympy
from brian2.parsing.sympytools import str_to_sympy
from sympy.parsing.sympy_parser import parse_expr

__all__ = ["Transfer", "power_law", "sigmoid", "rectified_tanh", "threshold_linear", "transfer_function"]


class Transfer:
    """
    A transfer function of the (dimensionless) input ``I``, given as a Brian2
    expression in ``I``; its numpy versions and derivative are derived from it.

    Examples
    --------
    >>> f = power_law(k=0.04, n=2)
    >>> f.expression
    '0.04*clip(I, 0, inf)**2'
    >>> float(f(3.0)), float(f.derivative(3.0))
    (0.36, 0.24)
    """

    def __init__(self, expression, name=None):
        self.expression = expression
        self.name = name or expression
        self.symbol = symbol = sympy.Symbol("I", real=True)
        # Parsed unevaluated, so that the numbers stay as written: sympy would fold exp(-2*(I - 0.5))
        # into e*exp(-2*I), turning a threshold into a factor e; PyTorch fits those numbers.
        names = {"I": symbol, "inf": sympy.oo, "clip": sympy.Function("clip"), "abs": sympy.Abs}
        #: The expression as sympy, unevaluated (`frbrian.torch_transfer.TorchTransfer` reads it too).
        self.formula = expr = parse_expr(expression, local_dict=names, evaluate=False)
        if expr.free_symbols - {symbol}:
            unknown = ", ".join(sorted(str(s) for s in expr.free_symbols - {symbol}))
            raise ValueError(f"A transfer function may only depend on the input I; '{expression}' uses {unknown}.")
        self._function = sympy.lambdify(symbol, expr, modules=[{"clip": np.clip}, "numpy"])
        self._derivative = sympy.lambdify(symbol, _differentiate(expr, symbol), modules=[{"clip": np.clip}, "numpy"])

    def __call__(self, current):
        return self._function(np.asarray(current, dtype=float)) * np.ones(np.shape(current))

    def derivative(self, current):
        """``df/dI`` at ``current``."""
        return self._derivative(np.asarray(current, dtype=float)) * np.ones(np.shape(current))

    def __repr__(self):
        return f"Transfer({self.name!r})"


def _differentiate(expr, symbol):
    # clip(I, 0, inf) is Brian2's rectification; its derivative is the step.
    rectified = {c: sympy.Max(c.args[0], 0) for c in expr.atoms(sympy.Function) if type(c).__name__ == "clip"}
    derivative = sympy.diff(expr.xreplace(rectified), symbol)
    return derivative.replace(sympy.Heaviside, lambda x, *rest: sympy.Piecewise((1, x > 0), (0, True)))


def power_law(k=1.0, n=2.0):
    """``k*[I]₊ⁿ``, the rectified power law of the stabilised supralinear network."""
    return Transfer(f"{k!r}*clip(I, 0, inf)**{n!r}", name=f"power_law(k={k}, n={n})")


def threshold_linear(gain=1.0, threshold=0.0):
    """``gain*[I - threshold]₊``."""
    return Transfer(f"{gain!r}*clip(I - {threshold!r}, 0, inf)", name=f"threshold_linear(gain={gain}, threshold={threshold})")


def sigmoid(maximum=1.0, slope=1.0, threshold=0.0):
    """``maximum/(1 + exp(-slope*(I - threshold)))``."""
    return Transfer(f"{maximum!r}/(1 + exp(-{slope!r}*(I - {threshold!r})))",
                    name=f"sigmoid(maximum={maximum}, slope={slope}, threshold={threshold})")


def rectified_tanh(maximum=1.0, slope=1.0, threshold=0.0):
    """``maximum*tanh(slope*(I - threshold))``, rectified at 0 (named so as not to hide `brian2.tanh`)."""
    return Transfer(f"{maximum!r}*clip(tanh({slope!r}*(I - {threshold!r})), 0, inf)",
                    name=f"rectified_tanh(maximum={maximum}, slope={slope}, threshold={threshold})")


def transfer_function(spec):
    """
    A `Transfer` from itself, a Brian2 expression in ``I``, or a name:
    'power_law', 'sigmoid', 'rectified_tanh', 'threshold_linear'.
    """
    if isinstance(spec, Transfer):
        return spec
    named = {"power_law": power_law, "sigmoid": sigmoid, "rectified_tanh": rectified_tanh,
             "threshold_linear": threshold_linear}
    if spec in named:
        return named[spec]()
    if isinstance(spec, str) and "I" in {str(s) for s in str_to_sympy(spec).free_symbols}:
        return Transfer(spec)
    raise ValueError(f"Unknown transfer function {spec!r}: use one of {sorted(named)} or an expression in I.")
