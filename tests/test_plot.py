"""scatclust.plot and scatclust.report: every figure function runs on small data, writes a
non-empty file, and draws the data it claims (checked against numpy / scipy / xraylib /
scikit-learn oracles); two figures against stored reference images
(tests/data/figures/make_figures.py); write_report lists every figure.

Tolerances: drawn data are float64 copies of the oracle's arrays, so they are compared to
1e-12 relative (1e-10 where an FFT is involved); images are compared with matplotlib's
``compare_images`` at RMS tol = 3 (of 255), which absorbs anti-aliasing differences of
other FreeType builds but not a moved bar, label or colour.
"""
import importlib.util
import os
import types

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="scatclust.plot needs matplotlib")
from matplotlib.testing.compare import compare_images  # noqa: E402

from scatclust import plot  # noqa: E402
from scatclust.report import (CubeResults, SeismicResults, SeparationResults, as_waveforms,  # noqa: E402
                              write_report)

FIG_DIR = os.path.join(os.path.dirname(__file__), "data", "figures")
IMAGE_TOL = 3.0
RTOL = 1e-12


def _save_nonempty(fig, tmp_path, name, ext="png"):
    p = tmp_path / f"{name}.{ext}"
    out = plot._common.finish(fig, p)
    assert out is fig
    assert p.stat().st_size > 1000
    return p


# --------------------------------------------------------------------------- time of day
@pytest.mark.parametrize("bins,weighted", [(24, False), (7, True)])
def test_time_of_day_bars_equal_numpy_histogram(tmp_path, bins, weighted):
    rng = np.random.default_rng(0)
    hours = rng.uniform(0, 24, 300)
    labels = rng.integers(0, 5, 300)
    w = rng.uniform(0.2, 1.0, 300) if weighted else None
    fig = plot.time_of_day_histogram(hours, labels, bins=bins, weights=w, path=tmp_path / "tod.png")
    assert (tmp_path / "tod.png").stat().st_size > 1000
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5
    for k, ax in enumerate(visible):
        sel = labels == k
        ref, edges = np.histogram(hours[sel], bins=bins, range=(0, 24), weights=None if w is None else w[sel])
        heights = np.array([p.get_height() for p in ax.patches])
        lefts = np.array([p.get_x() for p in ax.patches])
        np.testing.assert_allclose(heights, ref, rtol=RTOL, atol=0)
        np.testing.assert_allclose(lefts, edges[:-1], rtol=RTOL)


def test_time_of_day_errors():
    with pytest.raises(ValueError, match=r"hours must be finite times of day in \[0, 24\)"):
        plot.time_of_day_histogram([1.0, 25.0], [0, 1])
    with pytest.raises(ValueError, match=r"hours has shape \(3,\); it must be \(2,\)"):
        plot.time_of_day_histogram([1.0, 2.0, 3.0], [0, 1])
    with pytest.raises(ValueError, match="labels must be a 1-D integer array"):
        plot.time_of_day_histogram([1.0, 2.0], [0.5, 1.0])
    with pytest.raises(ValueError, match="labels go up to 3 but n_clusters=2"):
        plot.time_of_day_histogram([1.0, 2.0], [0, 3], n_clusters=2)


