"""
Fixed points of rate models ``tau dr/dt = -r + f(W r + h)`` and the
linearised dynamics around them: linear response, stability, and the
inhibition-stabilised (paradoxical) response.

``coupling`` is any callable ``r -> W r`` on rates of shape ``(types, size)``
(a `frbrian.kernels.Coupling`, or ``lambda r: W @ r`` with a dense matrix);
``transfer`` a `frbrian.transfer.Transfer` (or one per cell type); ``drive``
the input ``h`` of the same shape as the rates.
"""

from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigs, gmres

from .newton import SteadyStateError, newton
from .rate_arguments import transfers_of

__all__ = ["SteadyState", "SteadyStateError", "steady_state", "linear_response", "stability", "paradoxical_response"]


@dataclass
class SteadyState:
    """A fixed point ``r = f(W r + h)``: the rates, the Newton iterations and the final residual."""

    rates: np.ndarray
    iterations: int
    residual: float


def _apply(transfers, method, current):
    return np.stack([getattr(t, method)(u) if method else t(u) for t, u in zip(transfers, current)])


def _jacobian(coupling, gains):
    """``v -> v - gains * (W v)``, the Jacobian of ``r - f(W r + h)``, on flattened rates."""
    shape = gains.shape
    return LinearOperator((gains.size, gains.size), dtype=float,
                          matvec=lambda v: v - (gains * coupling(v.reshape(shape))).ravel())


def steady_state(coupling, transfer, drive, initial=None, tolerance=1e-10, max_iterations=60):
    """
    Solve ``r = f(W r + h)`` by Newton's method, each step solved with GMRES
    on the coupling itself (an FFT convolution costs O(N log N), so no
    N x N matrix is ever formed). Steps that would increase the residual are
    halved.

    Parameters
    ----------
    coupling : callable
        ``r -> W r`` for rates of shape ``(types, size)``.
    transfer : `Transfer`, str, or list of them (one per cell type)
    drive : array, shape (types, size)
        The input ``h``.
    initial : array, optional
        Where to start; by default ``f(h)``.
    tolerance : float
        The largest allowed ``|r - f(W r + h)|``, relative to ``1 + max|r|``.

    Raises
    ------
    SteadyStateError
        If there is no convergence within ``max_iterations``, with the residual reached.

    Examples
    --------
    >>> import numpy as np
    >>> from frbrian.transfer import power_law
    >>> W = np.array([[0.5, -1.0], [1.0, -1.5]])
    >>> fixed = steady_state(lambda r: W @ r, power_law(), np.array([[2.0], [1.0]]))
    >>> bool(fixed.residual < 1e-10)
    True
    """
    drive = np.asarray(drive, dtype=float)
    transfers = transfers_of(transfer, drive.shape[0])
    rates = _apply(transfers, None, drive) if initial is None else np.array(initial, dtype=float)

    def residual_of(r):
        return r - _apply(transfers, None, coupling(r) + drive)

    def step_of(r, residual):
        gains = _apply(transfers, "derivative", coupling(r) + drive)
        step, _ = gmres(_jacobian(coupling, gains), -residual.ravel(), rtol=1e-12, atol=0.0, restart=200, maxiter=20)
        return step.reshape(r.shape)

    rates, iterations, residual = newton(residual_of, step_of, rates, tolerance, max_iterations)
    return SteadyState(rates, iterations, residual)


def linear_response(coupling, transfer, rates, drive, perturbation):
    """
    The change of the steady state for a small change ``perturbation`` of the
    input: ``(I - F' W)^-1 F' dh``, with ``F'`` the gains at ``rates``.

    Parameters
    ----------
    coupling, transfer
        As for `steady_state`.
    rates : array, shape (types, size)
        The fixed point (``steady_state(...).rates``), in the model's rate unit.
    drive : array, shape (types, size)
        The input ``h`` that holds it.
    perturbation : array, shape (types, size)
        The change of the input ``dh``.

    Returns
    -------
    array, shape (types, size)
        The change of the rates, to first order in ``dh``.

    Raises
    ------
    SteadyStateError
        If ``I - F' W`` is (nearly) singular.
    """
    transfers = transfers_of(transfer, np.shape(rates)[0])
    gains = _apply(transfers, "derivative", coupling(np.asarray(rates)) + drive)
    right = (gains * np.asarray(perturbation, dtype=float)).ravel()
    response, info = gmres(_jacobian(coupling, gains), right, rtol=1e-12, atol=0.0, restart=200, maxiter=20)
    if info:
        raise SteadyStateError("The linear response did not converge: the fixed point is (nearly) singular.")
    return response.reshape(np.shape(rates))


def stability(coupling, transfer, rates, drive, tau=1.0):
    """
    The largest real part of the eigenvalues of the linearised dynamics
    ``(-I + F' W)/tau`` around ``rates`` (negative: stable), and the spectral
    radius of ``F' W``. Dense eigenvalues up to 600 units, Arnoldi iterations
    on the coupling operator beyond.

    Parameters
    ----------
    coupling, transfer, rates, drive
        As for `linear_response`.
    tau : float or array
        The time constants, one value or one per cell type, as plain numbers;
        the eigenvalue comes in the inverse of their unit.

    Returns
    -------
    (float, float)
        ``(largest_real_eigenvalue, spectral_radius)``; the first in units of 1/tau.
    """
    rates = np.asarray(rates, dtype=float)
    transfers = transfers_of(transfer, rates.shape[0])
    gains = _apply(transfers, "derivative", coupling(rates) + drive)
    scale = (1.0 / np.asarray(tau, dtype=float) * np.ones(rates.shape[0]))[:, None] * np.ones(rates.shape)
    n = rates.size

    def gain_coupling(v):
        return (gains * coupling(v.reshape(rates.shape))).ravel()

    def dynamics(v):
        return scale.ravel() * (gain_coupling(v) - v)

    if n <= 600:
        eye = np.eye(n)
        dense = np.column_stack([dynamics(e) for e in eye])
        values = np.linalg.eigvals(dense)
        radius = np.max(np.abs(np.linalg.eigvals(np.column_stack([gain_coupling(e) for e in eye]))))
        return float(values.real.max()), float(radius)
    operator = LinearOperator((n, n), matvec=dynamics, dtype=float)
    largest = eigs(operator, k=1, which="LR", return_eigenvectors=False)
    radius = eigs(LinearOperator((n, n), matvec=gain_coupling, dtype=float), k=1, which="LM",
                  return_eigenvectors=False)
    return float(largest.real[0]), float(np.abs(radius[0]))


def paradoxical_response(coupling, transfer, rates, drive, inhibitory=1):
    """
    The inhibition-stabilised network check: the change of the mean rate of
    the ``inhibitory`` cell type when its input rises uniformly by one unit,
    at the fixed point ``rates``. Negative means paradoxical (an ISN).

    Parameters
    ----------
    coupling, transfer, rates, drive
        The model and its fixed point, as for `linear_response`.
    inhibitory : int
        The index of the inhibitory cell type.

    Returns
    -------
    float
        ``d<r_I>/dh_I`` (rate units per unit of input).
    """
    perturbation = np.zeros(np.shape(rates))
    perturbation[inhibitory] = 1.0
    return float(linear_response(coupling, transfer, rates, drive, perturbation)[inhibitory].mean())
