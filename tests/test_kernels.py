"""Grids and kernels: FFT convolution against the dense matrix, normalisation, bad input."""

import numpy as np
import pytest

from frbrian.kernels import Exponential, Gaussian, Grid, WrappedGaussian

RNG = np.random.default_rng(0)

CASES = [
    (Grid((101,)), Gaussian(0.2)),
    (Grid((100,), periodic=True), WrappedGaussian(0.3)),
    (Grid((64,), periodic=True), Gaussian(0.1)),
    (Grid((80,)), Exponential(0.25) + 0.5 * Gaussian(0.1)),
    (Grid((20, 16)), Exponential(0.3)),
    (Grid((18, 12), periodic=True), WrappedGaussian(0.4) * Exponential(0.5)),
    (Grid((15, 15), extent=(0, 3)), Gaussian(0.5) + -0.3 * Gaussian(1.0)),
]


@pytest.mark.parametrize("grid, kernel", CASES)
def test_fft_convolution_equals_dense_matrix(grid, kernel):
    rates = RNG.uniform(0, 5, (3, grid.size))
    dense = rates @ kernel.matrix(grid).T
    assert np.allclose(kernel.convolver(grid)(rates), dense, rtol=1e-10, atol=1e-12 * np.abs(dense).max())


def test_discretisation_follows_frmodels():
    # W[x, y] = exp(-(x-y)^2/(2 sigma^2)) / sqrt(2 pi sigma^2) * dx on linspace(-1, 1, N)
    grid, sigma = Grid((101,)), 0.2173913
    x = np.linspace(-1, 1, 101)
    expected = np.exp(-(x[:, None] - x[None, :]) ** 2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2) * (x[1] - x[0])
    assert np.allclose(Gaussian(sigma).matrix(grid), expected, rtol=1e-12)
    assert np.allclose(grid.axes()[0], x)


@pytest.mark.parametrize("kernel", [Gaussian(0.1), Exponential(0.1)])
@pytest.mark.parametrize("shape", [(401,), (121, 121)])
def test_kernels_integrate_to_one(kernel, shape):
    grid = Grid(shape, extent=(-3, 3))
    centre = np.zeros(grid.size)
    centre[grid.size // 2] = 1.0
    assert kernel.convolver(grid)(centre).sum() == pytest.approx(1.0, rel=2e-2)


def test_wrapped_gaussian_is_periodic_and_complete():
    grid = Grid((50,), periodic=True)
    weights = WrappedGaussian(0.8).matrix(grid)
    assert np.allclose(weights.sum(axis=1), 1.0, rtol=1e-6)  # every unit, wide kernel
    assert np.allclose(weights, np.roll(np.roll(weights, 7, axis=0), 7, axis=1))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Gaussian(0), "width sigma of a kernel must be positive"),
        (lambda: Exponential(-1), "length scale of a kernel must be positive"),
        (lambda: Grid((1,)), "at least 2 points"),
        (lambda: Grid((3, 3, 3)), "1-D or 2-D"),
        (lambda: Grid((10,), extent=(1, -1)), "high > low"),
        (lambda: WrappedGaussian(0.2).matrix(Grid((10,))), "needs a periodic grid"),
        (lambda: Gaussian(np.nan), "width sigma of a kernel must be positive and finite; got nan"),
        (lambda: Exponential(np.inf), "length scale of a kernel must be positive and finite; got inf"),
        (lambda: np.nan * Gaussian(0.2), "constant factor or term of a kernel must be finite"),
        (lambda: Gaussian(0.2) + np.inf, "constant factor or term of a kernel must be finite"),
        (lambda: Grid((10,), extent=(-np.inf, 1)), "extent must be two finite numbers"),
    ],
)
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("grid", [Grid((101,)), Grid((12, 10), periodic=True)])
def test_coupling_between_cell_types_equals_dense_block_matrix(grid):
    from frbrian.coupling import Coupling

    weights = [[1.09546555, -0.89098157], [0.90011321, -0.28263247]]
    kernels = [[Gaussian(0.2173913), Gaussian(0.17391304)], [Gaussian(0.17391304), Exponential(0.22608696)]]
    coupling = Coupling(grid, weights, kernels)
    rates = RNG.uniform(0, 2, (4, 2, grid.size))
    dense = (coupling.matrix() @ rates.reshape(4, -1).T).T.reshape(rates.shape)
    assert np.allclose(coupling(rates), dense, rtol=1e-10, atol=1e-12)


def test_coupling_bad_shapes():
    from frbrian.coupling import Coupling

    with pytest.raises(ValueError, match="square matrix"):
        Coupling(Grid((10,)), [[1.0, 2.0]], Gaussian(0.1))
    with pytest.raises(ValueError, match="one per pair"):
        Coupling(Grid((10,)), np.eye(2), [[Gaussian(0.1)]])


@pytest.mark.parametrize("grid, kernel", [
    (Grid((51,)), Gaussian(1e-6)),              # 40,000 times narrower than a cell
    (Grid((51,)), Gaussian(0.008)),             # a fifth of a cell: 90% too much mass
    (Grid((51,)), Exponential(0.01)),           # a quarter of a cell: 2.1 times the mass
    (Grid((26, 26)), Gaussian(0.25) + Gaussian(0.005)),  # one narrow part of a sum, on a 2-D grid
])
def test_a_kernel_narrower_than_the_grid_is_refused(grid, kernel):
    """Sampled once per cell, such a kernel weighs a unit's neighbours wrongly: Gaussian(1e-6) on a 0.04 grid gave
    the inputs [3351, 9894] for uniform rates instead of W 1 = [0.21, 0.62]."""
    from frbrian.coupling import Coupling

    spacing = " x ".join([f"{grid.cell:g}"] * grid.ndim)
    for make in (lambda: Coupling(grid, [[0.1, 0.11], [0.3, 0.32]], kernel), lambda: kernel.matrix(grid),
                 lambda: kernel.convolver(grid)):
        with pytest.raises(ValueError, match=f"too narrow for the grid spacing {spacing}: the grid does not resolve"):
            make()


