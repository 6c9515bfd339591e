"""F-VAE reconstruction-term options: observation variance (``obs_var``), per-feature weights
(``feature_weights``) and the mixture read-out (``readout='mixture'``), against numpy/scipy
formulas; checkpoints with and without the new configuration keys."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the F-VAE needs torch")
scipy_stats = pytest.importorskip("scipy.stats")
from scipy.special import logsumexp  # noqa: E402

from scatclust.models import FactorialVAE, FVAEClustering, fvae_parameter_count  # noqa: E402
from scatclust.models._fvae import gaussian_nll  # noqa: E402
from conftest import fvae_blobs, small_fvae  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)
RTOL = 1e-12  # float64 sums of <= 100 terms


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


def _np_nll(x, xhat, lx, w):
    """Oracle: 1/2 sum_f w_f [log 2 pi + lx_f + (x_f - xhat_f)^2 exp(-lx_f)] in numpy float64."""
    return 0.5 * (w * (LOG_2PI + lx + (x - xhat) ** 2 * np.exp(-lx))).sum(-1)


# ------------------------------------------------------------------ loss formulas
def test_weighted_gaussian_nll_matches_numpy_and_repetition():
    rng = np.random.default_rng(0)
    x, mu, lv = rng.normal(size=(3, 6, 4))
    w = np.array([0.0, 1.0, 2.5, 3.0])
    T = torch.from_numpy
    got = gaussian_nll(T(x), T(mu), T(lv), T(w)).numpy()
    np.testing.assert_allclose(got, _np_nll(x, mu, lv, w), rtol=RTOL)
    # an integer weight W counts a column like W copies of it (weight 0 drops it)
    reps = np.array([0, 1, 4, 3])
    rep = lambda a: np.repeat(a, reps, axis=-1)  # noqa: E731
    ref = gaussian_nll(T(rep(x)), T(rep(mu)), T(rep(lv))).numpy()
    np.testing.assert_allclose(gaussian_nll(T(x), T(mu), T(lv), T(reps.astype(float))).numpy(), ref, rtol=RTOL)
    assert not np.allclose(got, gaussian_nll(T(x), T(mu), T(lv)).numpy())  # the weights matter here


@pytest.mark.parametrize("obs_var", ["learned", "scale", "fixed"])
def test_forward_reconstruction_term_matches_numpy(obs_var):
    S, F = 2, 4
    torch.manual_seed(0)
    w = np.array([[1.0, 0.5, 3.0, 0.0], [2.0, 1.0, 1.0, 4.0]])
    m = FactorialVAE(F, n_scales=S, n_clusters=3, latent_dim=2, hidden=(6,), obs_var=obs_var, feature_weights=w,
                     dtype=torch.float64)
    rng = np.random.default_rng(1)
    if obs_var != "fixed":  # move the learned variances away from their 0 start
        with torch.no_grad():
            m.obs_logvar.copy_(torch.from_numpy(rng.normal(size=tuple(m.obs_logvar.shape))))
    x = rng.normal(size=(7, S, F))
    out = m(torch.from_numpy(x), 0.7, generator=torch.Generator().manual_seed(2))
    lx = {"learned": m.obs_logvar.detach().numpy(),
          "scale": np.repeat(m.obs_logvar.detach().numpy(), F, axis=1),
          "fixed": np.zeros((S, F))}[obs_var]
    for s in range(S):
        ref = _np_nll(x[:, s], out["x_mean"][s].detach().numpy(), lx[s], w[s])
        np.testing.assert_allclose(out["loss"]["rec"][:, s].detach().numpy(), ref, rtol=RTOL)


def test_obs_var_parameters_state_dict_and_count():
    F, S = 7, 3
    shapes = {}
    for ov in ("learned", "scale", "fixed"):
        m = FactorialVAE(F, n_scales=S, n_clusters=(2, 3, 4), latent_dim=2, hidden=(5,), obs_var=ov)
        assert sum(p.numel() for p in m.parameters()) == fvae_parameter_count(F, S, (2, 3, 4), 2, (5,), obs_var=ov)
        shapes[ov] = {k: tuple(v.shape) for k, v in m.state_dict().items() if k == "obs_logvar"}
        assert all(k != "obs_logvar" or ov != "fixed" for k, _ in m.named_parameters())
    base = fvae_parameter_count(F, S, (2, 3, 4), 2, (5,))
    assert fvae_parameter_count(F, S, (2, 3, 4), 2, (5,), obs_var="scale") == base - S * (F - 1)
    assert fvae_parameter_count(F, S, (2, 3, 4), 2, (5,), obs_var="fixed") == base - S * F
    # the default keeps the earlier state-dict layout; 'fixed' saves no variance
    assert shapes == {"learned": {"obs_logvar": (S, F)}, "scale": {"obs_logvar": (S, 1)}, "fixed": {}}


def test_scale_variance_optimum_is_the_weighted_mean_squared_error():
    # d/d lx of 1/2 sum_n sum_f c_f (lx + r_nf^2 exp(-lx)) vanishes at exp(lx) = sum c r^2 / (N sum c)
    S, F, N = 2, 5, 9
    w = np.array([1.0, 2.0, 0.5, 0.0, 3.0])
    torch.manual_seed(4)
    m = FactorialVAE(F, n_scales=S, n_clusters=2, latent_dim=2, hidden=(6,), obs_var="scale", feature_weights=w,
                     dtype=torch.float64)
    x = np.random.default_rng(5).normal(size=(N, S, F))
    out = m(torch.from_numpy(x), 1.0, generator=torch.Generator().manual_seed(6))
    r2 = (x - np.stack([t.detach().numpy() for t in out["x_mean"]], 1)) ** 2
    opt = np.log((r2 * w).sum((0, 2)) / (N * w.sum()))
    with torch.no_grad():
        m.obs_logvar.copy_(torch.from_numpy(opt[:, None]))
    out = m(torch.from_numpy(x), 1.0, generator=torch.Generator().manual_seed(6))  # same noise, same x_mean
    (g,) = torch.autograd.grad(out["loss"]["rec"].sum(), m.obs_logvar)
    assert np.abs(g.numpy()).max() < 1e-10 * w.sum() * N
    with torch.no_grad():
        m.obs_logvar.add_(0.1)  # away from the optimum the gradient is not 0
    out = m(torch.from_numpy(x), 1.0, generator=torch.Generator().manual_seed(6))
    (g,) = torch.autograd.grad(out["loss"]["rec"].sum(), m.obs_logvar)
    assert np.abs(g.numpy()).min() > 0.01


def test_uniform_weights_scale_the_losses_like_w_rec():
    # c_sf = 2 everywhere is w_rec = 2, for the mixture loss and for the pretraining loss
    torch.manual_seed(7)
    m = FactorialVAE(4, n_scales=2, n_clusters=2, latent_dim=2, hidden=(6,), dtype=torch.float64)
    torch.manual_seed(7)
    m2 = FactorialVAE(4, n_scales=2, n_clusters=2, latent_dim=2, hidden=(6,), feature_weights=np.full(4, 2.0),
                      dtype=torch.float64)
    x = torch.from_numpy(np.random.default_rng(8).normal(size=(6, 2, 4)))
    g = lambda: torch.Generator().manual_seed(9)  # noqa: E731
    with torch.no_grad():
        a = float(m(x, 0.8, generator=g(), w_rec=2.0)["loss"]["total"])
        b = float(m2(x, 0.8, generator=g())["loss"]["total"])
        assert b == pytest.approx(a, rel=RTOL) and a != pytest.approx(float(m(x, 0.8, generator=g())["loss"]["total"]))
        assert float(m2.pretrain_loss(x, generator=g())) == pytest.approx(
            float(m.pretrain_loss(x, generator=g(), w_rec=2.0)), rel=RTOL)


# ------------------------------------------------------------------ estimator
def test_fixed_variance_stays_at_one_through_training():
    X = fvae_blobs(0)
    est = small_fvae(obs_var="fixed").fit(X)
    assert "obs_logvar" not in dict(est.model_.named_parameters())
    assert torch.equal(est.model_.obs_logvar, torch.zeros(2, 5))
    learned = small_fvae().fit(X)  # the default does learn its variances
    assert float(learned.model_.obs_logvar.detach().abs().min()) > 0


def test_unit_weights_give_the_default_fit():
    X = fvae_blobs(1)
    a, b = small_fvae().fit(X), small_fvae(feature_weights=np.ones(5)).fit(X)
    # the gradients are summed in another order (broadcast of lx through a product), so equal to
    # float32 rounding grown over 16 Adam steps, not bit for bit
    for (k, u), (_, v) in zip(a.model_.state_dict().items(), b.model_.state_dict().items()):
        np.testing.assert_allclose(v.numpy(), u.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    c = small_fvae(feature_weights=[1, 1, 1, 1, 30.0]).fit(X)
    assert not torch.equal(next(a.model_.trunk.parameters()), next(c.model_.trunk.parameters()))


def test_checkpoint_round_trip_and_resume_with_the_options(tmp_path):
    X = fvae_blobs(2)
    w = np.random.default_rng(3).uniform(0.5, 3, (2, 5))
    ck = tmp_path / "o.pt"
    kw = dict(obs_var="scale", feature_weights=w)
    first = small_fvae(epochs=2, **kw).fit(X, checkpoint=ck)
    assert first.n_epochs_ == 2
    loaded = FVAEClustering.load(ck)
    assert loaded.obs_var == "scale"
    np.testing.assert_array_equal(np.asarray(loaded.feature_weights), w)
    assert loaded.model_.feature_weights.dtype == torch.float32  # the parameters' dtype
    np.testing.assert_array_equal(loaded.model_.feature_weights.numpy(), w.astype(np.float32))
    np.testing.assert_array_equal(loaded.predict(X), first.labels_)
    resumed = small_fvae(epochs=4, **kw).fit(X, checkpoint=ck)
    straight = small_fvae(epochs=4, **kw).fit(X)
    assert resumed.history_ == straight.history_
    for (k, a), (_, b) in zip(resumed.model_.state_dict().items(), straight.model_.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="made with obs_var='scale', this estimator has obs_var='learned'"):
        small_fvae(epochs=5, feature_weights=w).fit(X, checkpoint=ck)
    with pytest.raises(ValueError, match="made with feature_weights="):
        small_fvae(epochs=5, obs_var="scale", feature_weights=w * 2).fit(X, checkpoint=ck)
    # the read-out may differ from the checkpoint's (it does not change the training)
    small_fvae(epochs=5, readout="mixture", **kw).fit(X, checkpoint=ck)


def test_old_checkpoint_without_the_new_keys_loads_and_resumes(tmp_path):
    X = fvae_blobs(4)
    ck = tmp_path / "old.pt"
    est = small_fvae(epochs=2).fit(X, checkpoint=ck)
    state = torch.load(ck, weights_only=True)
    for k in ("obs_var", "feature_weights", "readout"):
        del state["config"][k]  # as written before these options existed
    torch.save(state, ck)
    loaded = FVAEClustering.load(ck)
    assert (loaded.obs_var, loaded.feature_weights, loaded.readout) == ("learned", None, "encoder")
    np.testing.assert_array_equal(loaded.predict(X), est.labels_)
    with pytest.raises(ValueError, match="made with obs_var='learned', this estimator has obs_var='fixed'"):
        small_fvae(epochs=3, obs_var="fixed").fit(X, checkpoint=ck)  # the missing key reads as its default
    resumed = small_fvae(epochs=3).fit(X, checkpoint=ck)
    np.testing.assert_array_equal(resumed.labels_, small_fvae(epochs=3).fit(X).labels_)


@pytest.mark.parametrize("learn_weights", [False, True])
def test_mixture_readout_matches_scipy(learn_weights):
    X = fvae_blobs(5)
    est = small_fvae(learn_weights=learn_weights, epochs=6).fit(X)
    q = est.predict_proba(X)
    est.set_params(readout="mixture")
    p = est.predict_proba(X)
    Z = est.transform(X).astype(np.float64)
    for s in range(2):
        mu = est.model_.prior_mean[s].detach().numpy().astype(np.float64)
        sd = np.exp(0.5 * est.model_.prior_logvar[s].detach().numpy().astype(np.float64))
        logp = scipy_stats.norm.logpdf(Z[:, s, None, :], mu[None], sd[None]).sum(-1)
        if learn_weights:
            lg = est.model_.prior_logits[s].detach().numpy().astype(np.float64)
            logp = logp + lg - logsumexp(lg)
        ref = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        np.testing.assert_allclose(p[:, s], ref, rtol=1e-4, atol=1e-5)  # float32 model
        assert np.abs(p[:, s] - q[:, s]).max() > 1e-3  # not the y head's q(y|x)
    np.testing.assert_array_equal(est.predict(X), p.argmax(-1))
    assert est.set_params(readout="encoder").predict(X).tolist() == q.argmax(-1).tolist()


def test_option_errors_name_the_argument():
    X = fvae_blobs(6, n=30)
    with pytest.raises(ValueError, match=r"obs_var='per-window' must be one of \('learned', 'scale', 'fixed'\)"):
        small_fvae(obs_var="per-window").fit(X)
    with pytest.raises(ValueError, match=r"obs_var='x' must be one of"):
        FactorialVAE(3, obs_var="x")
    with pytest.raises(ValueError, match=r"readout='argmax' must be one of \('encoder', 'mixture'\)"):
        small_fvae(readout="argmax").fit(X)
    with pytest.raises(ValueError, match=r"feature_weights.shape=\(4,\) must be \(n_features=5,\) or "
                                         r"\(n_scales=2, n_features=5\)"):
        small_fvae(feature_weights=np.ones(4)).fit(X)
    with pytest.raises(ValueError, match=r"feature_weights contains -1.0; every weight must be finite and >= 0"):
        small_fvae(feature_weights=[1, 1, -1, 1, 1]).fit(X)
    with pytest.raises(ValueError, match=r"feature_weights contains nan"):
        small_fvae(feature_weights=[1, 1, np.nan, 1, 1]).fit(X)
    with pytest.raises(ValueError, match=r"feature_weights of scale 1 are all 0"):
        small_fvae(feature_weights=np.stack([np.ones(5), np.zeros(5)])).fit(X)
    with pytest.raises(ValueError, match=r"feature_weights of type str must be an array of numbers"):
        FactorialVAE(5, n_scales=2, feature_weights="heavy")


def test_restart_labels_are_each_restarts_own_fit():
    X = fvae_blobs(7)
    multi = small_fvae(n_init=3).fit(X)
    assert len(multi.restart_labels_) == 3
    best = int(np.argmax(multi.elbos_))
    np.testing.assert_array_equal(multi.restart_labels_[best], multi.labels_)
    # restart 0 is the n_init=1 fit with the same seed (trained independently here)
    np.testing.assert_array_equal(multi.restart_labels_[0], small_fvae().fit(X).labels_)
    assert any(not np.array_equal(multi.restart_labels_[0], r) for r in multi.restart_labels_[1:])