# --------------------------------------------------------------------------- alignment
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_align_waveforms_recovers_known_shifts(dtype):
    rng = np.random.default_rng(1)
    L, length, C = 6000, 400, 3
    x = 0.05 * rng.standard_normal((C, L))
    pulse = np.sin(np.linspace(0, 6 * np.pi, 61)) * np.hanning(61)
    gains = np.array([1.0, -0.5, 0.7])
    starts = np.arange(200, 5400, 600)
    shifts = rng.integers(-40, 41, len(starts))
    for s, d in zip(starts, shifts):
        x[:, s + 150 + d:s + 211 + d] += gains[:, None] * pulse
    ref = 3
    w = rng.uniform(0.5, 1.0, len(starts))
    al = plot.align_waveforms(x.astype(dtype), starts, length, reference=ref, max_lag=60, weights=w)
    np.testing.assert_array_equal(al.lags, shifts - shifts[ref])
    assert al.lags[ref] == 0 and al.reference == ref
    # every aligned segment starts at its window start plus its lag; centroid = weighted mean
    xd = x.astype(dtype).astype(np.float64)
    for i, (s, lag) in enumerate(zip(starts, al.lags)):
        np.testing.assert_array_equal(al.segments[i], xd[:, s + lag:s + lag + length])
    np.testing.assert_allclose(al.centroid, (w[:, None, None] * al.segments).sum(0) / w.sum(), rtol=RTOL,
                               atol=1e-15)
    assert (al.correlation > 0.8).all()


def test_align_waveforms_edges_and_errors():
    x = np.zeros(300)
    x[10:20] = np.hanning(10)
    x[5:15] += 0.0
    # a window at the record start cannot move left: the lag stays within the record
    al = plot.align_waveforms(x, [100, 0], 50, reference=1, max_lag=20)
    assert 0 <= 0 + al.lags[1] and al.lags[0] + 100 >= 80
    with pytest.raises(ValueError, match=r"window 1 \(start 280, length 50\) lies outside the record of 300"):
        plot.align_waveforms(x, [0, 280], 50)
    with pytest.raises(ValueError, match=r"reference=5 must be an index into starts \(0..1\)"):
        plot.align_waveforms(x, [0, 100], 50, reference=5)
    with pytest.raises(ValueError, match="max_lag=-1 must be an int >= 0"):
        plot.align_waveforms(x, [0, 100], 50, max_lag=-1)
    with pytest.raises(ValueError, match="data contains NaN"):
        plot.align_waveforms(np.full(300, np.nan), [0], 50)


def test_cluster_centroids_reference_is_most_confident(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 8000))
    starts = np.arange(0, 7600, 250)
    labels = np.arange(len(starts)) % 3
    conf = rng.uniform(0, 1, len(starts))
    cents = plot.cluster_centroids(x, starts, 300, labels, conf, n_windows=4)
    assert sorted(cents) == [0, 1, 2]
    for k, al in cents.items():
        members = np.flatnonzero(labels == k)
        top = members[np.argsort(-conf[members])][:4]
        np.testing.assert_array_equal(al.index, top)
        np.testing.assert_allclose(al.weights, conf[top], rtol=RTOL)
        assert al.lags[0] == 0
    fig = plot.cluster_waveforms(cents, 20.0, channels=["U", "V"])
    assert len(fig.axes) == 6
    _save_nonempty(fig, tmp_path, "waveforms")
    # a window running past the record end is skipped, not an error
    cents2 = plot.cluster_centroids(x, np.r_[starts[:-1], 7900], 300, labels, conf, n_windows=50)
    assert len(starts) - 1 not in np.concatenate([al.index for al in cents2.values()])


def test_envelope_keeps_extremes():
    t = np.arange(100000) / 20.0
    y = np.zeros(100000)
    y[12345] = 7.0
    y[54321] = -3.0
    te, ye = plot._seismic._envelope(t, y, 4000)
    assert len(ye) <= 4000 and ye.max() == 7.0 and ye.min() == -3.0


# --------------------------------------------------------------------------- spectra
def test_centroid_asd_equals_scipy_welch(tmp_path):
    from scipy.signal import welch

    rng = np.random.default_rng(3)
    cents = {0: rng.standard_normal((3, 2048)), 2: np.cumsum(rng.standard_normal((3, 2048)), -1)}
    fig = plot.centroid_asd(cents, 20.0, channels=["U", "V", "W"], nperseg=256)
    for c, ax in enumerate(fig.axes):
        assert len(ax.lines) == 2
        for line, k in zip(ax.lines, sorted(cents)):
            f, p = welch(cents[k][c], fs=20.0, nperseg=256)
            np.testing.assert_allclose(line.get_xdata(), f[1:], rtol=RTOL)
            np.testing.assert_allclose(line.get_ydata(), np.sqrt(p[1:]), rtol=1e-10)
    _save_nonempty(fig, tmp_path, "asd")
    assert _save_nonempty(fig, tmp_path, "asd", "pdf").read_bytes()[:4] == b"%PDF"


