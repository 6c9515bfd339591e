"""Documentation stays true: the generated API reference is current, every relative link
in the README and docs/ points to a file, and the tutorial scripts run (at reduced size)
with outputs checked against independent computations."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_reference_is_current():
    gen = _load("tools/gen_api_docs.py", "gen_api_docs")
    with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as f:
        stored = f.read()
    assert gen.render() == stored, "docs/api.md is out of date: run python tools/gen_api_docs.py"


def _markdown_files():
    out = [os.path.join(ROOT, "README.md")]
    for d, _, files in os.walk(os.path.join(ROOT, "docs")):
        # api.md is docstring text (code, not links)
        out += [os.path.join(d, f) for f in files if f.endswith(".md") and f != "api.md"]
    return out


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_exist(path):
    text = open(path, encoding="utf-8").read()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [u.split("#")[0] for u in links if not re.match(r"[a-z]+://|mailto:|#", u)]
    missing = [u for u in local if u and not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), u)))]
    assert not missing, f"{os.path.relpath(path, ROOT)} links to missing files: {missing}"


def test_earth_tutorial_on_obspy_shipped_data(tmp_path, capsys):
    pytest.importorskip("obspy")
    pytest.importorskip("zarr")
    mod = _load("examples/earth_obspy.py", "earth_obspy")
    assert mod.main(["--out", str(tmp_path), "--clusters", "3"]) == 0
    out = capsys.readouterr().out
    # 86400 samples at 1 Hz, windows of 4096 samples ending every 128 samples: (86400 - 4096) // 128 + 1
    # ends on the record's own grid; the store's day grid (anchored at 00:00 UTC, the record starts
    # 0.07 s later) can lose the last one
    n_windows = int(re.search(r"(\d+) windows, 3 scales", out).group(1))
    assert (86400 - 4096) // 128 <= n_windows <= (86400 - 4096) // 128 + 1
    sizes = [int(m) for m in re.findall(r"cluster \d: +(\d+) windows", out)]
    assert len(sizes) == 9 and sum(sizes) == 3 * n_windows


def test_fits_tutorial_writes_a_valid_cube_and_segments_it(tmp_path, capsys):
    fits = pytest.importorskip("astropy.io.fits")
    mod = _load("examples/fits_cube.py", "fits_cube")
    assert mod.main(["--out", str(tmp_path), "--size", "24"]) == 0
    cube, lam, truth = mod.galaxy_cube(24, seed=0)
    with fits.open(os.path.join(tmp_path, "galaxy.fits")) as h:
        np.testing.assert_array_equal(h[0].data, cube)
        hdr = h[0].header
        wav = hdr["CRVAL3"] + (np.arange(hdr["NAXIS3"]) + 1 - hdr["CRPIX3"]) * hdr["CDELT3"]
    np.testing.assert_allclose(wav, lam, rtol=0, atol=1e-9)          # WCS spectral axis = the model's grid
    from scatclust.cube import load_cube

    np.testing.assert_array_equal(load_cube(os.path.join(tmp_path, "galaxy.fits")), np.moveaxis(cube, 0, -1))
    z = np.load(os.path.join(tmp_path, "galaxy_segmentation.npz"))
    np.testing.assert_array_equal(z["truth"], truth)
    assert z["labels"].shape == (24, 24) and z["labels"].min() >= 0
    # mean spectra are the per-cluster means of the raw cube
    flat = np.moveaxis(cube, 0, -1).reshape(-1, cube.shape[0]).astype(np.float64)
    for k in range(z["mean_spectra"].shape[0]):
        np.testing.assert_allclose(z["mean_spectra"][k], flat[z["labels"].ravel() == k].mean(0), rtol=1e-5)


def test_xrf_tutorial(tmp_path, capsys):
    pytest.importorskip("h5py")
    pytest.importorskip("xraylib")
    pytest.importorskip("skimage")
    mod = _load("examples/xrf_cube.py", "xrf_cube")
    assert mod.main(["--out", str(tmp_path), "--size", "24"]) == 0
    out = capsys.readouterr().out
    from scatclust.datasets import synthetic_xrf

    d = synthetic_xrf(shape=(24, 24), n_channels=256, counts=30.0, blur=0.5, random_state=0)
    z = np.load(os.path.join(tmp_path, "painting_segmentation.npz"))
    np.testing.assert_array_equal(z["truth"], d.labels)
    np.testing.assert_array_equal(z["energies"], d.energies)
    import h5py

    with h5py.File(os.path.join(tmp_path, "painting.h5"), "r") as f:
        np.testing.assert_array_equal(f["xrf/cube"][...], d.cube)
    ari = [float(v) for v in re.findall(r"segment ([0-9.]+)", out)]
    from sklearn.metrics import adjusted_rand_score

    assert ari and abs(ari[0] - adjusted_rand_score(d.labels.ravel(), z["labels"].ravel())) < 5e-4
