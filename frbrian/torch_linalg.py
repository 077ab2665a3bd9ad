"""
Linear algebra for the PyTorch rate model: restarted GMRES on the FFT
coupling (no matrix formed) and the eigenvalue of largest real part of the
linearised dynamics, differentiable.
"""

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from .torch_required import torch
from .deadlines import check_time
from .newton import SteadyStateError

__all__ = ["largest_real_eigenvalue", "ARNOLDI_LIMIT"]

#: Above this many units, the eigenvalue of largest real part (`RateModel.largest_real_eigenvalue`) is found by
#: Arnoldi iteration (ARPACK, matrix-vector products: about 1 s for 3000 units) instead of a full
#: dense eigendecomposition (about 50 s for 3000 units; 0.04 s for 200, or 4 s where BLAS threads
#: compete for busy cores; and it cannot be
#: interrupted by a time limit).
ARNOLDI_LIMIT = 128


def gmres(matvec, b, tolerance=1e-12, restart=100, max_restarts=20):
    """
    Solve ``A x = b`` by restarted GMRES in torch (classical Gram-Schmidt,
    twice, and Givens rotations); ``b`` of any shape, ``matvec`` keeps it.
    Converged when ``|b - A x| <= tolerance*|b|``.

    Raises
    ------
    SteadyStateError
        If it does not converge (a singular or nearly singular system).
    """
    shape, b = b.shape, b.reshape(-1)
    x = torch.zeros_like(b)
    norm_b = float(torch.linalg.vector_norm(b))
    if norm_b == 0.0:
        return x.reshape(shape)
    for _ in range(max_restarts):
        residual = b - matvec(x.reshape(shape)).reshape(-1)
        beta = float(torch.linalg.vector_norm(residual))
        if not np.isfinite(beta):
            raise SteadyStateError("GMRES met a NaN or infinite value.")
        if beta <= tolerance * norm_b:
            return x.reshape(shape)
        basis = torch.empty((restart + 1, b.numel()), dtype=b.dtype, device=b.device)
        basis[0] = residual / beta
        hessenberg = np.zeros((restart + 1, restart))
        cosines, sines, rhs = np.zeros(restart), np.zeros(restart), np.zeros(restart + 1)
        rhs[0] = beta
        for j in range(restart):
            check_time()
            w = matvec(basis[j].reshape(shape)).reshape(-1)
            h = basis[: j + 1] @ w
            w = w - basis[: j + 1].T @ h
            correction = basis[: j + 1] @ w  # second pass: orthogonal to rounding
            w = w - basis[: j + 1].T @ correction
            column = np.append((h + correction).cpu().numpy(), float(torch.linalg.vector_norm(w)))
            if column[-1] > 0:
                basis[j + 1] = w / column[-1]
            for i in range(j):  # earlier rotations
                column[i], column[i + 1] = (cosines[i] * column[i] + sines[i] * column[i + 1],
                                            -sines[i] * column[i] + cosines[i] * column[i + 1])
            radius = np.hypot(column[j], column[j + 1])
            cosines[j], sines[j] = (column[j] / radius, column[j + 1] / radius) if radius > 0 else (1.0, 0.0)
            column[j], column[j + 1] = radius, 0.0
            rhs[j + 1], rhs[j] = -sines[j] * rhs[j], cosines[j] * rhs[j]
            hessenberg[: j + 2, j] = column
            if abs(rhs[j + 1]) <= tolerance * norm_b or column[j] == 0:
                break
        k = j + 1
        y = scipy.linalg.solve_triangular(hessenberg[:k, :k], rhs[:k])
        x = x + basis[:k].T @ torch.as_tensor(y, dtype=b.dtype, device=b.device)
    residual = float(torch.linalg.vector_norm(b - matvec(x.reshape(shape)).reshape(-1)))
    if residual <= 1e3 * tolerance * norm_b:
        return x.reshape(shape)
    raise SteadyStateError(f"GMRES did not converge (relative residual {residual / norm_b:.3g}): "
                           "the fixed point is (nearly) singular.")


def _arnoldi(array):
    """The eigenvalue of largest real part and its eigenvector, by ARPACK."""
    def product(v):
        check_time()  # ARPACK is driven from Python: each product is a chance to stop
        return array @ v

    operator = scipy.sparse.linalg.LinearOperator(array.shape, matvec=product, dtype=array.dtype)
    # One eigenvalue only: most of a smooth coupling's eigenvalues sit in a tight cluster at -1/tau,
    # which ARPACK cannot resolve when asked for more (no convergence after 2000 iterations).
    values, vectors = scipy.sparse.linalg.eigs(operator, k=1, which="LR", tol=0)
    return values[0], vectors[:, 0]


def _eigenvectors(array):
    """
    Left and right eigenvectors ``y``, ``v`` (``y^T A = λ y^T``, ``A v = λ v``)
    of the eigenvalue ``λ`` of largest real part, by Arnoldi iteration on
    ``A`` and ``A^T``; None if ARPACK does not converge.
    """
    try:
        value, right = _arnoldi(array)
        left_value, left = _arnoldi(array.T)
    except scipy.sparse.linalg.ArpackNoConvergence:
        return None
    # a complex pair: the left iteration may have found the conjugate
    return (left if abs(left_value - value) <= abs(left_value.conj() - value) else left.conj()), right


def largest_real_eigenvalue(matrix):
    """
    The largest real part of the eigenvalues of a square tensor,
    differentiable: `torch.linalg.eigvals` up to `ARNOLDI_LIMIT` rows; above,
    ARPACK finds the eigenvectors ``y``, ``v`` of that eigenvalue and the
    value is ``Re(y^T A v / y^T v)``, which has the eigenvalue's gradient
    (``y v^T / y^T v``, first-order perturbation theory).

    Examples
    --------
    >>> float(largest_real_eigenvalue(torch.tensor([[-1.0, 2.0], [0.0, -3.0]])))
    -1.0
    """
    if not bool(torch.isfinite(matrix).all()):
        raise SteadyStateError("The linearised dynamics contain NaN or infinite values.")
    check_time()
    if len(matrix) > ARNOLDI_LIMIT:
        vectors = _eigenvectors(matrix.detach().cpu().numpy())
        if vectors is not None:
            y, v = (torch.as_tensor(u, device=matrix.device) for u in vectors)
            return ((y @ matrix.to(y.dtype) @ v) / (y @ v)).real
    return torch.linalg.eigvals(matrix).real.max()