@pytest.mark.parametrize("kernel, off", [(Gaussian(0.012), 0.34), (Exponential(0.02), 0.32)])
def test_a_kernel_poorly_resolved_by_the_grid_is_warned_about(kernel, off):
    from frbrian.coupling import Coupling
    from frbrian.kernels import ResolutionWarning

    message = f"poorly resolved by the grid spacing 0.04. .* \\({off:.0%} off\\)"
    with pytest.warns(ResolutionWarning, match=message) as caught:
        Coupling(Grid((51,)), [[0.2]], kernel)
    assert caught[0].filename == __file__  # it points at the caller's line


def test_a_kernel_as_wide_as_a_cell_gives_the_weights():
    from frbrian.coupling import Coupling

    weights = np.array([[0.1, 0.11], [0.3, 0.32]])
    coupling = Coupling(Grid((51,)), weights, Gaussian(0.04))  # one cell
    inputs = coupling(np.ones((2, 51)))[:, 25]  # far from the edges (6 widths)
    assert np.allclose(inputs, weights @ np.ones(2), rtol=1e-6)  # [0.21, 0.62]


# --- a new kernel, defined once ------------------------------------------------------------------


def cauchy_kernel():
    """A Lorentzian kernel written once (one class, one formula): gamma/(pi*(d² + gamma²)) in 1-D."""
    from frbrian.kernels import Kernel

    class Lorentzian(Kernel):
        constants = {"gamma": "half width gamma"}

        def formula(self, xp, displacement, grid, gamma):
            return gamma / (np.pi * (displacement[0] ** 2 + gamma**2))

    return Lorentzian


def lorentzian_network_parts():
    from frbrian.coupling import Coupling

    Lorentzian = cauchy_kernel()
    coupling = Coupling(Grid((15,)), [[0.6, -0.5], [0.8, -0.3]], [[Lorentzian(0.3), Lorentzian(0.2)],
                                                                   [Lorentzian(0.25), Gaussian(0.2) + Lorentzian(0.4)]])
    drive = np.linspace(0.5, 1.5, 30).reshape(2, 15)
    return Lorentzian, coupling, drive


def test_a_new_kernel_defined_once_works_in_numpy_and_torch():
    Lorentzian, coupling, drive = lorentzian_network_parts()
    # numpy: the density is the formula, the FFT coupling the dense matrix
    assert Lorentzian(0.5).density(np.array([0.0, 0.5]))[0] == pytest.approx(1 / (np.pi * 0.5), rel=1e-14)
    assert Lorentzian(0.5).density(np.array([0.5]))[0] == pytest.approx(0.5 / (np.pi * 0.5), rel=1e-14)
    r = RNG.uniform(0, 1, (2, 15))
    assert np.allclose(coupling(r), (coupling.matrix() @ r.ravel()).reshape(2, 15), rtol=1e-10, atol=1e-13)
    torch = pytest.importorskip("torch")
    from frbrian import power_law, steady_state
    from frbrian.torch_model import RateModel

    model = RateModel(coupling, 0.01, power_law(), drive=drive)
    assert sorted(dict(model.named_parameters())) == ["drive", "kernel.gamma", "kernel.left_sigma", "kernel.right_gamma",
                                                      "tau", "transfer.type0", "transfer.type1",
                                                      "weights"]
    rates = model.steady_rates()
    assert np.allclose(rates.detach().numpy(), steady_state(coupling, power_law(), drive).rates, rtol=1e-9)
    rates.sum().backward()
    assert torch.all(torch.isfinite(model.kernel["gamma"].grad)) and float(model.kernel["gamma"].grad.abs().sum()) > 0
    rebuilt = model.to_coupling()
    assert np.allclose(rebuilt.matrix(), coupling.matrix(), rtol=1e-14)
    assert repr(rebuilt.kernels[1][1]) == "(Gaussian(0.2) + Lorentzian(0.4))"


@pytest.mark.parametrize("target", ["numpy", "cpp_standalone"])
def test_a_new_kernel_defined_once_works_in_brian2(target, tmp_path):
    from brian2 import Network, StateMonitor, ms
    from conftest import use_target

    from frbrian import RateNetwork, power_law

    Lorentzian, coupling, drive = lorentzian_network_parts()
    use_target(target, tmp_path)
    net = RateNetwork(coupling, tau=10 * ms, transfer=power_law(), drive=drive)
    monitors = [StateMonitor(g, "r", record=True) for g in net.groups]
    Network(net, *monitors).run(2 * ms)  # 20 Euler steps of 0.1 ms
    brian = np.stack([np.asarray(m.r_)[:, -1] for m in monitors])  # the last sample: after 19 steps
    expected = np.zeros((2, 15))
    for _ in range(19):
        expected = expected + 1e-4 * (-expected + power_law()(coupling(expected) + drive)) / 0.01
    assert np.allclose(brian, expected, rtol=1e-10, atol=1e-14), target
    assert not np.allclose(expected, 0)