def test_amplitude_spectral_density_default_segments():
    from scipy.signal import welch

    x = np.random.default_rng(4).standard_normal(10000)
    f, a = plot.amplitude_spectral_density(x, 2.0)
    # default: largest power of two >= 256 leaving >= 8 half-overlapping segments (10000 / 4.5 -> 2048)
    f2, p2 = welch(x, fs=2.0, nperseg=2048)
    np.testing.assert_allclose(f, f2, rtol=RTOL)
    np.testing.assert_allclose(a, np.sqrt(p2), rtol=1e-10)
    with pytest.raises(ValueError, match="fs=0.0 must be a positive sampling rate in Hz"):
        plot.amplitude_spectral_density(x, 0.0)


# --------------------------------------------------------------------------- occupancy
def test_occupancy_raster_matches_brute_force(tmp_path):
    rng = np.random.default_rng(5)
    day = rng.integers(200, 206, 500)
    hours = rng.uniform(0, 24, 500)
    labels = rng.integers(-1, 3, 500)
    days, edges, frac = plot.occupancy(day, hours, labels, bins=12)
    assert days.tolist() == sorted(set(day.tolist()))
    for k in range(3):
        for i, d in enumerate(days):
            for b in range(12):
                cell = (day == d) & (hours >= edges[b]) & (hours < edges[b + 1])
                if cell.sum() == 0:
                    assert np.isnan(frac[k, i, b])
                else:
                    assert frac[k, i, b] == pytest.approx((labels[cell] == k).mean(), rel=RTOL)
    fig = plot.occupancy_raster(day, hours, labels, bins=12, path=tmp_path / "occ.png")
    assert (tmp_path / "occ.png").stat().st_size > 1000
    for k in range(3):
        img = fig.axes[k].images[0].get_array()
        np.testing.assert_array_equal(np.ma.filled(img, np.nan), frac[k])
    with pytest.raises(ValueError, match="day must be 500 integers"):
        plot.occupancy(hours, hours, labels)


# --------------------------------------------------------------------------- nesting, latent
def test_contingency_heatmap_row_shares(tmp_path):
    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 4, 400), rng.integers(0, 3, 400)
    t = plot.contingency_table(a, b)
    ref = np.array([[np.sum((a == i) & (b == j)) for j in range(3)] for i in range(4)])
    np.testing.assert_array_equal(t, ref)
    fig = plot.contingency_heatmap(t, normalize="row")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), ref / ref.sum(1, keepdims=True), rtol=RTOL)
    texts = sorted(int(x.get_text()) for x in fig.axes[0].texts)
    assert texts == sorted(ref.ravel().tolist())
    _save_nonempty(fig, tmp_path, "nesting")
    col = plot.contingency_heatmap(t, normalize="column").axes[0].images[0].get_array()
    np.testing.assert_allclose(col, ref / ref.sum(0, keepdims=True), rtol=RTOL)
    with pytest.raises(ValueError, match="normalize='rows' must be 'row', 'column', 'all' or None"):
        plot.contingency_heatmap(t, normalize="rows")


