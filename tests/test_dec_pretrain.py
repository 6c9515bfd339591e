"""DEC pretraining options: denoising (``noise``), ``weight_decay``, and the
space of the k-means start (``init_embedding``); ``scatclust.nn.corrupt``."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scatclust.cluster import DEC, KMeans  # noqa: E402
from scatclust.nn import corrupt  # noqa: E402

# Small, quick settings (as in test_dec.py).
FAST = dict(hidden=(32,), latent_dim=2, pretrain_epochs=12, max_iter=30, batch_size=32, update_interval=10,
            n_init=5, patience=5)


def blobs(n_per=40, d=10, seed=0, offset=0.0):
    """Three well separated Gaussian blobs in d dimensions (all values > 0 if offset is large)."""
    rng = np.random.default_rng(seed)
    means = np.full((3, d), offset)
    means[0, :3] += 3.0
    means[1, 3:6] += 3.0
    means[2, 6:9] += 3.0
    X = np.concatenate([rng.normal(m, 0.3, (n_per, d)) for m in means]).astype(np.float32)
    return X, np.repeat(np.arange(3), n_per)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---- corrupt ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7, 5), (3, 1, 4, 6)])
def test_corrupt_equals_numpy_oracle_same_generator(dtype, shape):
    x = torch.from_numpy(np.random.default_rng(1).normal(size=shape)).to(dtype)
    xn = x.numpy().astype(np.float64)
    # Oracle: the same draws taken from a generator in the same state, combined in numpy.
    e = torch.randn(shape, generator=torch.Generator().manual_seed(5), dtype=torch.float32).numpy()
    got = corrupt(x, "gaussian", 0.3, torch.Generator().manual_seed(5))
    assert got.dtype == dtype and got.shape == x.shape
    tol = 4 * np.finfo(np.float32 if dtype == torch.float32 else np.float64).eps
    np.testing.assert_allclose(got.numpy(), xn + 0.3 * e.astype(np.float64), rtol=tol, atol=tol)
    u = torch.rand(shape, generator=torch.Generator().manual_seed(6), dtype=torch.float32).numpy()
    got = corrupt(x, "masking", 0.4, torch.Generator().manual_seed(6))
    np.testing.assert_array_equal(got.numpy(), np.where(u >= 0.4, xn, 0.0).astype(got.numpy().dtype))


def test_corrupt_statistics_and_zero_level():
    x = torch.ones(200, 100)
    g = corrupt(x, "gaussian", 0.2, torch.Generator().manual_seed(0)) - 1.0
    # 20000 draws: sample std within 2 % of 0.2 (its relative std is 1/sqrt(2n) = 0.5 %).
    assert abs(float(g.std()) / 0.2 - 1.0) < 0.02 and abs(float(g.mean())) < 5 * 0.2 / math.sqrt(g.numel())
    m = corrupt(x, "masking", 0.25, torch.Generator().manual_seed(0))
    frac = float((m == 0).float().mean())
    assert abs(frac - 0.25) < 5 * math.sqrt(0.25 * 0.75 / m.numel())  # binomial, 5 sigma
    assert set(torch.unique(m).tolist()) == {0.0, 1.0}
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    assert corrupt(x, "gaussian", 0.0, gen) is x and torch.equal(gen.get_state(), state)  # nothing drawn


def test_corrupt_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="kind='salt' must be 'gaussian' or 'masking'"):
        corrupt(x, "salt", 0.1)
    with pytest.raises(ValueError, match="level=-0.1 must be a finite real >= 0"):
        corrupt(x, "gaussian", -0.1)
    with pytest.raises(ValueError, match="level=1.0 must be < 1 for kind='masking'"):
        corrupt(x, "masking", 1.0)
    with pytest.raises(ValueError, match="x has dtype torch.int64"):
        corrupt(torch.zeros(2, 3, dtype=torch.int64), "gaussian", 0.1)


# ---- denoising pretraining in DEC ---------------------------------------------------------------
class _Spy:
    """Records (input, target) of every MSE computed while the autoencoder is in training mode."""

    def __init__(self, monkeypatch):
        self.model = None
        self.pairs = []
        real = torch.nn.functional.mse_loss
        spy = self

        def mse(xh, target, *a, **kw):
            if spy.model is not None and spy.model.training and spy.model._last_input is not None:
                spy.pairs.append((spy.model._last_input.detach().clone(), target.detach().clone()))
            return real(xh, target, *a, **kw)

        monkeypatch.setattr(torch.nn.functional, "mse_loss", mse)


@pytest.mark.parametrize("noise,level", [("masking", 0.3), ("gaussian", 0.5)])
def test_dec_denoising_corrupts_input_not_target(monkeypatch, noise, level):
    X, _ = blobs(offset=10.0)  # every value > 0, so a zero in the input is a masked entry
    assert (X > 5).all()
    spy = _Spy(monkeypatch)

    class Recording(DEC):
        def _build(self, arch, input_shape):
            model = super()._build(arch, input_shape)
            model._last_input = None
            encode = model.encode

            def enc(x):
                model._last_input = x
                return encode(x)
            model.encode = enc
            spy.model = model
            return model

    est = Recording(3, noise=noise, noise_level=level, random_state=0, **dict(FAST, max_iter=0)).fit(X)
    pairs = spy.pairs
    n_train = len(X) - round(0.1 * len(X))
    assert len(pairs) == est.history_["pretrain_epochs"] * math.ceil(n_train / FAST["batch_size"])
    inp = torch.cat([p[0] for p in pairs])
    tgt = torch.cat([p[1] for p in pairs])
    # The targets are clean training samples (rows of X) ...
    rows = {tuple(r) for r in X.tolist()}
    assert all(tuple(r) in rows for r in tgt.tolist())
    # ... and the inputs are them corrupted at the requested level.
    if noise == "masking":
        zero = (inp == 0)
        assert abs(float(zero.float().mean()) - level) < 5 * math.sqrt(level * (1 - level) / inp.numel())
        assert torch.equal(inp[~zero], tgt[~zero])
    else:
        d = inp - tgt
        assert abs(float(d.std()) / level - 1.0) < 0.05 and abs(float(d.mean())) < 5 * level / math.sqrt(d.numel())


def test_dec_noise_reproducible_and_changes_training():
    X, _ = blobs()
    p = dict(FAST, noise="masking", noise_level=0.2)
    a = DEC(3, random_state=3, **p).fit(X)
    b = DEC(3, random_state=3, **p).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    plain = DEC(3, random_state=3, **FAST).fit(X)
    assert a.history_["pretrain_loss"] != plain.history_["pretrain_loss"]
    assert not np.array_equal(a.transform(X), plain.transform(X))


def test_dec_noise_save_load(tmp_path):
    X, _ = blobs(n_per=10)
    est = DEC(3, noise="gaussian", noise_level=0.1, weight_decay=1e-3, init_embedding="l2",
              random_state=0, **dict(FAST, pretrain_epochs=3, max_iter=5)).fit(X)
    est.save(tmp_path / "a.pt")
    back = DEC.load(tmp_path / "a.pt")
    assert back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(X), est.labels_)


# ---- weight decay ----------------------------------------------------
def test_dec_weight_decay_reaches_pretraining_optimizer(monkeypatch):
    made = []
    real = torch.optim.Adam

    class Recording(real):
        def __init__(self, params, **kw):
            made.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    X, _ = blobs()
    a = DEC(3, weight_decay=0.05, random_state=0, **FAST).fit(X)
    assert made[0]["weight_decay"] == 0.05  # pretraining optimiser
    assert "weight_decay" not in made[-1]  # the DEC phase is unchanged
    b = DEC(3, random_state=0, **FAST).fit(X)
    assert made[-2]["weight_decay"] == 0.0
    assert a.history_["pretrain_loss"] != b.history_["pretrain_loss"]


# ---- space of the k-means start -----------------------------------------------------------------
def test_initial_centers_l2_partition_by_direction():
    # Two directions (0 and 25 degrees), norms 1 and 10: in the raw space k-means splits by norm,
    # after L2 normalisation by direction. Oracle: the direction partition and its raw means.
    rng = np.random.default_rng(0)
    ang = np.repeat(np.radians([0.0, 25.0]), 40) + rng.normal(0, 0.01, 80)
    norm = np.tile(np.repeat([1.0, 10.0], 20), 2)
    z = np.stack([norm * np.cos(ang), norm * np.sin(ang)], axis=1).astype(np.float32)
    direction = np.repeat([0, 1], 40)
    want = np.stack([z[direction == c].mean(0) for c in range(2)])
    got = DEC(2, init_embedding="l2", n_init=5)._initial_centers(z, 2, 0)
    got = got[np.argsort(np.arctan2(got[:, 1], got[:, 0]))]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    raw = DEC(2, init_embedding="raw", n_init=5)._initial_centers(z, 2, 0)
    assert np.linalg.norm(raw, axis=1).min() < 3 < np.linalg.norm(raw, axis=1).max()  # split by norm


def test_initial_centers_standard_partition_by_scaled_axis():
    # Axis 0 has a large spread and no structure; axis 1 holds two tight groups far apart relative
    # to its own scale. Standardising lets k-means see the groups of axis 1.
    rng = np.random.default_rng(1)
    g = np.repeat([0, 1], 50)
    z = np.stack([rng.uniform(-50, 50, 100), g * 1.0 + rng.normal(0, 0.05, 100)], axis=1).astype(np.float32)
    want = np.stack([z[g == c].mean(0) for c in range(2)])
    got = DEC(2, init_embedding="standard", n_init=5)._initial_centers(z, 2, 0)
    got = got[np.argsort(got[:, 1])]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    raw = DEC(2, init_embedding="raw", n_init=5)._initial_centers(z, 2, 0)
    assert abs(raw[0, 0] - raw[1, 0]) > 20  # raw k-means splits the wide axis


def test_dec_fit_uses_init_embedding():
    X, _ = blobs()
    p = dict(FAST, max_iter=0, latent_dim=3)
    est = DEC(3, init_embedding="l2", random_state=4, **p).fit(X)
    z = est.transform(X)
    zl = z / np.linalg.norm(z, axis=1, keepdims=True)
    labels = KMeans(3, n_init=FAST["n_init"], random_state=4).fit(np.ascontiguousarray(zl)).labels_
    want = np.stack([z[labels == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(est.cluster_centers_, want, rtol=1e-5, atol=1e-6)
    raw = DEC(3, random_state=4, **p).fit(X)
    np.testing.assert_array_equal(raw.transform(X), z)  # same pretraining
    assert not np.allclose(raw.cluster_centers_, est.cluster_centers_, atol=1e-4)


def test_pretrain_option_errors():
    X, _ = blobs(n_per=5)
    with pytest.raises(ValueError, match="noise='salt' must be one of 'gaussian', 'masking'"):
        DEC(3, noise="salt").fit(X)
    with pytest.raises(ValueError, match="noise_level=-0.1 must be >= 0"):
        DEC(3, noise="gaussian", noise_level=-0.1).fit(X)
    with pytest.raises(ValueError, match="noise_level=1.0 must be < 1 for noise='masking'"):
        DEC(3, noise="masking", noise_level=1.0).fit(X)
    with pytest.raises(ValueError, match="weight_decay=-1.0 must be >= 0"):
        DEC(3, weight_decay=-1.0).fit(X)
    with pytest.raises(ValueError, match="init_embedding='pca' must be one of 'raw', 'l2', 'standard'"):
        DEC(3, init_embedding="pca").fit(X)
