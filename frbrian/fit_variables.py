"""
The free entries of a `frbrian.torch_model.RateModel`'s parameters as the
one float vector that `frbrian.fit` hands to SLSQP, with their bounds and
Dale's law on the weights.
"""

import numpy as np

from .torch_required import torch

__all__ = []


class FreeEntries:
    """The free entries of the model's parameters as one float vector (what SLSQP sees)."""

    def __init__(self, model, free):
        parameters = dict(model.named_parameters())
        if isinstance(free, (list, tuple, set)):
            free = {name: True for name in free}
        self.entries = []
        for name, mask in free.items():
            if name not in parameters:
                raise ValueError(f"Unknown parameter {name!r}; the model has {sorted(parameters)}.")
            parameter = parameters[name]
            mask = np.broadcast_to(np.asarray(mask, dtype=bool), parameter.shape)
            if name.startswith("kernel."):
                unused = mask & ~model._kernel_used[name.split(".", 1)[1]]
                if unused.any():
                    raise ValueError(f"{name} is free for pairs whose kernel has no such constant: "
                                     f"{[tuple(int(i) for i in p) for p in np.argwhere(unused)]}.")
            index = np.flatnonzero(mask)
            if len(index):
                self.entries.append((name, parameter, torch.as_tensor(index, device=parameter.device)))
        if not self.entries:
            raise ValueError("No free parameter: give free={'name': True or a mask, ...}.")
        for _, parameter in parameters.items():
            parameter.requires_grad_(False)
        for _, parameter, _ in self.entries:
            parameter.requires_grad_(True)

    @property
    def size(self):
        return sum(len(index) for _, _, index in self.entries)

    def labels(self):
        return [f"{name}[{', '.join(str(int(i)) for i in np.unravel_index(int(k), p.shape))}]"
                for name, p, index in self.entries for k in index]

    def get(self):
        return np.concatenate([p.detach().reshape(-1)[index].cpu().numpy() for _, p, index in self.entries])

    def set(self, x):
        offset = 0
        with torch.no_grad():
            for _, parameter, index in self.entries:
                values = torch.as_tensor(x[offset:offset + len(index)], dtype=parameter.dtype, device=parameter.device)
                parameter.view(-1)[index] = values
                offset += len(index)

    def gradient(self):
        return np.concatenate([(p.grad.reshape(-1)[index] if p.grad is not None
                                else torch.zeros(len(index), dtype=p.dtype, device=p.device)).cpu().numpy()
                               for _, p, index in self.entries])

    def bounds(self, model, bounds, dale):
        """Lower and upper bounds per free entry: the user's, intersected with Dale's signs."""
        parameters = dict(model.named_parameters())
        low, high = [], []
        for name, parameter, index in self.entries:
            lo, hi = (bounds or {}).get(name, (None, None))
            lo = np.broadcast_to(-np.inf if lo is None else np.asarray(lo, dtype=float), parameter.shape).copy()
            hi = np.broadcast_to(np.inf if hi is None else np.asarray(hi, dtype=float), parameter.shape).copy()
            if np.isnan(lo).any() or np.isnan(hi).any():
                raise ValueError(f"bounds[{name!r}] contains NaN: give numbers, +-inf or None (unbounded).")
            if name == "weights" and dale is not None:
                columns = np.repeat(dale, parameter.shape[1] // len(dale))
                lo[:, columns > 0] = np.maximum(lo[:, columns > 0], 0.0)
                hi[:, columns < 0] = np.minimum(hi[:, columns < 0], 0.0)
            low.append(lo.reshape(-1)[index.cpu().numpy()])
            high.append(hi.reshape(-1)[index.cpu().numpy()])
        unknown = set(bounds or {}) - set(parameters)
        if unknown:
            raise ValueError(f"Bounds for unknown parameters {sorted(unknown)}; the model has {sorted(parameters)}.")
        return np.concatenate(low), np.concatenate(high)


def dale_signs(model, dale):
    """+1 (excitatory) or -1 (inhibitory) per source cell type, or None."""
    if dale is None or dale is False:
        return None
    if dale is True:
        weights = model.weights.detach().cpu().numpy()
        columns = np.split(weights, model.types, axis=1)
        signs = [1 if np.all(c >= 0) and np.any(c > 0) else -1 if np.all(c <= 0) and np.any(c < 0) else 0
                 for c in columns]
        if 0 in signs:
            raise ValueError("dale=True needs each cell type's outgoing weights to be all >= 0 or all <= 0 at the "
                             f"start; type {model.names[signs.index(0)]!r} is mixed or zero: give dale=[+1, -1, ...].")
        return np.array(signs)
    signs = np.sign(np.asarray(dale, dtype=float))
    if signs.shape != (model.types,) or np.any(signs == 0):
        raise ValueError(f"dale must be True or one sign (+1 or -1) per cell type ({model.types}); got {dale!r}.")
    return signs