def test_embed_2d_pca_matches_sklearn_and_scatter(tmp_path):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(7)
    Z = rng.standard_normal((120, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    Y, how = plot.embed_2d(Z, "pca")
    ref = PCA(2).fit_transform(Z)
    assert how == "pca"
    np.testing.assert_allclose(np.abs(Y), np.abs(ref), rtol=1e-9, atol=1e-9)  # PCA axes up to sign
    labels = (Z[:, 0] > 0).astype(int)
    fig = plot.latent_embedding(Z, labels, method="pca", centers=np.zeros((2, 6)))
    pts = np.concatenate([c.get_offsets() for c in fig.axes[0].collections[:2]])
    np.testing.assert_allclose(np.sort(pts, 0), np.sort(Y, 0), rtol=RTOL)
    _save_nonempty(fig, tmp_path, "latent")
    Y2, how2 = plot.embed_2d(Z[:, :2])
    assert how2 == "identity" and np.array_equal(Y2, Z[:, :2])
    with pytest.raises(ValueError, match="method='mds' must be 'auto', 'umap', 'pca' or 'tsne'"):
        plot.embed_2d(Z, "mds")


def test_embed_2d_auto_uses_umap_or_pca():
    Z = np.random.default_rng(8).standard_normal((40, 4))
    Y, how = plot.embed_2d(Z, "auto")
    try:
        import umap  # noqa: F401
        expected = "umap"
    except ImportError:
        expected = "pca"
    assert how == expected and Y.shape == (40, 2)


# --------------------------------------------------------------------------- separation
def test_separation_panels_and_spectra(tmp_path):
    from scipy.signal import welch

    rng = np.random.default_rng(9)
    b = rng.standard_normal((3, 3000))
    o = np.zeros((3, 3000))
    o[:, 1000:1100] = 4.0 * np.sin(np.arange(100) * 0.7)
    fig = plot.separation(b + o, {"background": b, "other": o}, 20.0, channel=1, nperseg=256)
    assert len(fig.axes) == 6
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), b[1], rtol=RTOL)  # row 1 waveform
    asd_line = fig.axes[5].lines[-1]  # row 2 ASD, after the grey mixture
    f, p = welch(o[1], fs=20.0, nperseg=256)
    np.testing.assert_allclose(asd_line.get_ydata(), np.maximum(np.sqrt(p[1:]), np.finfo(float).tiny),
                               rtol=1e-10)
    _save_nonempty(fig, tmp_path, "sep")
    with pytest.raises(ValueError, match=r"source 'other' has shape \(3, 10\), the mixture x \(3, 3000\)"):
        plot.separation(b + o, {"background": b, "other": o[:, :10]}, 20.0)


# --------------------------------------------------------------------------- cubes
@pytest.fixture(scope="module")
def xrf():
    pytest.importorskip("xraylib", reason="cube figures mark xraylib line energies")
    pytest.importorskip("skimage", reason="synthetic_xrf uses scikit-image images")
    from scatclust.datasets import synthetic_xrf

    return synthetic_xrf(shape=(20, 24), n_channels=128, random_state=0)


def test_cube_label_map_and_mean_spectra(tmp_path, xrf):
    import xraylib

    labels = xrf.labels.copy()
    labels[0, :3] = -1  # masked pixels
    fig = plot.cube_label_map(labels, xrf.cube)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), xrf.cube.sum(-1, dtype=np.float64),
                               rtol=RTOL)
    overlay = fig.axes[1].images[1].get_array()
    assert overlay.mask[0, :3].all() and np.array_equal(overlay.data[~overlay.mask], labels[labels >= 0])
    _save_nonempty(fig, tmp_path, "labelmap")

    k = xrf.labels.max() + 1
    means = np.stack([xrf.cube[xrf.labels == c].mean(0) for c in range(k)])
    fig = plot.cube_mean_spectra(means, xrf.energies, lines=["Pb", "Cu"])
    ax = fig.axes[0]
    for c in range(k):
        np.testing.assert_allclose(ax.lines[c].get_ydata(), means[c], rtol=RTOL)
    marked = sorted(line.get_xdata()[0] for line in ax.lines[k:])
    lo, hi = xrf.energies.min(), xrf.energies.max()
    expect = sorted(e for z in (82, 29) for name in ("KA1", "KB1", "LA1", "LB1", "MA1")
                    for e in [_line_energy(xraylib, z, name)] if e is not None and lo <= e <= hi)
    np.testing.assert_allclose(marked, expect, rtol=RTOL)
    _save_nonempty(fig, tmp_path, "spectra")
    # SyntheticXRF line records: one marker per element/line above the intensity cut
    fig2 = plot.cube_mean_spectra(means, xrf.energies, lines=xrf.lines, min_line_intensity=0.0)
    assert len(fig2.axes[0].lines) - k == len({(d["element"], d["line"]) for d in xrf.lines})


