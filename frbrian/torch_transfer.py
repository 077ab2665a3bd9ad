"""
Transfer functions in PyTorch: a `frbrian.Transfer`'s own expression
lambdified to torch, its numeric constants made parameters, its inverse
found by sympy (to hold baseline rates).
"""

import sympy
from brian2.parsing.sympytools import sympy_to_str

from .torch_required import torch
from .transfer import transfer_function

__all__ = ["TorchTransfer"]


def _clip(x, low, high):
    low = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    return torch.minimum(torch.maximum(x, low), high)


_TORCH_FUNCTIONS = {
    "clip": _clip, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh,
    "sinh": torch.sinh, "cosh": torch.cosh, "sin": torch.sin, "cos": torch.cos, "Abs": torch.abs,
    "abs": torch.abs, "sign": torch.sign, "floor": torch.floor, "ceil": torch.ceil,
}


def _float_constants(expr):
    """The expression with every Float replaced by its own symbol ``c0, c1, ...`` (in reading order)."""
    symbols, values = [], []

    def walk(node):
        if isinstance(node, sympy.Mul) and len(node.args) == 2 and node.args[0] == -1 \
                and isinstance(node.args[1], sympy.Float):
            node = sympy.Float(-node.args[1])  # "I - 0.3" holds the constant -0.3, however it is printed
        if isinstance(node, sympy.Float):
            symbol = sympy.Symbol(f"c{len(symbols)}", real=True)
            symbols.append(symbol)
            values.append(float(node))
            return symbol
        if not node.args:
            return node
        return node.func(*[walk(a) for a in node.args], evaluate=False)

    return walk(expr), symbols, values


class TorchTransfer:
    """
    A `frbrian.Transfer` as a torch function of the input and of its numeric
    constants, which become parameters: ``f(I, constants)``. ``clip`` maps
    to a clamp, ``exp`` to `torch.exp`, and so on.

    Examples
    --------
    >>> import torch
    >>> from frbrian import power_law
    >>> f = TorchTransfer(power_law(k=0.5, n=2.0))
    >>> f.constants
    [0.5, 2.0]
    >>> f(torch.tensor([-1.0, 2.0]), torch.tensor(f.constants)).tolist()
    [0.0, 2.0]
    >>> f.expression([1.0, 3.0])
    '1.0*clip(I, 0, inf)**3.0'
    """

    def __init__(self, transfer):
        transfer = transfer_function(transfer)
        self.source = transfer
        self.symbol = transfer.symbol
        self.expr, self.symbols, self.constants = _float_constants(transfer.formula)
        self._function = sympy.lambdify([self.symbol, *self.symbols], self.expr, modules=[_TORCH_FUNCTIONS, "math"])
        self._inverse = None

    def __call__(self, current, constants):
        value = self._function(current, *constants.unbind(0)) if len(self.symbols) else self._function(current)
        return torch.broadcast_to(torch.as_tensor(value, dtype=current.dtype, device=current.device), current.shape)

    def gains(self, current, constants):
        """``f'(I)``, by autograd on the elementwise function (no gradient kept)."""
        with torch.enable_grad():
            current = current.detach().requires_grad_(True)
            value = self(current, constants.detach())
            (gains,) = torch.autograd.grad(value.sum(), current)
        return gains

    def expression(self, constants):
        """The Brian2 expression with these constants."""
        # each constant printed by repr (exact round trip), negative ones in parentheses
        printed = [repr(float(c)) if float(c) >= 0 else f"({float(c)!r})" for c in constants]
        return sympy_to_str(self.expr.xreplace({s: sympy.Symbol(p) for s, p in zip(self.symbols, printed)}))

    def inverse(self, rates, constants):
        """
        The input that gives these rates, ``f^-1(r)``, on the increasing
        branch (``clip`` taken as the identity), found by sympy once.
        """
        if self._inverse is None:
            self._inverse = self._find_inverse()
        return self._inverse(rates, *constants.unbind(0)) if len(self.symbols) else self._inverse(rates)

    def _find_inverse(self):
        rate = sympy.Symbol("r", positive=True)
        unclipped = self.expr.replace(lambda e: type(e).__name__ == "clip", lambda e: e.args[0])
        candidates = sympy.solve(sympy.Eq(unclipped, rate), self.symbol)
        probe = [0.7 + 0.1 * k for k in range(len(self.symbols))]
        values = dict(zip(self.symbols, self.constants or probe))
        for candidate in candidates:
            inverse = sympy.lambdify([rate, *self.symbols], candidate, modules=[_TORCH_FUNCTIONS, "math"])
            trial = torch.tensor([0.3, 1.7], dtype=torch.float64)
            constants = torch.tensor(list(values.values()), dtype=torch.float64)
            try:
                current = torch.as_tensor(inverse(trial, *constants.unbind(0)), dtype=torch.float64)
                if torch.allclose(self(current, constants), trial, rtol=1e-9):
                    return inverse
            except (TypeError, ValueError, RuntimeError):
                continue
        raise ValueError(f"Cannot invert the transfer function {self.source.expression!r} to hold a baseline: "
                         "give the drive instead of baseline=.")
