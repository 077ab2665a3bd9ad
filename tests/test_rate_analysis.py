"""Transfer functions and fixed-point analysis of rate models (frbrian)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from frbrian.analysis import SteadyStateError, linear_response, paradoxical_response, stability, steady_state
from frbrian import Coupling, Gaussian, Grid
from frbrian.transfer import power_law, sigmoid, rectified_tanh, threshold_linear, transfer_function

W_POP = np.array([[1.09546555, -0.89098157], [0.90011321, -0.28263247]])
SIGMA = [[0.2173913, 0.17391304], [0.17391304, 0.22608696]]
R_STAR = np.array([1.36740442, 1.0928196])


@pytest.mark.parametrize("transfer", [power_law(0.5, 2.5), sigmoid(2, 3, 0.5), rectified_tanh(1.5, 2, 0.2),
                                      threshold_linear(2, 0.3), transfer_function("I**3/(1 + I**2)")])
def test_transfer_derivatives(transfer):
    current = np.linspace(-2, 3, 41) + 0.0123  # avoid the kinks exactly
    h = 1e-6
    numeric = (transfer(current + h) - transfer(current - h)) / (2 * h)
    assert np.allclose(transfer.derivative(current), numeric, rtol=1e-5, atol=1e-6)


def test_transfer_values_and_bad_specs():
    assert np.allclose(power_law(2, 2)(np.array([-1.0, 1.5])), [0, 4.5])
    assert np.allclose(threshold_linear(2, 1)(np.array([0.5, 3.0])), [0, 4])
    with pytest.raises(ValueError, match="Unknown transfer function"):
        transfer_function("softplus")
    with pytest.raises(ValueError, match="may only depend on the input I"):
        transfer_function("I + theta")


def test_steady_state_matches_long_integration():
    weights = np.array([[0.6, -1.0], [1.2, -1.4]])
    drive = np.array([[1.5], [1.0]])
    fixed = steady_state(lambda r: weights @ r, power_law(), drive)
    end = solve_ivp(lambda t, r: -r + power_law()(weights @ r + drive[:, 0]), (0, 200), [0.1, 0.1],
                    rtol=1e-11, atol=1e-12).y[:, -1]
    assert np.allclose(fixed.rates[:, 0], end, rtol=1e-7)
    assert fixed.residual < 1e-10


def frmodels_model(points):
    coupling = Coupling(Grid((points,)), W_POP, [[Gaussian(s) for s in row] for row in SIGMA])
    baseline = np.repeat(R_STAR[:, None], points, axis=1)
    drive = np.sqrt(baseline) - coupling(baseline)
    return coupling, baseline, drive


def test_frmodels_point_response():
    """fr-models' README model: its response at the middle point for N = 1501 is (5.5137, 0.0252)."""
    points = 1501
    coupling, baseline, drive = frmodels_model(points)
    drive[0, points // 2] += 1.45305475949474
    dr = steady_state(coupling, power_law(), drive, initial=baseline).rates - baseline
    largest = np.max(np.abs(dr))
    assert abs(dr[0, points // 2] - 5.5137) <= 1e-3 * largest
    assert abs(dr[1, points // 2] - 0.0252) <= 1e-3 * largest
    # the same with the dense block matrix
    dense = Coupling(Grid((101,)), W_POP, [[Gaussian(s) for s in row] for row in SIGMA])
    weights = dense.matrix()
    c101, b101, d101 = frmodels_model(101)
    d101[0, 50] += 1.45305475949474
    fft_rates = steady_state(c101, power_law(), d101, initial=b101).rates
    dense_rates = steady_state(lambda r: (weights @ r.ravel()).reshape(r.shape), power_law(), d101,
                               initial=b101).rates
    assert np.allclose(fft_rates, dense_rates, rtol=1e-9)


def test_linear_response_is_the_derivative_of_the_steady_state():
    coupling, baseline, drive = frmodels_model(101)
    perturbation = np.zeros_like(drive)
    perturbation[0, 40:60] = 1.0
    epsilon = 1e-6
    shifted = steady_state(coupling, power_law(), drive + epsilon * perturbation, initial=baseline).rates
    numeric = (shifted - baseline) / epsilon
    assert np.allclose(linear_response(coupling, power_law(), baseline, drive, perturbation), numeric,
                       rtol=1e-4, atol=1e-5)


def test_stability_and_paradoxical_response():
    # uniform populations: the Jacobian is (-I + diag(2 sqrt(r*)) W_pop)
    drive = (np.sqrt(R_STAR) - W_POP @ R_STAR)[:, None]
    population = lambda r: W_POP @ r  # noqa: E731
    largest, radius = stability(population, power_law(), R_STAR[:, None], drive)
    gains = np.diag(2 * np.sqrt(R_STAR))
    assert largest == pytest.approx(np.linalg.eigvals(-np.eye(2) + gains @ W_POP).real.max(), rel=1e-9)
    assert radius == pytest.approx(np.abs(np.linalg.eigvals(gains @ W_POP)).max(), rel=1e-9)
    assert largest < 0  # stable
    assert 2 * np.sqrt(R_STAR[0]) * W_POP[0, 0] > 1  # the E subnetwork alone is unstable: an ISN
    assert paradoxical_response(population, power_law(), R_STAR[:, None], drive) < 0
    weak = W_POP * [[0.2], [1.0]]
    weak_drive = (np.sqrt(R_STAR) - weak @ R_STAR)[:, None]
    assert paradoxical_response(lambda r: weak @ r, power_law(), R_STAR[:, None], weak_drive) > 0


def test_stability_on_a_large_grid_uses_the_operator():
    coupling, baseline, drive = frmodels_model(501)
    largest, radius = stability(coupling, power_law(), baseline, drive)
    small = frmodels_model(101)
    dense_largest, _ = stability(small[0], power_law(), small[1], small[2])
    assert largest < 0 and radius > 1  # stable, and only thanks to inhibition
    assert largest == pytest.approx(dense_largest, abs=0.05)


def test_no_steady_state_is_a_clear_error():
    with pytest.raises(SteadyStateError, match="No steady state within"):
        steady_state(lambda r: 3.0 * r, power_law(), np.array([[1.0]]), max_iterations=20)