def _line_energy(xraylib, z, name):
    try:
        return xraylib.LineEnergy(z, getattr(xraylib, name + "_LINE"))
    except ValueError:
        return None


# --------------------------------------------------------------------------- training curves
def test_training_curves_of_every_history_kind(tmp_path):
    fvae = [5.0, 4.0, 3.5, 3.2]
    dec = {"pretrain_loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.2, 1.7], "target_updates": [0, 140],
           "delta_label": [0.01], "kl_loss": [0.2], "pretrain_epochs": 3, "best_epoch": 3}
    cube = {"recon": [1.0, 0.5, 0.4, 0.3], "cluster": [np.nan, np.nan, 0.2, 0.1]}
    f1 = plot.training_curves(types.SimpleNamespace(history_=fvae))
    np.testing.assert_array_equal(f1.axes[0].lines[0].get_ydata(), fvae)
    np.testing.assert_array_equal(f1.axes[0].lines[0].get_xdata(), [1, 2, 3, 4])
    f2 = plot.training_curves(dec)
    titles = [ax.get_title() for ax in f2.axes if ax.get_visible()]
    assert titles == ["pretrain_loss", "delta_label", "kl_loss"]
    first = f2.axes[0]
    np.testing.assert_array_equal(first.lines[1].get_ydata(), dec["val_loss"])  # val shares the panel
    assert first.lines[2].get_xdata()[0] == 3  # best epoch marker
    f3 = plot.training_curves(cube, path=[tmp_path / "tc.png", tmp_path / "tc.pdf"])
    assert (tmp_path / "tc.png").stat().st_size > 1000 and (tmp_path / "tc.pdf").read_bytes()[:4] == b"%PDF"
    np.testing.assert_array_equal(f3.axes[1].lines[0].get_ydata(), cube["cluster"])
    with pytest.raises(ValueError, match="history of type str is neither a list of per-epoch losses"):
        plot.training_curves("loss")
    with pytest.raises(ValueError, match=r"path='x.jpg' must end in .png, .pdf or .svg"):
        plot.training_curves(fvae, path="x.jpg")


# --------------------------------------------------------------------------- stored images
def _load_make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", os.path.join(FIG_DIR, "make_figures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["time_of_day_histogram", "contingency_heatmap"])
def test_figure_matches_stored_reference_image(tmp_path, name):
    mod = _load_make_figures()
    with plot.reference_style():
        fig = mod.FIGURES[name]()
        out = tmp_path / f"{name}.png"
        fig.savefig(out)
    expected = os.path.join(FIG_DIR, f"{name}.png")
    result = compare_images(expected, str(out), tol=IMAGE_TOL)
    assert result is None, result


def test_reference_comparison_can_fail(tmp_path):
    """The comparison detects a changed figure (the test above cannot pass vacuously)."""
    from scatclust.plot import contingency_heatmap

    with plot.reference_style():
        fig = contingency_heatmap(np.array([[40, 2, 0], [3, 25, 1], [0, 4, 30], [0, 10, 12]]),
                                  row_label="cluster at 51 s", col_label="cluster at 819 s",
                                  title="reference: nesting")
        out = tmp_path / "changed.png"
        fig.savefig(out)
    assert compare_images(os.path.join(FIG_DIR, "contingency_heatmap.png"), str(out), tol=IMAGE_TOL) is not None


