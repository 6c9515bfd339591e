"""scatclust.cube.segment: spectral autoencoder + differentiable k-means on data cubes.

Oracles: the generator's ground-truth labels (ARI), finite differences (gradcheck of the
soft k-means loss), the hard k-means inertia computed in numpy (T -> 0 limit), and
scikit-learn's adjusted Rand index.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
skm = pytest.importorskip("sklearn.metrics")

from scatclust.cube import preprocess_spectra, segment  # noqa: E402
from scatclust.cube._segment import _build, soft_kmeans_loss  # noqa: E402
from scatclust.datasets import synthetic_xrf  # noqa: E402

# Small, fair test cube: realistic low counts (fast scan), blur 0.5 px so boundary pixels
# are mixed but the dominant pigment (ground-truth label) stays meaningful.
SMALL = dict(shape=(32, 32), n_channels=128, counts=100.0, blur=0.5, random_state=0)
FAST = dict(n_pretrain=15, n_cluster_epochs=5, batch_size=64)


@pytest.fixture(scope="module")
def small():
    return synthetic_xrf(**SMALL)


def test_segment_ari_against_ground_truth(small):
    seg = segment(small.cube, n_clusters=5, n_pretrain=40, n_cluster_epochs=20, random_state=0)
    ari = skm.adjusted_rand_score(small.labels.ravel(), seg.labels.ravel())
    assert ari >= 0.95, ari


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_shapes_and_mean_spectra(small, dtype):
    cube = small.cube.astype(dtype)
    seg = segment(cube, n_clusters=4, latent_dim=3, **FAST)
    h, w, c = cube.shape
    assert seg.labels.shape == (h, w) and seg.labels.dtype == np.int64
    assert seg.mean_spectra.shape == (4, c)
    assert seg.latent.shape == (h, w, 3)
    assert seg.centers.shape == (4, 3)
    assert set(np.unique(seg.labels)) <= set(range(4))
    flat = cube.reshape(-1, c).astype(np.float64)
    for k in range(4):
        expect = flat[seg.labels.ravel() == k].mean(0)
        np.testing.assert_allclose(seg.mean_spectra[k], expect, rtol=100 * np.finfo(np.float64).eps)


def test_soft_kmeans_loss_gradcheck_and_hard_limit():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 3, dtype=torch.float64, generator=g, requires_grad=True)
    mu = torch.randn(4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_kmeans_loss(a, b, 0.7), (z, mu),
                                    eps=1e-6, atol=1e-7)
    zn, mn = z.detach().numpy(), mu.detach().numpy()
    hard = ((zn[:, None, :] - mn[None]) ** 2).sum(-1).min(1).mean()
    soft = float(soft_kmeans_loss(z.detach(), mu.detach(), 1e-4))
    assert abs(soft - hard) <= 1e-8 * max(hard, 1.0)


def test_cluster_loss_sends_gradient_into_encoder(small):
    torch.manual_seed(0)
    x = torch.from_numpy(preprocess_spectra(small.cube.reshape(-1, 128)[:200]))
    enc, _ = _build(128, (32,), 4, False)
    z = enc(x)
    centers = z.detach()[:3].clone()
    loss = 1.0 * soft_kmeans_loss(z, centers, 0.5)  # reconstruction weight 0
    loss.backward()
    grads = [p.grad for p in enc.parameters()]
    assert all(gr is not None for gr in grads)
    assert all(float(gr.abs().sum()) > 0 for gr in grads)
    # Through segment itself: with recon_weight=0 the joint phase still moves the encoder.
    a = segment(small.cube, n_clusters=5, recon_weight=0.0, n_pretrain=3, n_cluster_epochs=0, random_state=0)
    b = segment(small.cube, n_clusters=5, recon_weight=0.0, n_pretrain=3, n_cluster_epochs=2, random_state=0)
    assert not np.allclose(a.latent, b.latent)
    assert np.all(np.isfinite(b.history["cluster"][-2:]))


def _spread(latent):
    z = latent.reshape(-1, latent.shape[-1]).astype(np.float64)
    return ((z - z.mean(0)) ** 2).sum(1).mean()


def test_joint_phase_keeps_the_latent_scale():
    # Below its starting value the clustering term is divided by the latent spread, so the
    # encoder cannot lower it by shrinking all codes. Before that fix, on the generator's
    # default cube (blur 1, 500 counts) 10 joint epochs cut the codes' mean squared spread to
    # 0.27-0.31 of its post-pretraining value (method seeds 0, 1; with it 0.88-0.90), and the
    # full-size default cube lost ARI in the joint phase (0.56 -> 0.31). Oracle: the same run
    # without the joint phase (identical pretraining, same seed).
    # The cube the defect was measured on: the generator's excitation before 2026-12-07
    # (monochromatic 20 keV, channels over 1-20 keV).
    d = synthetic_xrf(shape=(32, 32), n_channels=128, excitation_energy=20.0, energy_range=(1.0, 20.0),
                      random_state=3)
    a = segment(d.cube, n_clusters=5, n_pretrain=10, n_cluster_epochs=0, random_state=0)
    b = segment(d.cube, n_clusters=5, n_pretrain=10, n_cluster_epochs=10, random_state=0)
    ratio = _spread(b.latent) / _spread(a.latent)
    assert ratio > 0.6, ratio
    sp = b.history["spread"]
    assert len(sp) == 20 and np.all(np.isfinite(sp)) and sp[-1] > 0.6 * sp[9], sp


def test_one_row_batch_in_joint_phase(small):
    # 32 x 32 = 1024 pixels in batches of 1023: the last batch of every epoch has one row,
    # whose spread is 0; the spread-normalised clustering term must stay finite there.
    seg = segment(small.cube, n_clusters=3, n_pretrain=2, n_cluster_epochs=3, batch_size=1023, random_state=0)
    assert np.all(np.isfinite(seg.history["cluster"][2:])) and np.all(np.isfinite(seg.latent))


def test_k_chosen_by_silhouette_on_whole_cube():
    d = synthetic_xrf(shape=(32, 32), n_channels=128, counts=100.0, blur=0.0, random_state=0)
    # No joint phase: the returned latent map is exactly the codes K was chosen on.
    seg = segment(d.cube, n_clusters=None, k_range=(2, 7), silhouette_sample_size=None, n_pretrain=40,
                  n_cluster_epochs=0)
    table = seg.selection
    assert sorted(table.models) == list(range(2, 8))
    assert seg.n_clusters == table.best["silhouette"]
    assert seg.n_clusters == 5  # five pigments
    # The silhouette scored the codes of every pixel: recompute it with scikit-learn.
    z = seg.latent.reshape(-1, seg.latent.shape[-1]).astype(np.float64)
    s = skm.silhouette_score(z, table.models[5].predict(z))
    row = list(table.table["k"]).index(5)
    assert s == pytest.approx(table.table["silhouette"][row], rel=1e-6)


def test_mask_excludes_pixels(small):
    cube = small.cube.copy()
    mask = np.ones(cube.shape[:2], dtype=bool)
    mask[:6, :] = False
    other = cube.copy()
    cube[~mask] = 0.0
    other[~mask] = 1e4  # huge counts: would dominate the scaling and centres if used
    a = segment(cube, n_clusters=5, mask=mask, **FAST)
    b = segment(other, n_clusters=5, mask=mask, **FAST)
    assert np.all(a.labels[~mask] == -1) and np.all(b.labels[~mask] == -1)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.mean_spectra, b.mean_spectra)
    assert np.all(np.isnan(a.latent[~mask]))
    # Default mask: spectra with zero total counts.
    c = segment(cube, n_clusters=5, **FAST)
    assert np.all(c.labels[~mask] == -1) and np.all(c.labels[mask] >= 0)


def test_reproducible_by_random_state(small):
    a = segment(small.cube, n_clusters=5, random_state=3, **FAST)
    b = segment(small.cube, n_clusters=5, random_state=3, **FAST)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.latent, b.latent)
    c = segment(small.cube, n_clusters=5, random_state=4, **FAST)
    assert not np.array_equal(a.latent, c.latent)


def test_preprocess_anscombe():
    x = np.array([[0.0, 1.0, 4.0], [9.0, 0.0, 2.0]])
    a = 2 * np.sqrt(x + 0.375) - 2 * np.sqrt(0.375)
    np.testing.assert_allclose(preprocess_spectra(x), a / a.max(), rtol=np.finfo(np.float32).eps * 4)


@pytest.mark.parametrize("method", ["anscombe", "log-max"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("block", [1, 13 * 3, 1 << 20])  # one row per block, 3 rows, all rows at once
def test_preprocess_in_row_blocks_equals_the_whole_array_formula(monkeypatch, method, dtype, block):
    import scatclust.cube._segment as seg_mod

    x = np.random.default_rng(0).poisson(3.0, (50, 13)).astype(dtype)
    x[7] = 0  # an all-zero spectrum stays zero
    x64 = x.astype(np.float64)  # oracle: the formulas on the whole array in float64, then float32
    if method == "anscombe":
        a = 2.0 * np.sqrt(x64 + 0.375) - 2.0 * np.sqrt(0.375)
        ref = (a / a.max()).astype(np.float32)
    else:
        lg = np.log1p(x64)
        mx = lg.max(axis=1, keepdims=True)
        ref = (lg / np.where(mx > 0, mx, 1.0)).astype(np.float32)
    monkeypatch.setattr(seg_mod, "_PREPROCESS_BLOCK", block)
    got = preprocess_spectra(x, method)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)  # bit for bit, whatever the block size
    assert not got[7].any()


def test_preprocess_rejects_a_non_2d_input():
    with pytest.raises(ValueError, match=r"spectra of shape \(4,\) must be \(N, C\)"):
        preprocess_spectra(np.ones(4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_clusters=1), "n_clusters"),
    (dict(k_range=(1, 3)), "k_range"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(batch_size=0), "batch_size"),
    (dict(recon_weight=-1.0), "recon_weight"),
    (dict(temperature=(0.1, 1.0)), "temperature"),
    (dict(preprocess="sqrt"), "preprocess"),
    (dict(mask=np.ones((3, 3), dtype=bool)), "mask"),
])
def test_errors_name_the_argument(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment(small.cube, **kwargs)


@pytest.mark.parametrize("bad, match", [
    (np.ones((4, 4)), "cube"),
    (-np.ones((4, 4, 8)), "cube"),
    (np.full((4, 4, 8), np.nan), "cube"),
])
def test_bad_cube(bad, match):
    with pytest.raises(ValueError, match=match):
        segment(bad, n_clusters=2)


def _write(fmt, cube, path):
    """Store ``cube`` (H, W, C) in ``fmt``; returns the source given to segment and its key."""
    if fmt == "hdf5":
        h5py = pytest.importorskip("h5py")
        with h5py.File(path / "c.h5", "w") as f:
            f.create_dataset("xrf/counts", data=cube)
        return path / "c.h5", "xrf/counts"
    if fmt == "zarr":
        zarr = pytest.importorskip("zarr")
        g = zarr.open_group(str(path / "c.zarr"), mode="w")
        g.create_array("counts", shape=cube.shape, dtype=cube.dtype)[...] = cube
        return str(path / "c.zarr"), "counts"
    if fmt == "fits":
        fits = pytest.importorskip("astropy.io.fits")
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.moveaxis(cube, -1, 0))]).writeto(path / "c.fits")
        return path / "c.fits", None
    xr = pytest.importorskip("xarray")
    return xr.DataArray(np.moveaxis(cube, -1, 0), dims=("energy", "y", "x")), None


@pytest.mark.parametrize("fmt", ["hdf5", "zarr", "fits", "xarray"])
def test_cube_sources_match_numpy(small, tmp_path, fmt):
    from scatclust.cube import load_cube

    src, key = _write(fmt, small.cube, tmp_path)
    np.testing.assert_array_equal(load_cube(src, key), small.cube)
    a = segment(small.cube, n_clusters=5, **FAST)
    b = segment(src, n_clusters=5, key=key, **FAST)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_cube_source_errors(tmp_path):
    from scatclust.cube import load_cube

    with pytest.raises(ValueError, match="does not exist"):
        load_cube(tmp_path / "nope.h5")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown extension"):
        load_cube(tmp_path / "c.txt")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f.create_dataset("counts", data=np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="key="):
        load_cube(tmp_path / "g.h5")
