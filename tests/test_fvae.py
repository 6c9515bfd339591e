"""Factorial VAE (scatclust.models) and its building blocks (scatclust.nn): Gumbel-softmax,
temperature schedule, loss formulas vs scipy, parameter count, normalisation stored in the
checkpoint, resume equality, clustering of a synthetic nested problem (ARI vs truth)."""
import math
import os

import numpy as np
import pytest
from conftest import DTYPES, rel_err, tol

torch = pytest.importorskip("torch", reason="the F-VAE needs torch")
scipy_stats = pytest.importorskip("scipy.stats")
from scipy.special import rel_entr  # noqa: E402

from scatclust.models import PUBLISHED_CONFIG, FactorialVAE, FVAEClustering, fvae_parameter_count  # noqa: E402
from scatclust.models._fvae import categorical_kl_uniform, gaussian_kl, gaussian_nll  # noqa: E402
from scatclust.nn import MLP, TemperatureSchedule, gumbel_softmax, mlp_parameter_count  # noqa: E402

TDT = {np.float32: torch.float32, np.float64: torch.float64}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


# ------------------------------------------------------------------ Gumbel-softmax
@pytest.mark.parametrize("dtype", DTYPES)
def test_gumbel_softmax_matches_numpy(dtype):
    logits = torch.tensor(np.random.default_rng(0).normal(size=(7, 5)), dtype=TDT[dtype])
    y = gumbel_softmax(logits, tau=0.7, generator=torch.Generator().manual_seed(3))
    # oracle: the same uniforms, the Gumbel transform and the softmax in numpy float64
    u = torch.rand(logits.shape, generator=torch.Generator().manual_seed(3), dtype=TDT[dtype]).numpy()
    a = (logits.numpy().astype(np.float64) - np.log(-np.log(u.astype(np.float64)))) / 0.7
    ref = np.exp(a - a.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert y.dtype == TDT[dtype]
    assert rel_err(y.numpy(), ref) < 10 * tol(dtype)
    np.testing.assert_allclose(y.sum(-1).numpy(), 1.0, rtol=10 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gumbel_softmax_hard_is_one_hot_with_straight_through_gradient(dtype):
    logits = torch.tensor(np.random.default_rng(1).normal(size=(6, 4)), dtype=TDT[dtype], requires_grad=True)
    w = torch.tensor(np.random.default_rng(2).normal(size=(6, 4)), dtype=TDT[dtype])
    y = gumbel_softmax(logits, tau=0.5, hard=True, generator=torch.Generator().manual_seed(5))
    soft = gumbel_softmax(logits, tau=0.5, generator=torch.Generator().manual_seed(5))
    yv = y.detach().numpy()
    assert set(np.unique(yv)) <= {0.0, 1.0} and (yv.sum(-1) == 1).all()
    np.testing.assert_array_equal(yv.argmax(-1), soft.detach().numpy().argmax(-1))
    (g_hard,) = torch.autograd.grad((y * w).sum(), logits)
    (g_soft,) = torch.autograd.grad((soft * w).sum(), logits)
    assert np.abs(g_hard.numpy()).max() > 0
    assert rel_err(g_hard.numpy(), g_soft.numpy()) < 10 * tol(dtype)


def test_temperature_schedule():
    s = TemperatureSchedule(tau0=2.0, tau_min=0.3, rate=0.01)
    for step in (0, 1, 50, 150):
        assert s(step) == pytest.approx(max(0.3, 2.0 * math.exp(-0.01 * step)), rel=1e-15)
    assert s(10**5) == 0.3
    assert TemperatureSchedule(1.0, 0.5, 0.0)(1000) == 1.0
    with pytest.raises(ValueError, match=r"tau_min=2.0 must be in \(0, tau0=1.0\]"):
        TemperatureSchedule(1.0, 2.0)
    with pytest.raises(ValueError, match="rate=-1 must be >= 0"):
        TemperatureSchedule(rate=-1)
    with pytest.raises(ValueError, match="step=-1"):
        s(-1)
    with pytest.raises(ValueError, match="tau=0 must be a finite number > 0"):
        gumbel_softmax(torch.zeros(2, 3), tau=0)


# ------------------------------------------------------------------ loss formulas
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_formulas_match_scipy(dtype):
    rng = np.random.default_rng(7)
    mq, mp, x = (rng.normal(size=(5, 3)) for _ in range(3))
    vq, vp = rng.normal(scale=0.5, size=(2, 5, 3))
    logits = rng.normal(size=(5, 4))
    T = lambda a: torch.tensor(a, dtype=TDT[dtype])  # noqa: E731
    # KL of diagonal Gaussians from standard deviations (independent parameterisation)
    sq, sp = np.exp(vq / 2), np.exp(vp / 2)
    kl_ref = (np.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5).sum(-1)
    nll_ref = -scipy_stats.norm.logpdf(x, loc=mq, scale=sq).sum(-1)
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    kly_ref = rel_entr(q, np.full_like(q, 0.25)).sum(-1)
    assert rel_err(gaussian_kl(T(mq), T(vq), T(mp), T(vp)).numpy(), kl_ref) < 10 * tol(dtype)
    assert rel_err(gaussian_nll(T(x), T(mq), T(vq)).numpy(), nll_ref) < 10 * tol(dtype)
    assert rel_err(categorical_kl_uniform(T(logits)).numpy(), kly_ref) < 10 * tol(dtype)
    # zero divergence of a distribution from itself
    assert np.abs(gaussian_kl(T(mq), T(vq), T(mq), T(vq)).numpy()).max() < 10 * np.finfo(dtype).eps
    assert np.abs(categorical_kl_uniform(T(np.zeros((2, 4)))).numpy()).max() < 10 * np.finfo(dtype).eps


def test_forward_total_is_weighted_sum_of_terms():
    torch.manual_seed(0)
    m = FactorialVAE(6, n_scales=3, n_clusters=(2, 3, 4), latent_dim=2, hidden=(8,), dtype=torch.float64)
    x = torch.tensor(np.random.default_rng(0).normal(size=(9, 3, 6)))
    out = m(x, 0.8, generator=torch.Generator().manual_seed(1), w_rec=0.5, w_z=2.0, w_y=3.0)
    loss = out["loss"]
    assert loss["rec"].shape == loss["kl_z"].shape == loss["kl_y"].shape == (9, 3)
    ref = (0.5 * loss["rec"] + 2.0 * loss["kl_z"] + 3.0 * loss["kl_y"]).detach().numpy().sum(1).mean()
    assert float(loss["total"].detach()) == pytest.approx(ref, rel=1e-13)
    assert (loss["kl_z"].detach().numpy() >= 0).all() and (loss["kl_y"].detach().numpy() >= -1e-15).all()
    # KL(y) uses the encoder's q(y|x): compare with scipy on the returned logits
    for s, K in enumerate((2, 3, 4)):
        lg = out["logits"][s].detach().numpy()
        q = np.exp(lg - lg.max(-1, keepdims=True))
        q /= q.sum(-1, keepdims=True)
        np.testing.assert_allclose(loss["kl_y"][:, s].detach().numpy(), rel_entr(q, 1.0 / K).sum(-1),
                                   rtol=1e-10, atol=100 * np.finfo(np.float64).eps)  # sum q log q + log K cancels


# ------------------------------------------------------------------ parameter count
@pytest.mark.parametrize("cfg", [
    dict(n_features=10, n_scales=4, n_clusters=5, latent_dim=3, hidden=(16, 8)),
    dict(n_features=7, n_scales=2, n_clusters=(2, 6), latent_dim=1, hidden=()),
    dict(n_features=33, n_scales=1, n_clusters=3, latent_dim=4, hidden=(5, 9, 2)),
])
def test_parameter_count_formula(cfg):
    m = FactorialVAE(**cfg)
    assert sum(p.numel() for p in m.parameters()) == fvae_parameter_count(**cfg)
    assert sum(p.numel() for p in MLP(cfg["n_features"], (4, 2)).parameters()) == \
        mlp_parameter_count(cfg["n_features"], (4, 2))


def test_published_configuration_on_meta_device():
    m = FactorialVAE(**PUBLISHED_CONFIG, device="meta")
    n = sum(p.numel() for p in m.parameters())
    assert all(p.is_meta for p in m.parameters())
    assert n == fvae_parameter_count(**PUBLISHED_CONFIG) == 195_931_896
    assert abs(n - 196e6) < 0.005 * 196e6


# ------------------------------------------------------------------ synthetic nested problem
def _nested(seed, n=1000, F=12):
    """Six small-scale clusters nested two by two in three large-scale ones."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 6, n)
    large = small // 2
    mu0, mu1 = rng.normal(0, 4, (6, F)), rng.normal(0, 4, (3, F))
    X = np.stack([mu0[small] + rng.normal(size=(n, F)), mu1[large] + rng.normal(size=(n, F))], 1)
    return X, small, large


def test_nested_clusters_are_recovered():
    from sklearn.metrics import adjusted_rand_score

    X, small, large = _nested(0)
    est = FVAEClustering(n_clusters=(6, 3), latent_dim=4, hidden=(32,), epochs=100, batch_size=64, lr=3e-3,
                         random_state=0).fit(X)
    assert adjusted_rand_score(small, est.labels_[:, 0]) >= 0.9
    assert adjusted_rand_score(large, est.labels_[:, 1]) >= 0.9
    table = est.contingency(0, 1)
    assert table.shape == (6, 3) and table.sum() == len(X)
    np.testing.assert_array_equal(table, est.contingency(0, 1, X))
    # every small-scale cluster sits (>= 95 %) inside one large-scale cluster, two per large one
    assert (table.max(1) >= 0.95 * table.sum(1)).all()
    assert sorted(np.bincount(table.argmax(1), minlength=3)) == [2, 2, 2]
    # the nesting found equals the true one: map predicted clusters to true ones by majority
    to_small = [np.bincount(small[est.labels_[:, 0] == k], minlength=6).argmax() for k in range(6)]
    to_large = [np.bincount(large[est.labels_[:, 1] == k], minlength=3).argmax() for k in range(3)]
    for k in range(6):
        assert to_large[table[k].argmax()] == to_small[k] // 2
    # read-out consistency
    proba = est.predict_proba(X)
    assert isinstance(proba, list) and proba[0].shape == (1000, 6) and proba[1].shape == (1000, 3)
    np.testing.assert_allclose(proba[0].sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(est.predict(X), est.labels_)
    np.testing.assert_allclose(est.confidence(X), est.confidence_, rtol=1e-6)
    assert est.transform(X).shape == (1000, 2, 4)
    order, lab, conf = est.sort_by_confidence(1)
    assert (np.diff(conf) <= 0).all()
    np.testing.assert_array_equal(lab, est.labels_[order, 1])
    np.testing.assert_array_equal(conf, est.confidence_[order, 1])


# ------------------------------------------------------------------ normalisation, checkpoints
def _small_est(**kw):
    return FVAEClustering(**{**dict(n_clusters=3, latent_dim=2, hidden=(8,), epochs=4, batch_size=50,
                                    random_state=3), **kw})


def test_normalisation_stats_stored_and_reused(tmp_path):
    X, _, _ = _nested(1, n=300, F=5)
    X = X * np.array([1.0, 50.0])[:, None] + 7.0  # scales with very different statistics
    ckpt = tmp_path / "m.pt"
    est = _small_est().fit(X, checkpoint=ckpt)
    np.testing.assert_allclose(est.mean_, X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(est.std_, X.std(0), rtol=1e-12)
    full = est.predict(X)
    sub = np.arange(0, 300, 7)
    np.testing.assert_array_equal(est.predict(X[sub]), full[sub])
    np.testing.assert_array_equal(est.predict(X[:1]), full[:1])
    loaded = FVAEClustering.load(ckpt)
    np.testing.assert_array_equal(loaded.mean_, est.mean_)
    np.testing.assert_array_equal(loaded.std_, est.std_)
    np.testing.assert_array_equal(loaded.predict(X[sub]), full[sub])
    # float32 matrix products may sum in a batch-size-dependent order (seen on AMD EPYC: 6e-8), so
    # the subset's latent means agree to float32 rounding; statistics recomputed from the subset
    # would move them by O(1).
    np.testing.assert_allclose(loaded.transform(X[sub]), est.transform(X)[sub], rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="pass X"):
        loaded.contingency(0, 1)


def test_resume_equals_uninterrupted_run(tmp_path):
    X, _, _ = _nested(2, n=200, F=5)
    ckpt = tmp_path / "run.pt"
    first = _small_est(epochs=2).fit(X, checkpoint=ckpt)
    assert first.n_epochs_ == 2
    resumed = _small_est(epochs=5).fit(X, checkpoint=ckpt)
    straight = _small_est(epochs=5).fit(X)
    assert resumed.n_epochs_ == 5 and resumed.history_ == straight.history_
    for (k, a), (_, b) in zip(resumed.model_.state_dict().items(), straight.model_.state_dict().items()):
        assert torch.equal(a, b), k
    assert sorted(os.listdir(tmp_path)) == ["run.pt"]  # no temporary file left behind
    # same seed, same labels; another seed, other weights
    np.testing.assert_array_equal(_small_est(epochs=5).fit(X).labels_, straight.labels_)
    other = _small_est(epochs=5, random_state=4).fit(X)
    assert not torch.equal(other.model_.obs_logvar, straight.model_.obs_logvar)
    with pytest.raises(ValueError, match=r"made with lr=0.001, this estimator has lr=0.01"):
        _small_est(lr=0.01).fit(X, checkpoint=ckpt)
    with pytest.raises(ValueError, match="trained on other data"):
        _small_est(epochs=6).fit(X + 1.0, checkpoint=ckpt)


def test_errors_name_the_argument():
    X = np.zeros((20, 2, 3))
    with pytest.raises(ValueError, match=r"X.shape=\(20, 6\) must be \(n_windows, n_scales, n_features\)"):
        _small_est().fit(X.reshape(20, 6))
    with pytest.raises(ValueError, match="X contains NaN"):
        _small_est().fit(np.full((5, 2, 3), np.nan))
    with pytest.raises(ValueError, match="epochs=0 must be an int >= 1"):
        _small_est(epochs=0).fit(X)
    with pytest.raises(ValueError, match="device='tpu' must be"):
        _small_est(device="tpu").fit(X)
    with pytest.raises(ValueError, match="random_state=-1"):
        _small_est(random_state=-1).fit(X)
    with pytest.raises(ValueError, match=r"n_clusters=\(2, 3, 4\) gives 3 values for n_scales=2"):
        _small_est(n_clusters=(2, 3, 4)).fit(X)
    with pytest.raises(ValueError, match="n_clusters=1"):
        FactorialVAE(3, n_clusters=1)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        _small_est().predict(X)
    est = _small_est(epochs=1).fit(np.random.default_rng(0).normal(size=(20, 2, 3)))
    with pytest.raises(ValueError, match=r"X.shape=\(4, 3, 3\) does not match the fitted"):
        est.predict(np.zeros((4, 3, 3)))
    with pytest.raises(IndexError, match="scale=2 is out of range for n_scales=2"):
        est.sort_by_confidence(2)
    with pytest.raises(IndexError, match="scale_b=5 is out of range"):
        est.contingency(0, 5)
    with pytest.raises(ValueError, match="invalid parameter 'k'"):
        est.set_params(k=3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' but torch.cuda.is_available"):
            _small_est(device="cuda").fit(X)


def test_progress_lines_without_tqdm(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm.auto import tqdm` fail
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, _, _ = _nested(3, n=60, F=4)
    est = _small_est(epochs=2, verbose=True).fit(X)
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["FVAEClustering epoch 1/2", "FVAEClustering epoch 2/2"]
    assert f"loss {est.history_[1]:.4f}" in err[1]
    _small_est(epochs=2).fit(X)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ restarts, learned mixture weights
@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_kl_matches_scipy(dtype):
    from scatclust.models._fvae import categorical_kl

    rng = np.random.default_rng(11)
    logits, prior = rng.normal(size=(5, 4)), rng.normal(size=4)
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    pi = np.exp(prior - prior.max())
    pi /= pi.sum()
    T = lambda a: torch.tensor(a, dtype=TDT[dtype])  # noqa: E731
    ref = rel_entr(q, pi[None]).sum(-1)
    assert rel_err(categorical_kl(T(logits), T(prior)).numpy(), ref) < 10 * tol(dtype)
    # zero prior logits = the uniform prior
    assert rel_err(categorical_kl(T(logits), T(np.zeros(4))).numpy(),
                   categorical_kl_uniform(T(logits)).numpy()) < 10 * tol(dtype)


def test_learned_weights_parameters_and_checkpoint(tmp_path):
    m = FactorialVAE(7, n_scales=2, n_clusters=(3, 4), latent_dim=2, hidden=(5,), learn_weights=True)
    assert sum(p.numel() for p in m.parameters()) == fvae_parameter_count(7, 2, (3, 4), 2, (5,), learn_weights=True) \
        == fvae_parameter_count(7, 2, (3, 4), 2, (5,)) + 7
    X, _, _ = _nested(3, n=200, F=5)
    est = _small_est(learn_weights=True).fit(X, checkpoint=tmp_path / "w.pt")
    assert [tuple(p.shape) for p in est.model_.prior_logits] == [(3,), (3,)]
    # the weights are trained (they left their zero initialisation)
    assert float(est.model_.prior_logits[0].detach().abs().max()) > 0
    loaded = FVAEClustering.load(tmp_path / "w.pt")
    assert loaded.learn_weights is True
    np.testing.assert_array_equal(loaded.predict(X), est.labels_)


def test_restarts_keep_the_highest_elbo(tmp_path):
    X, _, _ = _nested(4, n=200, F=5)
    multi = _small_est(n_init=3).fit(X)
    single = _small_est().fit(X)
    assert len(multi.elbos_) == 3 and multi.elbo_ == max(multi.elbos_)
    # restart 0 is the n_init=1 run (same seed): same ELBO (fixed-noise estimate, so equal bits)
    assert multi.elbos_[0] == single.elbo_
    assert len(set(multi.elbos_)) == 3  # the restarts differ
    # the kept model is the best restart's: a run stopped right after that restart gives it
    best = int(np.argmax(multi.elbos_))
    refit = _small_est(n_init=best + 1).fit(X)
    for (k, a), (_, b) in zip(refit.model_.state_dict().items(), multi.model_.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="needs n_init=1"):
        _small_est(n_init=2).fit(X, checkpoint=tmp_path / "r.pt")
    with pytest.raises(ValueError, match="n_init=0 must be an int >= 1"):
        _small_est(n_init=0).fit(X)


# ------------------------------------------------------------------ data-driven mixture start (init=)
def _pretrained_latent(est, X):
    """Latent means and posterior variances with y uniform, per scale (the init's data), from the
    model's own modules: (n, S, d) arrays."""
    m = est.model_
    xn = torch.from_numpy(((X - est.mean_) / est.std_).astype(np.float32))
    with torch.no_grad():
        h = m.trunk(xn)
        mv = [m.z_posterior(h, s, torch.full((len(X), K), 1.0 / K)) for s, K in enumerate(m.n_clusters)]
    return np.stack([a.numpy() for a, _ in mv], 1), np.stack([np.exp(b.numpy()) for _, b in mv], 1)


@pytest.mark.parametrize("learn_weights", [False, True])
def test_kmeans_init_equals_sklearn_kmeans_of_latent_means(learn_weights):
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.metrics import adjusted_rand_score

    X, small, large = _nested(5, n=400, F=6)
    # epochs == pretrain_epochs: the fitted model is the initialised one, before any mixture epoch
    est = FVAEClustering(n_clusters=(6, 3), latent_dim=4, hidden=(32,), epochs=20, pretrain_epochs=20, batch_size=50,
                         lr=1e-2, init="kmeans", learn_weights=learn_weights, random_state=0).fit(X)
    Z, pv = _pretrained_latent(est, X)
    # the z heads no longer depend on y: transform (y = q(y|x)) gives the uniform-y means
    np.testing.assert_allclose(est.transform(X), Z, rtol=0, atol=10 * np.finfo(np.float32).eps * np.abs(Z).max())
    for s, K in enumerate((6, 3)):
        sk = SkKMeans(K, n_init=10, random_state=0).fit(Z[:, s].astype(np.float64))
        # the latent keeps the true clusters apart (so both k-means find the same optimum, not
        # two local ones)
        assert adjusted_rand_score((small, large)[s], sk.labels_) >= 0.95
        # match our clusters to sklearn's by the nearest prior mean
        mu = est.model_.prior_mean[s].detach().numpy()
        order = np.argmin(((sk.cluster_centers_[:, None] - mu[None]) ** 2).sum(-1), 1)
        assert sorted(order) == list(range(K))
        # float32 sums of ~n / K latent means: relative error ~ a few float32 eps
        assert rel_err(mu[order], sk.cluster_centers_) < 1e-6
        var = np.stack([Z[sk.labels_ == k, s].var(0) + pv[sk.labels_ == k, s].mean(0) for k in range(K)])
        lv = est.model_.prior_logvar[s].detach().numpy()[order]
        np.testing.assert_allclose(lv, np.log(var), rtol=0, atol=1e-5)
        # q(y|x) agrees with the prior's clusters
        assert adjusted_rand_score(sk.labels_, est.labels_[:, s]) >= 0.99
        if learn_weights:
            frac = np.bincount(sk.labels_, minlength=K) / len(X)
            np.testing.assert_allclose(est.model_.prior_logits[s].detach().numpy()[order], np.log(frac), atol=1e-6)


def test_kmeans_init_floors_the_prior_variance_of_a_one_window_cluster():
    # The state seen on the Mars bench (record 10, 30 pretraining epochs with pretrain_w_z=0.01): one
    # outlier window alone in its k-means cluster, its posterior log-variance ~ -30, so the cluster's
    # prior variance was var (0) + exp(-30), and the first relaxed sample y~ with weight on it gave a
    # KL_z of ~1e14 (mean training loss 7.9e11 in the first mixture epoch). Hand-set encoder:
    # identity trunk, m = x, v = -30 for every window.
    from sklearn.cluster import KMeans as SkKMeans

    rng = np.random.default_rng(4)
    F = d = K = 3
    Z = np.concatenate([rng.normal(size=(100, F)), rng.normal(size=(100, F)) + [8.0, 0, 0], [[4.0, 12.0, 0]]])
    x = torch.from_numpy(Z[:, None, :].astype(np.float32))
    torch.manual_seed(0)
    model = FactorialVAE(F, 1, K, d, hidden=())
    v = -30.0
    with torch.no_grad():
        W, b = model.z_heads[0].weight, model.z_heads[0].bias
        W.zero_(), b.zero_()
        W[:d, :F] = torch.eye(F)
        b[d:] = v
    est = FVAEClustering(K, latent_dim=d, hidden=(), init="kmeans", pretrain_epochs=1)
    est._init_mixture(model, x, seed=0, device=torch.device("cpu"))
    # oracle clusters (sklearn): the outlier is alone
    sk = SkKMeans(K, n_init=10, random_state=0).fit(Z)
    alone = sk.labels_[-1]
    assert np.sum(sk.labels_ == alone) == 1
    mu = model.prior_mean[0].detach().double().numpy()
    order = np.argmin(((sk.cluster_centers_[:, None] - mu[None]) ** 2).sum(-1), 1)
    assert sorted(order) == list(range(K))
    mu, lv = mu[order], model.prior_logvar[0].detach().double().numpy()[order]
    pv = np.exp(v)
    total = Z.var(0) + pv  # variance of all windows' latents per dimension
    for k in range(K):
        var = Z[sk.labels_ == k].var(0) + pv
        # the floor (1e-4 of the total) acts only on the one-window cluster; float32 latents: 1e-5
        want = np.log(np.maximum(var, 1e-4 * total)) if k == alone else np.log(var)
        np.testing.assert_allclose(lv[k], want, rtol=0, atol=1e-5, err_msg=f"cluster {k}")
    # analytic KL(q(z|x_i) || p(z|y=k)) of every window to every cluster (a relaxed sample can put
    # its weight anywhere): finite and within the bound that a prior variance >= 1e-4 * total gives,
    # 1/2 sum_j [log(var_kj / pv) + (m_ij - mu_kj)^2 / (1e-4 total_j)] with var_kj <= total_j + range_j^2
    kl = 0.5 * (lv[None] - v + (pv + (Z[:, None] - mu[None]) ** 2) * np.exp(-lv[None]) - 1).sum(-1)
    rng_j = Z.max(0) - Z.min(0)
    bound = 0.5 * (np.log((total + rng_j ** 2) / pv) + rng_j ** 2 / (1e-4 * total)).sum()
    assert np.isfinite(kl).all() and kl.max() <= bound, (kl.max(), bound)  # without the floor: 1.4e15
    # the model's own KL term agrees with the analytic one (y one-hot on the one-window cluster)
    y = torch.zeros(len(Z), K, dtype=torch.float32)
    y[:, order[alone]] = 1.0
    with torch.no_grad():
        m_, v_ = model.z_posterior(model.trunk(x), 0, y)
        kl_model = gaussian_kl(m_, v_, y @ model.prior_mean[0], y @ model.prior_logvar[0]).double().numpy()
    np.testing.assert_allclose(kl_model, kl[:, alone], rtol=1e-4)


def test_gmm_init_and_pretraining_reproducible_and_resumable(tmp_path):
    pytest.importorskip("sklearn.mixture")
    X, _, _ = _nested(6, n=200, F=5)
    kw = dict(init="gmm", pretrain_epochs=3, epochs=5)
    a = _small_est(**kw).fit(X)
    b = _small_est(**kw).fit(X)
    for (k, u), (_, w) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        assert torch.equal(u, w), k
    # checkpoints before and right after the initialisation resume to the uninterrupted run
    for stop in (2, 3):
        ckpt = tmp_path / f"g{stop}.pt"
        _small_est(**{**kw, "epochs": stop}).fit(X, checkpoint=ckpt)
        resumed = _small_est(**kw).fit(X, checkpoint=ckpt)
        assert resumed.history_ == a.history_
        for (k, u), (_, w) in zip(resumed.model_.state_dict().items(), a.model_.state_dict().items()):
            assert torch.equal(u, w), (stop, k)
    # a gmm start differs from a random one after the same pretraining
    r = _small_est(**{**kw, "init": "random", "epochs": 3}).fit(X)
    g = _small_est(**{**kw, "epochs": 3}).fit(X)
    assert not torch.equal(r.model_.prior_mean[0], g.model_.prior_mean[0])
    sr, sg = r.model_.state_dict(), g.model_.state_dict()
    for name in ("trunk.0.weight", "obs_logvar", "decoders.0.0.weight"):  # the pretraining itself is the same
        assert torch.equal(sr[name], sg[name]), name


def test_init_errors_name_the_argument():
    X = np.random.default_rng(0).normal(size=(20, 2, 3))
    with pytest.raises(ValueError, match="init='pca' must be 'random', 'kmeans', 'gmm' or 'kmeans-input'"):
        _small_est(init="pca").fit(X)
    with pytest.raises(ValueError, match=r"pretrain_epochs=-1 must be an int"):
        _small_est(pretrain_epochs=-1).fit(X)
    with pytest.raises(ValueError, match=r"pretrain_epochs=True must be an int"):
        _small_est(pretrain_epochs=True).fit(X)


def test_same_values_give_the_same_fit_whatever_the_memory_layout_and_global_rngs():
    # The oracle is the fit on the C-contiguous array: equal values, parameters and random_state must
    # give bit-identical weights and labels. ScatteringPyramid features come with the feature axis
    # outermost in memory; before X was made C-contiguous, float32 matrix products on that layout
    # summed in another order and the training drifted away (bench vs script, bench/RESULTS.md).
    import random

    X, _, _ = _nested(8, n=300, F=260)  # >= 256 features: the layout changed the sums (AMD EPYC, MKL)
    kw = dict(init="kmeans", pretrain_epochs=2, epochs=5, hidden=(32,), latent_dim=3)
    ref = _small_est(**kw).fit(X)
    feat_outer = np.empty((X.shape[2], X.shape[0], X.shape[1])).transpose(1, 2, 0)
    feat_outer[...] = X
    layouts = {"feature axis outermost": feat_outer, "Fortran": np.asfortranarray(X),
               "every other row of a bigger array": np.repeat(X, 2, axis=0)[::2]}
    for name, Xl in layouts.items():
        assert not Xl.flags["C_CONTIGUOUS"] and np.array_equal(Xl, X), name
        # draws from the global generators in between must not matter either
        torch.manual_seed(999)
        torch.rand(10)
        np.random.seed(5)
        np.random.rand(10)
        random.seed(1)
        est = _small_est(**kw).fit(Xl)
        assert est.history_ == ref.history_, name
        for (k, a), (_, b) in zip(est.model_.state_dict().items(), ref.model_.state_dict().items()):
            assert torch.equal(a, b), (name, k)
        np.testing.assert_array_equal(est.labels_, ref.labels_, err_msg=name)
        np.testing.assert_array_equal(est.predict_proba(Xl), ref.predict_proba(X), err_msg=name)


@pytest.mark.parametrize("weights, which", [((1.0, 1.0, 0.01, 0.01), "a"), ((0.01, 0.01, 1.0, 1.0), "b"),
                                            (None, None)])
def test_kmeans_input_init_starts_from_kmeans_of_the_weighted_inputs(weights, which):
    # Two independent two-group splits, one in features 0-1 and one in features 2-3; the feature
    # weights decide which one k-means on the inputs finds. Oracle: scikit-learn's KMeans on the
    # standardised inputs scaled by sqrt(weight) (its squared distance weighs feature f by w_f).
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(11)
    n = 300
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    X = rng.normal(size=(n, 1, 4))
    X[:, 0, :2] += 4.0 * a[:, None]
    X[:, 0, 2:] += 4.0 * b[:, None]
    est = FVAEClustering(2, latent_dim=2, hidden=(16,), epochs=5, pretrain_epochs=5, batch_size=50,
                         init="kmeans-input", feature_weights=weights, random_state=0).fit(X)
    Xn = (X[:, 0] - est.mean_[0]) / est.std_[0]
    w = np.ones(4) if weights is None else np.asarray(weights)
    sk = SkKMeans(2, n_init=10, random_state=0).fit(Xn * np.sqrt(w))
    if which is not None:
        other = {"a": b, "b": a}[which]  # the weights decide which split k-means finds
        assert adjusted_rand_score({"a": a, "b": b}[which], sk.labels_) >= 0.95
        assert abs(adjusted_rand_score(other, sk.labels_)) < 0.05
    # the y head reproduces the input partition (epochs == pretrain_epochs: the initialised model);
    # it is linear in the trunk's features, so a window on the border may differ (>= 0.97: ~1 of 300)
    assert adjusted_rand_score(sk.labels_, est.labels_[:, 0]) >= 0.97
    # the prior means are the latent means of the input clusters (uniform-y latents, float32)
    Z, pv = _pretrained_latent(est, X)
    mu = est.model_.prior_mean[0].detach().double().numpy()
    want = np.stack([Z[sk.labels_ == k, 0].mean(0) for k in range(2)])
    order = [int(np.bincount(est.labels_[sk.labels_ == k, 0]).argmax()) for k in range(2)]
    assert sorted(order) == [0, 1]
    assert rel_err(mu[order], want) < 1e-5
    lv = est.model_.prior_logvar[0].detach().double().numpy()[order]
    var = np.stack([Z[sk.labels_ == k, 0].var(0) + pv[sk.labels_ == k, 0].mean(0) for k in range(2)])
    np.testing.assert_allclose(lv, np.log(var), rtol=0, atol=1e-4)


# ------------------------------------------------------------------ start_weight (anchoring to the start partition)
def _start_data():
    rng = np.random.default_rng(12)
    n = 240
    a = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 2, 4))
    X[:, 0, :2] += 12.0 * np.stack([a == 1, a == 2], 1)
    X[:, 1, 2:] += 12.0 * np.stack([a == 2, a == 0], 1)
    return X


def test_start_weight_adds_the_cross_entropy_to_the_start_partition():
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.metrics import adjusted_rand_score

    X = _start_data()
    lam = 0.7
    est = FVAEClustering(3, latent_dim=2, hidden=(16,), epochs=4, pretrain_epochs=4, batch_size=60,
                         init="kmeans-input", start_weight=lam, random_state=0).fit(X)
    # the stored start partition is k-means of the normalised inputs (scikit-learn as the oracle)
    Xn = (X - est.mean_) / est.std_
    for s in range(2):
        sk = SkKMeans(3, n_init=10, random_state=0).fit(Xn[:, s])
        assert adjusted_rand_score(sk.labels_, est.start_labels_[:, s]) == 1.0
    # loss difference with and without the term, same batch and noise = lam x sum_s mean CE (numpy)
    model = est.model_.train()
    idx = torch.arange(17, 77)
    xb = torch.from_numpy(Xn[idx.numpy()].astype(np.float32))
    with torch.no_grad():
        with_term = est._mixture_loss(model, xb, idx, 0.5, torch.Generator().manual_seed(5))
        est.set_params(start_weight=0.0)
        without = est._mixture_loss(model, xb, idx, 0.5, torch.Generator().manual_seed(5))
        logits = [lg.double().numpy() for lg in model.encode(xb)[1]]
    ce = 0.0
    for s, lg in enumerate(logits):
        logq = lg - lg.max(1, keepdims=True)
        logq = logq - np.log(np.exp(logq).sum(1, keepdims=True))
        ce += -logq[np.arange(len(idx)), est.start_labels_[idx.numpy(), s]].mean()
    assert ce > 0.01  # the check below is not vacuous
    np.testing.assert_allclose(float(with_term - without), lam * ce, rtol=1e-4)


def test_start_weight_holds_the_partition_and_resumes_exactly(tmp_path):
    from sklearn.metrics import adjusted_rand_score

    X = _start_data()
    kw = dict(latent_dim=2, hidden=(16,), pretrain_epochs=3, epochs=8, batch_size=60, init="kmeans-input",
              start_weight=5.0, random_state=1)
    full = FVAEClustering(3, **kw).fit(X)
    for s in range(2):  # a strong anchor: the labels stay the start partition through the mixture phase
        assert adjusted_rand_score(full.start_labels_[:, s], full.labels_[:, s]) >= 0.95
    for stop in (2, 5):  # checkpoints before and after the initialisation resume to the same weights
        ckpt = tmp_path / f"s{stop}.pt"
        FVAEClustering(3, **{**kw, "epochs": stop}).fit(X, checkpoint=ckpt)
        resumed = FVAEClustering(3, **kw).fit(X, checkpoint=ckpt)
        assert resumed.history_ == full.history_
        np.testing.assert_array_equal(resumed.start_labels_, full.start_labels_)
        for (k, u), (_, w) in zip(resumed.model_.state_dict().items(), full.model_.state_dict().items()):
            assert torch.equal(u, w), (stop, k)
    np.testing.assert_array_equal(FVAEClustering.load(tmp_path / "s5.pt").start_labels_, full.start_labels_)
    assert FVAEClustering(3, **{**kw, "init": "random", "start_weight": 0.0, "epochs": 1}).fit(X).start_labels_ is None


@pytest.mark.parametrize("bad, match", [(-1.0, "start_weight=-1.0 must be a finite number >= 0"),
                                        (float("nan"), "start_weight=nan must be"),
                                        (True, "start_weight=True must be")])
def test_start_weight_errors(bad, match):
    X = _start_data()
    with pytest.raises(ValueError, match=match):
        _small_est(init="kmeans", start_weight=bad).fit(X)


def test_start_weight_needs_a_start_partition():
    with pytest.raises(ValueError, match="start_weight=1.0 needs a start partition: use init="):
        _small_est(start_weight=1.0).fit(_start_data())