# --------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def seismic_run():
    """Windows of the first 40 min of synthetic_mars('small') with a small pyramid, and a tiny
    fitted F-VAE."""
    pytest.importorskip("obspy", reason="the seismic report reads ObsPy Streams")
    pytest.importorskip("xarray", reason="window features are xarray datasets")
    torch = pytest.importorskip("torch", reason="FVAEClustering needs torch")
    import scatclust
    from scatclust.datasets import synthetic_mars
    from scatclust.features import window_features
    from scatclust.models import FVAEClustering

    sm = synthetic_mars("small", seed=1)
    n = 48000  # the first 40 minutes keep the test fast
    sm.mixture = sm.mixture[:, :n]
    sm.sources = {k: v[:, :n] for k, v in sm.sources.items()}
    st = sm.to_stream()
    rec = types.SimpleNamespace(data=sm.mixture, gap_mask=np.zeros(sm.mixture.shape[1], bool),
                                starttime=sm.starttime, sampling_rate=sm.fs, channels=[tr.id for tr in st],
                                processing=[])
    pyr = scatclust.ScatteringPyramid(J=4, scales=(512, 2048), hop=512, C=3, as_real=True)
    ds = window_features(rec, pyr)
    X = np.log(np.abs(np.asarray(ds.features.values)) + 1e-3)
    torch.set_num_threads(1)
    est = FVAEClustering(n_clusters=3, latent_dim=2, hidden=(16,), epochs=3, batch_size=64, random_state=0).fit(X)
    return sm, st, ds, X, est


