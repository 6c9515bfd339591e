"""scatclust.cube VAE variants, 1-D conv encoder and gap-statistic K (issue 7 B).

Oracles: closed forms (KL of Gaussians; the population MMD^2 of two Gaussians under an RBF
kernel), torch.distributions' KL, a direct double-loop numpy MMD, and the generator's
ground truth (ARI against its labels; its number of pigments for K).
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skm = pytest.importorskip("sklearn.metrics")

from scatclust.cube import segment  # noqa: E402
from scatclust.cube._segment import _build  # noqa: E402
from scatclust.cube._vae import kl_normal, mmd_rbf  # noqa: E402
from scatclust.datasets import synthetic_xrf  # noqa: E402

# Easy cube: pure pixels (blur 0), 100 counts per pixel, 5 pigments (k-means on the
# Anscombe spectra: ARI 1); small so each segment call takes ~1-2 s on one core.
EASY = dict(shape=(24, 24), n_channels=128, counts=100.0, blur=0.0, random_state=1)
FAST = dict(n_pretrain=15, n_cluster_epochs=3)


@pytest.fixture(scope="module")
def easy():
    return synthetic_xrf(**EASY)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_normal_closed_form(dtype):
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 3, generator=g, dtype=dtype)
    logvar = torch.randn(7, 3, generator=g, dtype=dtype)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                            torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    tol = 50 * torch.finfo(dtype).eps
    assert float(kl_normal(mu, logvar)) == pytest.approx(float(ref.sum(1).mean()), rel=tol)
    # Hand values: KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2.
    one = torch.tensor([[2.0, 0.0]], dtype=dtype)
    lv = torch.tensor([[0.0, math.log(4.0)]], dtype=dtype)
    assert float(kl_normal(one, lv)) == pytest.approx(0.5 * 4 + 0.5 * (4 - 1 - math.log(4)), rel=tol)
    assert float(kl_normal(torch.zeros(3, 2, dtype=dtype), torch.zeros(3, 2, dtype=dtype))) == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mmd_identical_and_direct_sum(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(dtype)
    y = rng.normal(1.0, 2.0, size=(30, 3)).astype(dtype)
    eps = float(np.finfo(dtype).eps)
    assert abs(float(mmd_rbf(torch.from_numpy(x), torch.from_numpy(x)))) <= 10 * eps
    h = 0.8

    def k(a, b):  # direct double loop, float64
        a, b = a.astype(np.float64), b.astype(np.float64)
        return np.array([[math.exp(-np.sum((p - q) ** 2) / (2 * h * h)) for q in b] for p in a])

    ref = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    got = float(mmd_rbf(torch.from_numpy(x), torch.from_numpy(y), bandwidth=h))
    assert got == pytest.approx(ref, rel=200 * eps, abs=200 * eps)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_rbf(torch.from_numpy(x), torch.from_numpy(y), bandwidth=0.0)


def test_mmd_shifted_gaussians_closed_form():
    # x ~ N(0, s^2 I), y ~ N(delta, s^2 I) in D dims, k = exp(-|a-b|^2 / (2 h^2)):
    # E k(x, x') = r^(D/2) with r = h^2 / (h^2 + 2 s^2), E k(x, y) = r^(D/2) exp(-|delta|^2 / (2 (h^2 + 2 s^2))),
    # so MMD^2 = 2 r^(D/2) (1 - exp(-|delta|^2 / (2 (h^2 + 2 s^2)))). The V-statistic adds
    # (1 - r^(D/2)) / N per sample (its i = j terms); the sampling error is O(1/sqrt(N)).
    d, s, h, n = 2, 1.0, 1.0, 2000
    delta = np.array([1.0, 0.5])
    g = torch.Generator().manual_seed(1)
    x = s * torch.randn(n, d, generator=g, dtype=torch.float64)
    y = s * torch.randn(n, d, generator=g, dtype=torch.float64) + torch.from_numpy(delta)
    r = h * h / (h * h + 2 * s * s)
    exact = 2 * r ** (d / 2) * (1 - math.exp(-delta @ delta / (2 * (h * h + 2 * s * s))))
    bias = 2 * (1 - r ** (d / 2)) / n
    got = float(mmd_rbf(x, y, bandwidth=h))
    # exact = 0.125; the estimator's sd at n = 2000 is ~0.005: 3 sd.
    assert got == pytest.approx(exact + bias, abs=0.015), (got, exact)
    # Identical distributions: MMD^2 -> 0 (only the bias and the sampling error remain).
    y0 = s * torch.randn(n, d, generator=g, dtype=torch.float64)
    assert float(mmd_rbf(x, y0, bandwidth=h)) < 0.1 * exact


def test_mmd_sends_gradient():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(12, 2, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(9, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: mmd_rbf(a, y), (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("regularizer", ["kl", "mmd"])
def test_vae_segments_easy_cube(easy, regularizer):
    seg = segment(easy.cube, n_clusters=5, model="vae", regularizer=regularizer, random_state=0, **FAST)
    ari = skm.adjusted_rand_score(easy.labels.ravel(), seg.labels.ravel())
    assert ari >= 0.95, ari
    assert len(seg.history["reg"]) == FAST["n_pretrain"] + FAST["n_cluster_epochs"]
    assert np.all(np.isfinite(seg.history["reg"])) and seg.history["reg"][-1] > 0
    assert seg.latent.shape == easy.cube.shape[:2] + (8,)


def test_vae_regularizer_pulls_codes_to_prior(easy):
    # A heavy KL weight drives the posterior means towards 0 compared with a light one.
    kw = dict(n_clusters=5, model="vae", n_pretrain=10, n_cluster_epochs=0, random_state=0)
    light = segment(easy.cube, reg_weight=0.0, **kw).latent
    heavy = segment(easy.cube, reg_weight=1.0, **kw).latent
    assert np.mean(heavy ** 2) < 0.5 * np.mean(light ** 2)


@pytest.mark.parametrize("n_channels", [128, 127, 33])
@pytest.mark.parametrize("variational", [False, True])
def test_conv_encoder_shapes(n_channels, variational):
    enc, dec = _build(n_channels, (32, 16), 4, True, variational)
    x = torch.rand(5, n_channels)
    z = enc(x)
    assert z.shape == (5, 8 if variational else 4)
    assert dec(z[:, :4]).shape == (5, n_channels)
    conv = [m for m in enc if isinstance(m, torch.nn.Conv1d)]
    assert len(conv) == 2


def test_conv_encoder_segments_easy_cube(easy):
    seg = segment(easy.cube, n_clusters=5, conv=True, random_state=0, **FAST)
    ari = skm.adjusted_rand_score(easy.labels.ravel(), seg.labels.ravel())
    assert ari >= 0.95, ari


def test_k_chosen_by_gap_statistic():
    # The cube this choice was measured on: the generator's excitation before 2026-12-07
    # (monochromatic 20 keV, 1-20 keV). On the same cube at the 40 keV default the gap rule
    # picks K = 8 (2026-12-07): after its jump at K = 5 (1.45 -> 3.19) the gap still grows by
    # 0.04-0.15 per k, more than its ~0.01 sd; the silhouette picks K = 5 on both cubes.
    easy = synthetic_xrf(**EASY, excitation_energy=20.0, energy_range=(1.0, 20.0))
    seg = segment(easy.cube, n_clusters=None, k_range=(2, 8), k_method="gap", n_refs=5, n_pretrain=25,
                  n_cluster_epochs=0, random_state=0)
    sel = seg.selection
    assert sel.metrics == ("gap",)
    assert seg.n_clusters == sel.best["gap"] == sel.gap.best_k
    assert seg.n_clusters == 5  # five pigments
    # The rule itself: Gap(5) >= Gap(6) - s_6 and no smaller k satisfies it.
    k = list(sel.gap.k)
    i = k.index(5)
    assert sel.gap.gap[i] >= sel.gap.gap[i + 1] - sel.gap.gap_sd[i + 1]
    assert all(sel.gap.gap[j] < sel.gap.gap[j + 1] - sel.gap.gap_sd[j + 1] for j in range(i))


@pytest.mark.parametrize("kwargs, match", [
    (dict(model="gmm"), "model"),
    (dict(regularizer="kl"), "regularizer"),
    (dict(model="vae", regularizer="wasserstein"), "regularizer"),
    (dict(reg_weight=1.0), "reg_weight"),
    (dict(model="vae", reg_weight=-1.0), "reg_weight"),
    (dict(k_method="elbow"), "k_method"),
    (dict(n_refs=0), "n_refs"),
])
def test_errors_name_the_argument(easy, kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment(easy.cube, **kwargs)
