"""segment(model="unmix"): the autoencoder spectral unmixing variant (scatclust.cube._unmix).

Oracles: scipy.stats.poisson.logpmf (the Poisson NLL), a noiseless linear mixture built
here with known endmembers and abundances (recovered up to a permutation found by
scipy's Hungarian solver, linear_sum_assignment), and the mixture's pure pixels (the
k-means initialisation of the endmembers).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")
optimize = pytest.importorskip("scipy.optimize")

from scatclust.cube import segment  # noqa: E402
from scatclust.cube._unmix import init_endmembers, poisson_nll  # noqa: E402

K, C, H, W = 3, 64, 20, 20


def _mixture(seed=0, pure_fraction=0.5):
    """Noiseless (H, W, C) linear mixture of K peaked endmembers (unit-sum rows).

    ``pure_fraction`` of the pixels are pure (so the endmembers are the vertices of the
    data simplex and identifiable); the others are Dirichlet(1) mixtures. Intensities vary
    50-500.
    """
    rng = np.random.default_rng(seed)
    ch = np.arange(C)
    e = np.stack([np.exp(-0.5 * ((ch - c0) / 2.5) ** 2) + 0.05 for c0 in (12, 30, 50)])
    e[1] += 0.6 * np.exp(-0.5 * ((ch - 40) / 2.0) ** 2)
    e /= e.sum(1, keepdims=True)
    n = H * W
    a = rng.dirichlet(np.ones(K), size=n)
    pure = rng.random(n) < pure_fraction
    a[pure] = np.eye(K)[rng.integers(0, K, pure.sum())]
    scale = rng.uniform(50, 500, size=(n, 1))
    cube = (scale * (a @ e)).reshape(H, W, C)
    return cube, a, e


@pytest.fixture(scope="module")
def mixture():
    return _mixture()


@pytest.fixture(scope="module")
def fitted(mixture):
    cube, _, _ = mixture
    return segment(cube, n_clusters=K, model="unmix", n_pretrain=20, n_cluster_epochs=60, lr=3e-3,
                   batch_size=32, random_state=0)


def test_poisson_nll_matches_scipy():
    rng = np.random.default_rng(1)
    mu = rng.uniform(0.05, 30.0, size=(7, 11))
    x = rng.poisson(mu).astype(np.float64)
    x[0, :3] = 0.0
    mu[0, 0] = 0.0  # x = 0, mu = 0: probability 1, NLL 0
    expected = -stats.poisson.logpmf(x, mu).mean()
    got = float(poisson_nll(torch.from_numpy(x), torch.from_numpy(mu)))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    got32 = float(poisson_nll(torch.from_numpy(x).float(), torch.from_numpy(mu).float()))
    assert got32 == pytest.approx(expected, rel=1e-5)


def test_poisson_nll_gradient_is_analytic():
    # d/dmu mean(mu - x log mu) = (1 - x / mu) / size, and 1 / size at x = mu = 0
    x = torch.tensor([[0.0, 3.0, 1.0], [0.0, 0.0, 7.0]], dtype=torch.float64)
    mu = torch.tensor([[0.0, 2.0, 0.5], [1.5, 0.0, 9.0]], dtype=torch.float64, requires_grad=True)
    poisson_nll(x, mu).backward()
    m = mu.detach()
    expected = torch.where(x > 0, 1.0 - x / m, torch.ones_like(m)) / x.numel()
    torch.testing.assert_close(mu.grad, expected, rtol=1e-12, atol=1e-15)


def test_zero_count_pixel_in_mask_stays_finite(mixture):
    cube = mixture[0].copy()
    cube[0, 0] = 0.0  # no counts: mu = 0 there, which must not make the loss or gradients NaN
    seg = segment(cube, n_clusters=K, model="unmix", mask=np.ones((H, W), dtype=bool), n_pretrain=2,
                  n_cluster_epochs=2, random_state=0)
    assert np.all(np.isfinite(seg.history["recon"])) and np.all(np.isfinite(seg.endmembers))
    assert np.all(np.isfinite(seg.latent)) and seg.labels[0, 0] >= 0


def test_init_endmembers_are_the_pure_spectra(mixture):
    cube, a, e = mixture
    pure = a.max(1) == 1.0
    x = cube.reshape(-1, C)[pure]
    got = init_endmembers(x, a[pure].argmax(1), K, floor=0.0)
    np.testing.assert_allclose(got, e, rtol=1e-10)
    floored = init_endmembers(x, a[pure].argmax(1), K + 1, floor=0.01)  # cluster K is empty: flat
    np.testing.assert_allclose(floored.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(floored[K], 1.0 / C, rtol=1e-12)


def test_recovers_abundances_and_endmembers_of_a_noiseless_mixture(mixture, fitted):
    _, a, e = mixture
    est = fitted.latent.reshape(-1, K).astype(np.float64)
    rows, cols = optimize.linear_sum_assignment(-(est.T @ a))  # permutation: max overlap
    est_a, est_e = est[:, rows], fitted.endmembers[rows]
    true_a, true_e = a[:, cols], e[cols]
    # Stated tolerances: mean abundance error < 0.03 (max < 0.15), endmember L1 error < 0.05.
    # The fit reaches 0.013 (max 0.073) and 0.024; with the endmembers left at their k-means
    # initialisation (n_cluster_epochs=0) it is 0.062 (max 0.41) and 0.28.
    assert np.abs(est_a - true_a).mean() < 0.03
    assert np.abs(est_a - true_a).max() < 0.15
    assert np.abs(est_e - true_e).sum(1).max() < 0.05
    # labels are the argmax abundance: on the pure pixels, exactly the truth (permuted)
    pure = a.max(1) == 1.0
    perm = np.empty(K, dtype=int)
    perm[rows] = cols
    assert np.array_equal(perm[fitted.labels.ravel()[pure]], a[pure].argmax(1))


def test_outputs(mixture, fitted):
    assert fitted.latent.shape == (H, W, K)
    np.testing.assert_allclose(fitted.latent.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fitted.endmembers.sum(1), 1.0, rtol=1e-5)
    assert np.all(fitted.endmembers > 0) and fitted.endmembers.shape == (K, C)
    np.testing.assert_array_equal(fitted.labels, fitted.latent.argmax(-1))
    np.testing.assert_array_equal(fitted.centers, np.eye(K))
    assert fitted.mean_spectra.shape == (K, C)
    assert len(fitted.history["recon"]) == 80 and fitted.history["recon"][-1] < fitted.history["recon"][0]


def test_mask_and_k_selection():
    # Poisson draw of a 90 %-pure mixture: three noisy clusters of compositions (silhouette
    # at K = 3 ~0.7 against <= 0.63 elsewhere on seeds 1-3). On noiseless data the pure
    # pixels are exact points and the silhouette gains by splitting off mixtures (K = 4-5).
    cube, _, _ = _mixture(seed=1, pure_fraction=0.9)
    cube = np.random.default_rng(1).poisson(cube).astype(np.float64)
    mask = np.ones((H, W), dtype=bool)
    mask[:2] = False
    seg = segment(cube, k_range=(2, 5), mask=mask, model="unmix", n_pretrain=2, n_cluster_epochs=2, random_state=0)
    # K chosen by the silhouette on the PCA codes of the compositions sqrt(x / n)
    assert seg.n_clusters == K and seg.selection is not None
    assert np.all(seg.labels[:2] == -1) and np.all(np.isnan(seg.latent[:2]))
    assert np.all(seg.labels[2:] >= 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(model="unmix", regularizer="kl"), "regularizer"),
    (dict(model="unmix", reg_weight=0.1), "reg_weight"),
    (dict(model="nmf"), "unmix"),
])
def test_errors_name_the_argument(mixture, kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment(mixture[0], n_clusters=K, **kwargs)