def test_seismic_results_from_model(seismic_run):
    sm, st, ds, X, est = seismic_run
    sr = SeismicResults.from_model(est, ds, waveforms=st)
    n = ds.sizes["window"]
    np.testing.assert_array_equal(sr.labels, est.labels_)
    # times of day at the window centres, against Mars24 LMST of the centre times (1e-7 h = 0.4 ms)
    from scatclust.io import utc_to_lmst

    for s, half in enumerate((256, 1024)):
        sol, h = utc_to_lmst(ds["time_end"].values - np.timedelta64(half * 50, "ms"))
        np.testing.assert_allclose(sr.hours[:, s], h, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(sr.day[:, s], sol)
    assert sr.time_label == "LMST" and sr.day_label == "sol" and sr.scale_names == ["25.6 s", "102.4 s"]
    np.testing.assert_array_equal(sr.window_length, [512, 2048])
    # window starts index the same samples as the pyramid's windows: end = start + scale
    ends = np.round((ds["time_end"].values - np.datetime64(sm.starttime.ns, "ns")).astype(np.int64) * 20.0 / 1e9)
    np.testing.assert_array_equal(sr.window_start + sr.window_length, np.repeat(ends[:, None], 2, 1))
    np.testing.assert_array_equal(sr.waveforms, sm.mixture.astype(np.float64))
    # the contingency the report draws is the model's own
    np.testing.assert_array_equal(plot.contingency_table(sr.labels[:, 0], sr.labels[:, 1], 3, 3),
                                  est.contingency(0, 1))
    assert len(sr.latent) == 2 and sr.latent[0].shape == (n, 2)
    # from X (a model loaded from a checkpoint has no training read-out)
    sr2 = SeismicResults.from_model(est, ds, X)
    np.testing.assert_array_equal(sr2.labels, est.predict(X))


def test_write_report_lists_every_figure(tmp_path, seismic_run, xrf):
    import json

    from scatclust.cube import CubeSegmentation

    sm, st, ds, X, est = seismic_run
    sr = SeismicResults.from_model(est, ds, waveforms=st)
    k = xrf.labels.max() + 1
    seg = CubeSegmentation(labels=xrf.labels, mean_spectra=np.stack([xrf.cube[xrf.labels == c].mean(0)
                                                                     for c in range(k)]),
                           latent=np.random.default_rng(0).standard_normal(xrf.labels.shape + (3,)),
                           centers=np.zeros((k, 3)), n_clusters=k, history={"recon": [1.0, 0.5]})
    b = sm.sources["background"][0].astype(np.float64)
    o = sm.mixture[0] - b
    config = {"seed": 0, "model": {"n_clusters": 3}}
    rep = write_report(tmp_path / "rep", seismic=sr,
                       cube=CubeResults.from_segmentation(seg, xrf.cube, energies=xrf.energies, lines=xrf.lines),
                       separation={"x": sm.mixture[0], "background": b, "other": o, "fs": sm.fs},
                       config=config, title="test run", n_windows=5)
    md = open(rep.markdown, encoding="utf-8").read()
    page = open(rep.html, encoding="utf-8").read()
    names = [os.path.basename(f.files[0]) for f in rep.figures]
    per_scale = ["seismic_time_of_day", "seismic_occupancy", "seismic_waveforms", "seismic_centroid_asd",
                 "seismic_latent"]
    expected = [f"{p}_scale{s}.png" for s in (0, 1) for p in per_scale]
    expected += ["seismic_nesting_scale0_scale1.png", "cube_label_map.png", "cube_mean_spectra.png",
                 "cube_latent.png", "separation_0.png", "training_fvaeclustering.png",
                 "training_cube_segmentation.png"]
    assert names == expected
    for f in rep.figures:
        assert [os.path.splitext(p)[1] for p in f.files] == [".png"]
        for p in f.files:
            assert os.path.getsize(os.path.join(rep.out_dir, p)) > 1000
            assert f"]({p})" in md and f'"{p}"' in page
        assert f.caption in md
    assert md.startswith("# test run")
    assert "## Configuration" in md and "## Versions" in md and "| scatclust |" in md
    block = md.split("```json\n")[1].split("\n```")[0]
    assert json.loads(block) == config
    assert "<h2>Configuration</h2>" in page and "&quot;n_clusters&quot;: 3" in page
    assert "| cluster | windows | share | mean confidence |" in md
    assert rep.tables["clusters_scale0"].count("\n") == 1 + est.model_.n_clusters[0]  # empty clusters too
    assert "<th>package</th>" in page and "<td>:---</td>" not in page


def test_write_report_inputs_and_errors(tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        write_report(tmp_path)
    with pytest.raises(ValueError, match=r"formats=\('jpg',\) must be a non-empty subset"):
        write_report(tmp_path, history=[1.0], formats=("jpg",))
    with pytest.raises(TypeError, match="seismic must be a SeismicResults"):
        write_report(tmp_path, seismic={"labels": [0]})
    with pytest.raises(ValueError, match="separation needs the mixture 'x' and the sampling rate 'fs'"):
        SeparationResults.coerce({"background": [0.0, 1.0]})
    sp = SeparationResults.coerce(types.SimpleNamespace(x=np.zeros(64), background=np.zeros(64),
                                                        other=np.zeros(64), fs=10.0))
    assert list(sp.sources) == ["background", "other"] and sp.fs == 10.0
    rep = write_report(tmp_path / "h", history={"model A": types.SimpleNamespace(history_=[3.0, 2.0]),
                                                 "model B": {"recon": [1.0, 0.9]}}, html=False, formats=("pdf",))
    assert rep.html is None and [f.files for f in rep.figures] == [["figures/training_model_a.pdf"],
                                                                   ["figures/training_model_b.pdf"]]
    assert (tmp_path / "h" / "figures" / "training_model_a.pdf").read_bytes()[:4] == b"%PDF"
    assert "[Training curves: model A](figures/training_model_a.pdf)" in open(rep.markdown).read()
    rep1 = write_report(tmp_path / "one", history={"recon": [1.0, 0.9], "cluster": [0.5, 0.4]})
    assert [f.caption for f in rep1.figures] == ["Training curves: model"]
    with pytest.raises(ValueError, match="waveforms given as an array need fs="):
        as_waveforms(np.zeros((3, 10)))


def test_seismic_results_without_local_time():
    xr = pytest.importorskip("xarray", reason="feature datasets are xarray")
    t_end = np.array(["2020-01-01T23:30", "2020-01-02T01:15", "2020-01-02T06:00"], dtype="datetime64[ns]")
    ds = xr.Dataset(coords={"time_end": ("window", t_end),
                            "time_start": (("window", "scale"), (t_end - np.timedelta64(60, "s"))[:, None]),
                            "scale_seconds": ("scale", [60.0])})
    sr = SeismicResults.from_features(ds, labels=[0, 1, 1])
    # centres 30 s before the ends; the first window of day 1 falls back into day 0
    np.testing.assert_allclose(sr.hours[:, 0], [23.5 - 1 / 120, 1.25 - 1 / 120, 6.0 - 1 / 120], rtol=RTOL)
    assert sr.day[:, 0].tolist() == [0, 1, 1] and sr.time_label == "UTC" and sr.day_label == "day from 2020-01-01"
    t_end2 = np.array(["2020-01-01T23:30", "2020-01-02T00:00:20"], dtype="datetime64[ns]")
    ds2 = xr.Dataset(coords={"time_end": ("window", t_end2), "time_start": (("window", "scale"), t_end2[:, None]),
                             "scale_seconds": ("scale", [60.0])})
    sr2 = SeismicResults.from_features(ds2, labels=[0, 1])
    assert sr2.day[:, 0].tolist() == [0, 0]
    np.testing.assert_allclose(sr2.hours[1, 0], 24.0 - 10 / 3600, rtol=RTOL)
    with pytest.raises(ValueError, match="no labels given and the dataset has no 'labels' variable"):
        SeismicResults.from_features(ds)


def test_seismic_results_from_kmeans():
    xr = pytest.importorskip("xarray", reason="feature datasets are xarray")
    from scatclust.cluster import KMeans

    rng = np.random.default_rng(10)
    n = 60
    t_end = np.datetime64("2020-03-01T00:00", "ns") + np.arange(n) * np.timedelta64(30, "m")
    ds = xr.Dataset(coords={"time_end": ("window", t_end),
                            "time_start": (("window", "scale"), np.stack([t_end - np.timedelta64(s, "s")
                                                                          for s in (60, 240)], 1)),
                            "scale_seconds": ("scale", [60.0, 240.0]),
                            "local_time": ("window", ((t_end - t_end.astype("datetime64[D]")).astype(np.int64)
                                                      / 3.6e12 + 1.0) % 24)})
    X = np.concatenate([rng.normal(m, 0.1, (n // 2, 4)) for m in (0.0, 3.0)])
    km = KMeans(3, random_state=0).fit(X)
    sr = SeismicResults.from_model(km, ds, X, scale=1)
    np.testing.assert_array_equal(sr.labels[:, 0], km.predict(X))
    assert sr.n_clusters == [3] and sr.scale_names == ["240 s"] and sr.time_label == "local time"
    # local time = UTC + 1 h: the window ending 23:30 UTC is centred at 00:28 local, on local day 1
    i = 47
    assert str(t_end[i]) == "2020-03-01T23:30:00.000000000"
    assert sr.day[i, 0] == 1 and sr.hours[i, 0] == pytest.approx(0.5 - 2 / 60, rel=RTOL)
    assert sr.day[i - 1, 0] == 0
    np.testing.assert_array_equal(sr.latent[0], X)
    np.testing.assert_array_equal(sr.centers[0], km.cluster_centers_)
    assert sr.confidence is None
    with pytest.raises(ValueError, match=r"n_clusters=\[1\] is smaller than the labels need \(\[3\]\)"):
        SeismicResults(labels=km.labels_, hours=np.zeros(n), day=np.zeros(n, int), n_clusters=1)
