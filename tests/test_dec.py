"""scatclust.nn autoencoders and scatclust.cluster.DEC (small, fast fits)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

from scatclust.cluster import DEC  # noqa: E402
from scatclust.cluster import _dec as dec_module  # noqa: E402
from scatclust.nn import ConvAutoencoder2d, MLPAutoencoder, conv_out_size  # noqa: E402

ari = sklearn_metrics.adjusted_rand_score

# Small, quick settings shared by the fits below.
FAST = dict(hidden=(32,), latent_dim=2, pretrain_epochs=40, max_iter=60, batch_size=32, update_interval=10,
            n_init=5, patience=5)


def blobs(n_per=40, d=10, seed=0, spread=0.3):
    """Three well separated Gaussian blobs in d dimensions and their labels."""
    rng = np.random.default_rng(seed)
    means = np.zeros((3, d))
    means[0, :3], means[1, 3:6], means[2, 6:9] = 3.0, 3.0, 3.0
    X = np.concatenate([rng.normal(m, spread, (n_per, d)) for m in means]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per)
    return X, y


def spectrograms(n_per=30, shape=(11, 9), seed=0):
    """Tiny synthetic log-spectrograms: a horizontal band (tone) at one of three frequencies."""
    rng = np.random.default_rng(seed)
    rows = (1, shape[0] // 2, shape[0] - 2)
    X = rng.normal(0.0, 0.2, (3 * n_per, *shape)).astype(np.float32)
    for c, r in enumerate(rows):
        X[c * n_per:(c + 1) * n_per, r, :] += 3.0
    return X, np.repeat(np.arange(3), n_per)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models: one intra-op thread is fastest on a loaded machine (spinning OpenMP
    workers otherwise dominate) and keeps the float sums of every run in the same order."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def fitted(one_torch_thread):
    X, y = blobs()
    return DEC(3, random_state=0, **FAST).fit(X), X, y


# ---- autoencoders ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(17, 23), (32, 32), (1, 64), (1, 1), (8, 5), (8, 8)])
@pytest.mark.parametrize("channels", [(4,), (4, 8, 8), (2, 4, 8, 8)])
def test_conv_ae_output_shape_equals_input(shape, channels):
    ae = ConvAutoencoder2d(shape, channels=channels, latent_dim=3)
    x = torch.randn(2, 1, *shape)
    z, xh = ae(x)
    assert tuple(z.shape) == (2, 3)
    assert tuple(xh.shape) == (2, 1, *shape)


@pytest.mark.parametrize("n", [1, 2, 17, 23, 64])
def test_conv_out_size_matches_torch(n):
    conv = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1)
    assert conv(torch.zeros(1, 1, n, 1)).shape[2] == conv_out_size(n)


def test_conv_ae_rejects_wrong_shape():
    ae = ConvAutoencoder2d((17, 23), channels=(4,), latent_dim=3)
    with pytest.raises(ValueError, match=r"expected \(n, 1, 17, 23\)"):
        ae(torch.zeros(2, 1, 17, 22))
    with pytest.raises(ValueError, match="channels"):
        ConvAutoencoder2d((4, 4), channels=())


def test_mlp_ae_shape():
    ae = MLPAutoencoder(64, hidden=(16, 8), latent_dim=3)
    z, xh = ae(torch.randn(5, 64))
    assert tuple(z.shape) == (5, 3) and tuple(xh.shape) == (5, 64)


# ---- target distribution cadence --------------------------------------------------------------------
@pytest.mark.parametrize("max_iter,interval", [(10, 3), (9, 3), (7, 1), (5, 10), (12, 4)])
def test_target_recomputed_on_full_data_every_update_interval(monkeypatch, max_iter, interval):
    X, _ = blobs(n_per=10)
    calls = []
    real = dec_module.target_distribution

    def counting(q, *a, **k):
        calls.append(np.asarray(q).shape)
        return real(q, *a, **k)

    monkeypatch.setattr(dec_module, "target_distribution", counting)
    params = dict(FAST, pretrain_epochs=2, max_iter=max_iter, update_interval=interval, batch_size=8)
    est = DEC(3, tol=0.0, random_state=0, **params).fit(X)  # tol=0: never stops early
    expected = list(range(0, max_iter, interval))  # oracle: one update before batches 0, k, 2k, ...
    assert len(calls) == math.ceil(max_iter / interval) == len(expected)
    assert all(shape == (X.shape[0], 3) for shape in calls)  # the FULL data set, not a batch
    assert est.history_["target_updates"] == expected
    assert est.n_iter_ == max_iter


def test_tol_stops_at_first_check(fitted):
    X, _ = blobs()
    # tol = 1: any fraction of changed labels below 100 % stops at the first comparison.
    est = DEC(3, random_state=0, **dict(FAST, max_iter=1000)).set_params(tol=1.0).fit(X)
    assert est.n_iter_ == FAST["update_interval"]
    assert est.history_["target_updates"] == [0]
    assert len(est.history_["delta_label"]) == 1 and est.history_["delta_label"][0] < 1.0


# ---- clustering quality -----------------------------------------------------------------------------
def test_blobs_mlp_ari(fitted):
    est, X, y = fitted
    assert ari(y, est.labels_) >= 0.95
    assert est.cluster_centers_.shape == (3, 2)
    assert est.transform(X).shape == (X.shape[0], 2)


def test_spectrograms_conv_ari():
    X, y = spectrograms()
    est = DEC(3, channels=(4, 8), latent_dim=3, pretrain_epochs=30, max_iter=60, batch_size=30,
              update_interval=10, n_init=5, random_state=0).fit(X)
    assert est.input_shape_ == (1, 11, 9)
    assert ari(y, est.labels_) >= 0.95


def test_idec_gamma_runs_and_clusters():
    X, y = blobs()
    est = DEC(3, gamma=0.1, random_state=1, **FAST).fit(X)
    assert ari(y, est.labels_) >= 0.95


def test_predict_consistent_with_labels_and_new_data(fitted):
    est, X, y = fitted
    np.testing.assert_array_equal(est.predict(X), est.labels_)
    X_new, y_new = blobs(n_per=20, seed=5)  # fresh draws from the same blobs
    assert ari(y_new, est.predict(X_new)) >= 0.95
    proba = est.predict_proba(X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=10 * np.finfo(np.float32).eps)


# ---- reproducibility, dtypes, persistence -------------------------------------------------------------
def test_same_seed_same_labels_and_rng_untouched(fitted):
    est, X, _ = fitted
    state = torch.get_rng_state()
    again = DEC(3, random_state=0, **FAST).fit(X)
    assert torch.equal(torch.get_rng_state(), state)  # fit uses a forked RNG
    np.testing.assert_array_equal(again.labels_, est.labels_)
    np.testing.assert_array_equal(again.cluster_centers_, est.cluster_centers_)
    other = DEC(3, random_state=1, **FAST).fit(X)
    assert not np.array_equal(other.transform(X), est.transform(X))  # a different seed, different weights


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_and_torch_input_give_same_labels(fitted, dtype):
    est, X, _ = fitted
    # The model runs in float32; float32 data cast from either precision are the same numbers.
    np.testing.assert_array_equal(DEC(3, random_state=0, **FAST).fit(X.astype(dtype)).labels_, est.labels_)
    np.testing.assert_array_equal(est.predict(torch.from_numpy(X.astype(dtype))), est.labels_)


def test_save_load_round_trip(fitted, tmp_path):
    est, X, _ = fitted
    path = tmp_path / "dec.pt"
    est.save(path)
    back = DEC.load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.transform(X), est.transform(X))
    np.testing.assert_array_equal(back.labels_, est.labels_)
    assert back.get_params() == est.get_params()
    assert back.n_iter_ == est.n_iter_
    np.testing.assert_array_equal(back.start_labels_, est.start_labels_)
    assert est.start_labels_.shape == est.labels_.shape
    # a file written before the start partition was stored loads, without it
    state = torch.load(path, weights_only=True)
    del state["start_labels"]
    torch.save(state, tmp_path / "old.pt")
    old = DEC.load(tmp_path / "old.pt")
    assert old.start_labels_ is None
    np.testing.assert_array_equal(old.predict(X), est.predict(X))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"a": 1}, path)
    with pytest.raises(ValueError, match="not a file written by DEC.save"):
        DEC.load(path)


# ---- errors -----------------------------------------------------------------------------------
def test_errors():
    X, _ = blobs(n_per=5)
    with pytest.raises(ValueError, match="n_clusters=0 must be >= 1"):
        DEC(0).fit(X)
    with pytest.raises(TypeError, match="n_clusters=2.5 must be an int"):
        DEC(2.5).fit(X)
    with pytest.raises(ValueError, match="n_samples=15 should be >= n_clusters=20"):
        DEC(20).fit(X)
    with pytest.raises(ValueError, match=r"ndim=1"):
        DEC(3).fit(np.zeros(30))
    with pytest.raises(ValueError, match=r"\(n, 1, H, W\) \(one channel\)"):
        DEC(3).fit(np.zeros((30, 2, 4, 4)))
    with pytest.raises(ValueError, match="architecture='conv' needs images"):
        DEC(3, architecture="conv").fit(X)
    with pytest.raises(ValueError, match="architecture='rnn' must be one of"):
        DEC(3, architecture="rnn").fit(X)
    with pytest.raises(ValueError, match="validation_fraction=1.0 must be < 1"):
        DEC(3, validation_fraction=1.0).fit(X)
    with pytest.raises(ValueError, match="update_interval=0 must be >= 1"):
        DEC(3, update_interval=0).fit(X)
    with pytest.raises(ValueError, match="tol=2.0 must be <= 1"):
        DEC(3, tol=2.0).fit(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        DEC(3).fit(bad)
    with pytest.raises(Exception, match="not fitted yet"):
        DEC(3).predict(X)


def test_predict_checks_sample_shape(fitted):
    est, X, _ = fitted
    with pytest.raises(ValueError, match=r"samples of shape \(9,\); this model was fitted on \(10,\)"):
        est.predict(X[:, :9])


# ---- data augmentation (augment='shift', DEC-DA) ------------------------------------------------------
def shift_oracle(x, offsets):
    """Per-sample zero-filled shift of the last len(offsets[i]) axes by plain numpy slicing."""
    out = np.zeros_like(x)
    for i, offs in enumerate(offsets):
        src, dst = [i], [i]
        lead = x.ndim - 1 - len(offs)
        src += [slice(None)] * lead
        dst += [slice(None)] * lead
        for L, s in zip(x.shape[x.ndim - len(offs):], offs):
            s = int(s)
            if abs(s) >= L:
                break
            src.append(slice(max(0, -s), L - max(0, s)))
            dst.append(slice(max(0, s), L - max(0, -s)))
        else:
            out[tuple(dst)] = x[tuple(src)]
    return out


@pytest.mark.parametrize("shape,offsets", [
    ((3, 7), [[0], [2], [-3]]),
    ((4, 1, 5, 6), [[1, -1], [0, 0], [-2, 5], [7, 0]]),    # |7| >= 5: all zero
    ((2, 2, 3, 4), [[1, 1], [-1, -3]]),                      # channels ride along
    ((2, 1, 5, 6), [[2], [-6]]),                             # last axis only
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shift_equals_slicing_oracle(shape, offsets, dtype):
    from scatclust.nn import shift

    x = torch.arange(1, int(np.prod(shape)) + 1, dtype=dtype).reshape(shape)
    got = shift(x, torch.tensor(offsets))
    assert got.dtype == dtype and got.shape == x.shape
    # A shift only copies numbers (and multiplies by 1 or 0): bit-exact.
    np.testing.assert_array_equal(got.numpy(), shift_oracle(x.numpy(), offsets))


def test_random_shift_offsets_uniform_in_range_and_seeded():
    from scatclust.nn import random_shift, shift

    n, size, m = 2000, 9, 2
    x = torch.zeros(n, 1, size, size)
    x[:, 0, 4, 4] = 1.0  # a marker in the centre: its new position is the offset
    y = random_shift(x, m, torch.Generator().manual_seed(3))
    pos = torch.nonzero(y[:, 0])  # (n, 3): sample, row, col; the marker never leaves the image
    assert pos.shape[0] == n
    offsets = pos[:, 1:] - 4
    assert int(offsets.abs().max()) == m
    counts = np.bincount(((offsets[:, 0] + m) * (2 * m + 1) + offsets[:, 1] + m).numpy(), minlength=25)
    # 25 equally likely offset pairs, 80 expected each; binomial sd ~8.8, so 40..120 is > 4 sd.
    assert counts.min() >= 40 and counts.max() <= 120
    np.testing.assert_array_equal(y.numpy(), shift(x, offsets).numpy())
    again = random_shift(x, m, torch.Generator().manual_seed(3))
    assert torch.equal(again, y)
    # Per-axis limits: (0, 1) shifts along the last axis only.
    y01 = random_shift(x, (0, 1), torch.Generator().manual_seed(4))
    pos01 = torch.nonzero(y01[:, 0])
    assert bool((pos01[:, 1] == 4).all()) and set(pos01[:, 2].tolist()) == {3, 4, 5}


def test_dec_augment_shift_reproducible_and_clusters():
    X, y = spectrograms()
    params = dict(channels=(4, 8), latent_dim=3, pretrain_epochs=30, max_iter=60, batch_size=30,
                  update_interval=10, n_init=5, augment="shift", max_shift=(0, 1))
    a = DEC(3, random_state=0, **params).fit(X)
    b = DEC(3, random_state=0, **params).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert ari(y, a.labels_) >= 0.95  # a time shift keeps the tone's frequency band
    plain = DEC(3, random_state=0, **dict(params, augment=None)).fit(X)
    assert not np.array_equal(plain.transform(X), a.transform(X))  # augmentation changed the training


@pytest.mark.parametrize("augment_clustering", [True, False])
def test_dec_callable_augment_called_on_every_training_batch(augment_clustering):
    X, _ = blobs(n_per=10)  # 30 samples
    calls = []

    def identity(xb, gen):
        assert isinstance(gen, torch.Generator)
        calls.append(tuple(xb.shape))
        return xb.clone()

    params = dict(FAST, pretrain_epochs=3, max_iter=7, batch_size=8, update_interval=3)
    est = DEC(3, tol=0.0, validation_fraction=0.0, augment=identity, augment_clustering=augment_clustering,
              random_state=0, **params).fit(X)
    n_pre = 3 * math.ceil(30 / 8)  # oracle: every pretraining batch (no validation split)
    assert len(calls) == n_pre + (est.n_iter_ if augment_clustering else 0) and est.n_iter_ == 7
    assert calls[0] == (8, 10) and calls[3] == (6, 10)  # last batch of an epoch is 30 - 3 * 8
    # The identity augmentation trains exactly like no augmentation only if it draws nothing.
    ref = DEC(3, tol=0.0, validation_fraction=0.0, random_state=0, **params).fit(X)
    np.testing.assert_array_equal(est.labels_, ref.labels_)


@pytest.mark.parametrize("augment,max_shift", [("shift", (1, 2)), ("affine", (0.5, 1.5)), ("affine", 1)])
def test_dec_augment_reproducible_save_load(tmp_path, augment, max_shift):
    X, _ = spectrograms(n_per=10)
    params = dict(channels=(4,), latent_dim=2, pretrain_epochs=2, max_iter=5, batch_size=15, n_init=2,
                  augment=augment, max_shift=max_shift, max_rotation=5.0 if augment == "affine" else 0.0)
    est = DEC(3, random_state=0, **params).fit(X)
    again = DEC(3, random_state=0, **params).fit(X)
    np.testing.assert_array_equal(again.transform(X), est.transform(X))  # same seed, same weights
    est.save(tmp_path / "a.pt")
    back = DEC.load(tmp_path / "a.pt")
    assert back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict(X), est.labels_)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_affine_integer_shift_and_quarter_turn_oracles(dtype):
    from scatclust.nn import affine, shift

    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 6, 7, generator=g, dtype=torch.float64).to(dtype)
    offsets = torch.tensor([[1, -2], [0, 3], [-1, 0], [5, 1]])
    # Integer offsets, no rotation: bilinear weights are 0/1 up to rounding of the grid
    # coordinates (a few eps of the coordinate magnitude ~10): tolerance 100 eps.
    tol = 100 * torch.finfo(dtype).eps
    np.testing.assert_allclose(affine(x, offsets.to(dtype)).numpy(), shift(x, offsets).numpy(), rtol=0, atol=tol)
    sq = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64).to(dtype)
    turned = affine(sq, torch.zeros(3, 2), torch.full((3,), 90.0))
    np.testing.assert_allclose(turned.numpy(), torch.rot90(sq, 1, (2, 3)).numpy(), rtol=0, atol=tol)
    # Half-pixel shift: the mean of two neighbours (exact in binary up to the same rounding).
    half = affine(sq, torch.tensor([[0.0, 0.5]] * 3))
    np.testing.assert_allclose(half[..., 1:].numpy(), ((sq[..., 1:] + sq[..., :-1]) / 2).numpy(), rtol=0, atol=tol)


def test_random_affine_shifts_in_range_and_seeded():
    from scatclust.nn import random_affine

    n, size, m = 500, 11, 1.5
    x = torch.zeros(n, 1, size, size, dtype=torch.float64)
    x[:, 0, 5, 5] = 1.0
    y = random_affine(x, (m, 2 * m), generator=torch.Generator().manual_seed(1))
    mass = y.sum(dim=(1, 2, 3))
    # Bilinear interpolation of an interior point keeps its mass and moves its centre of mass
    # by exactly the shift: oracle for the drawn offsets.
    np.testing.assert_allclose(mass.numpy(), 1.0, rtol=1e-12)
    idx = torch.arange(size, dtype=torch.float64)
    rows = (y[:, 0].sum(dim=2) * idx).sum(dim=1) - 5
    cols = (y[:, 0].sum(dim=1) * idx).sum(dim=1) - 5
    assert rows.abs().max() <= m + 1e-12 and cols.abs().max() <= 2 * m + 1e-12
    assert rows.abs().max() > 0.9 * m and cols.abs().max() > 0.9 * 2 * m  # the range is used
    assert abs(float(cols.mean())) < 0.25  # uniform on [-3, 3]: sd of the mean of 500 = 0.08
    assert torch.equal(random_affine(x, (m, 2 * m), generator=torch.Generator().manual_seed(1)), y)


def test_augment_errors():
    X, _ = blobs(n_per=5)
    S, _ = spectrograms(n_per=5)
    with pytest.raises(ValueError, match="augment='roll' must be None, 'shift', 'affine' or a callable"):
        DEC(3, augment="roll").fit(X)
    with pytest.raises(ValueError, match="max_shift=-1 must be >= 0"):
        DEC(3, augment="shift", max_shift=-1).fit(S)
    with pytest.raises(ValueError, match=r"max_shift=\(1, 2, 3\) must be an int >= 0 or a sequence of 2 ints"):
        DEC(3, augment="shift", max_shift=(1, 2, 3)).fit(S)
    with pytest.raises(ValueError, match=r"max_shift=\(1, 2\) must be an int >= 0 or a sequence of 1 ints"):
        DEC(3, augment="shift", max_shift=(1, 2)).fit(X)  # 'mlp' shifts one axis
    with pytest.raises(ValueError, match="max_shift=1.5 must be an int"):
        DEC(3, augment="shift", max_shift=1.5).fit(X)
    with pytest.raises(ValueError, match="augment_clustering='yes' must be True or False"):
        DEC(3, augment="shift", augment_clustering="yes").fit(X)
    with pytest.raises(ValueError, match=r"augment returned shape \(2, 10\) for a batch of shape \(8, 10\)"):
        DEC(3, augment=lambda xb, gen: xb[:2], **dict(FAST, batch_size=8)).fit(X)
    with pytest.raises(ValueError, match=r"augment='affine' needs images \(architecture='conv'\)"):
        DEC(3, augment="affine").fit(X)
    with pytest.raises(ValueError, match=r"max_shift=-0.5 must be a finite real >= 0 or a sequence of 2"):
        DEC(3, augment="affine", max_shift=-0.5).fit(S)
    with pytest.raises(ValueError, match=r"max_rotation=\(1, 2\) must be a finite real >= 0"):
        DEC(3, augment="affine", max_rotation=(1, 2)).fit(S)
    from scatclust.nn import shift
    with pytest.raises(ValueError, match="integer offsets"):
        shift(torch.zeros(2, 3), torch.zeros(2, 1))
    with pytest.raises(ValueError, match=r"shifts has shape \(3, 1\)"):
        shift(torch.zeros(2, 3), torch.zeros(3, 1, dtype=torch.int64))


# ---- DEC-phase optimiser --------------------------------------------------------------------------------
@pytest.mark.parametrize("opt,dec_lr,cls,lr", [("sgd", 0.01, "SGD", 0.01), ("adam", None, "Adam", 1e-3),
                                                ("adam", 5e-4, "Adam", 5e-4)])
def test_dec_optimizer_and_lr(monkeypatch, opt, dec_lr, cls, lr):
    made = []
    real = getattr(torch.optim, cls)

    class Recording(real):
        def __init__(self, params, **kw):
            made.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, cls, Recording)
    X, y = blobs()
    est = DEC(3, dec_optimizer=opt, dec_lr=dec_lr, random_state=0, **FAST).fit(X)
    # Pretraining always uses Adam at lr; the DEC phase is the last optimiser made.
    assert made[-1]["lr"] == lr
    if cls == "SGD":
        assert made[-1]["momentum"] == 0.9 and len(made) == 1
        assert ari(y, est.labels_) >= 0.95


def test_dec_optimizer_errors():
    X, _ = blobs(n_per=5)
    with pytest.raises(ValueError, match="dec_optimizer='rmsprop' must be one of 'adam', 'sgd'"):
        DEC(3, dec_optimizer="rmsprop").fit(X)
    with pytest.raises(ValueError, match="dec_lr=0.0 must be > 0"):
        DEC(3, dec_lr=0.0).fit(X)
