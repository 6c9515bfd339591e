"""The scatclust command line (issue 9): every subcommand end to end on tiny data, the
configuration (precedence, validation, run records that reproduce a run), exit codes,
interruption and resume.

Oracles: the Python API called directly with the same parameters (labels, weights, mean
spectra must be identical), tomllib for the TOML we write, and independent recomputation
(nearest centres, per-cluster means)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import numpy as np
import pytest

pytest.importorskip("obspy")
pytest.importorskip("zarr")
pytest.importorskip("torch")

from scatclust.cli import commands, main  # noqa: E402

PY_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
TINY_FEATURES = ["--pyramid-J", "6", "--pyramid-scales", "256,1024", "--pyramid-hop", "256",
                 "--prepare-components", "UVW"]
TINY_FVAE = ["--n-clusters", "3", "--fvae-epochs", "2", "--fvae-hidden", "16", "--fvae-latent-dim", "2",
             "--fvae-batch-size", "64"]


def _toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def mseed(workdir):
    from scatclust.datasets import synthetic_mars

    path = str(workdir / "XB.ELYSE.02.mseed")
    synthetic_mars(days=0.05, seed=3).to_stream().write(path, format="MSEED")
    return path


@pytest.fixture(scope="module")
def store(workdir, mseed):
    path = str(workdir / "features.zarr")
    assert main(["features", mseed, path, "-q", *TINY_FEATURES]) == 0
    return path


@pytest.fixture(scope="module")
def fvae_model(workdir, store):
    out = str(workdir / "fvae")
    assert main(["train", store, "--out", out, "-q", *TINY_FVAE]) == 0
    return out


# ------------------------------------------------------------------------------- help
def _norm(text):
    return "".join(text.split())  # argparse re-wraps lines, also at hyphens


@pytest.mark.parametrize("name", [n for n in commands()])
def test_help_gives_every_option_with_default_and_unit(name, capsys):
    assert main([name, "--help"]) == 0
    out = _norm(capsys.readouterr().out)
    cmd = commands()[name]
    for p in cmd.params:
        text = _norm(p.describe())
        assert text in out, f"{name}: help of {p.key} missing"
        assert "(default:" in text
        if p.type in ("int", "float", "int_list", "float_list"):
            assert "unit:" in text or "nounit" in text
        if p.flag:
            assert p.flag in out
    assert "exitstatus" in out and "130interrupted" in out and "2usageorconfigurationerror" in out


def test_config_dump_is_commented_toml_of_the_defaults(tmp_path, capsys):
    assert main(["config", "--dump"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n# ") > 50
    data = tomllib.loads(text)
    cmds = commands()
    from scatclust.cli._config import flatten

    for name, cmd in cmds.items():
        if name == "config":
            assert name not in data
            continue
        assert flatten(data[name]) == {p.key: p.default for p in cmd.params}
    path = tmp_path / "defaults.toml"
    path.write_text(text)
    assert main(["config", "--check", str(path)]) == 0
    assert capsys.readouterr().out.endswith("defaults.toml: valid\n")
    assert main(["config", "--dump", "train", "segment"]) == 0
    assert set(tomllib.loads(capsys.readouterr().out)) == {"train", "segment"}


# ----------------------------------------------------------------------- configuration
def _effective(argv, capsys):
    assert main(argv + ["--print-config"]) == 0
    return tomllib.loads(capsys.readouterr().out)


def test_override_precedence(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[train]\nn_clusters = 4\n[train.fvae]\nepochs = 5\nhidden = [32, 8]\n'
                   '[segment]\nlr = 0.5\n')
    base = ["train", "somewhere.zarr"]
    assert _effective(base, capsys)["train"]["fvae"]["epochs"] == 50          # built-in default
    eff = _effective(base + ["--config", str(cfg)], capsys)["train"]
    assert (eff["fvae"]["epochs"], eff["fvae"]["hidden"], eff["n_clusters"]) == (5, [32, 8], 4)
    eff = _effective(base + ["-c", str(cfg), "--set", "train.fvae.epochs=7"], capsys)["train"]
    assert eff["fvae"]["epochs"] == 7 and eff["n_clusters"] == 4              # --set over the file
    eff = _effective(base + ["-c", str(cfg), "--set", "train.fvae.epochs=7", "--fvae-epochs", "9",
                             "--fvae-hidden", "3,2,1"], capsys)["train"]
    assert eff["fvae"]["epochs"] == 9 and eff["fvae"]["hidden"] == [3, 2, 1]  # the option over both
    assert eff["store"] == "somewhere.zarr"                                   # positional -> [train] store
    # the demo's presets sit between the defaults and the file
    eff = _effective(["demo", "out"], capsys)
    assert eff["train"]["fvae"]["epochs"] == 40 and eff["train"]["n_clusters"] == 6
    eff = _effective(["demo", "out", "-c", str(cfg)], capsys)
    assert eff["train"]["fvae"]["epochs"] == 5 and eff["segment"]["lr"] == 0.5


@pytest.mark.parametrize("content, argv, message", [
    ("[train.fvae]\nepoch = 5\n", [], r"\[train.fvae\]: unknown key 'epoch'; did you mean 'epochs'\?"),
    ("[train.fvae]\nepochs = -1\n", [], r"\[train.fvae\] epochs = -1: must be >= 1; e.g. epochs = 50 \(the default\)"),
    ("[train.fvae]\nepochs = 'ten'\n", [], r"\[train.fvae\] epochs = \"ten\": must be an integer >= 1"),
    ("[train]\nmodel = 'gmm'\n", [], r"model = \"gmm\": must be one of 'fvae', 'dec', 'kmeans'"),
    ("[trian]\nseed = 1\n", [], r"unknown key 'trian'; did you mean 'train'\?"),
    ("[train\n", [], r"is not valid TOML"),
    ("", ["--set", "train.fvae.epochs"], r"--set 'train.fvae.epochs' must look like TABLE.KEY=VALUE"),
    ("", ["--set", "segment.lr=0.1"], r"does not use table \[segment\]"),
    ("", ["--fvae-lr", "fast"], r"option --fvae-lr: 'fast' is not a number"),
    ("", ["--scales", "256,x"], r"option --scales: '256,x' is not a list of integers"),
])
def test_bad_config_or_option_exits_2_naming_key_value_and_fix(tmp_path, capsys, content, argv, message):
    import re

    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    out = tmp_path / "never"
    rc = main(["train", str(tmp_path / "x.zarr"), "--out", str(out), "-c", str(cfg), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not out.exists()  # nothing ran


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["train", "--no-such-option"]) == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2
    assert main(["train", "--model", "gmm", str(tmp_path)]) == 2
    assert "must be one of 'fvae', 'dec', 'kmeans'" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "STORE is missing" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "none.zarr")]) == 2
    assert "no feature store" in capsys.readouterr().err
    assert main(["config", "--check", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--version"]) == 0


# ----------------------------------------------------------------------- fetch-insight
class FakeFDSN:
    """Stands in for obspy.clients.fdsn.Client (no network): 20 Hz ramps for each request."""

    requests = []

    def __init__(self, *args, **kwargs):
        pass

    def get_waveforms(self, network, station, location, channel, starttime, endtime):
        from obspy import Stream, Trace

        FakeFDSN.requests.append((network, station, location, channel, starttime, endtime))
        n = int((endtime - starttime) * 20)
        return Stream([Trace(np.arange(n, dtype=np.int32) % 977, header=dict(
            network=network, station=station, location=location, channel="BH" + c, starttime=starttime,
            sampling_rate=20.0)) for c in "UVW"])


def test_fetch_insight_without_network(tmp_path, monkeypatch, capsys):
    import obspy
    import obspy.clients.fdsn

    monkeypatch.setattr(obspy.clients.fdsn, "Client", FakeFDSN)
    FakeFDSN.requests = []
    root = str(tmp_path / "sds")
    assert main(["fetch-insight", "2019-05-22", "2019-05-24", root, "--retry-wait", "0", "--location", "03"]) == 0
    assert "6 file(s) written" in capsys.readouterr().out
    assert [r[2] for r in FakeFDSN.requests] == ["03", "03"]
    path = os.path.join(root, "2019", "XB", "ELYSE", "BHV.D", "XB.ELYSE.03.BHV.D.2019.143")
    st = obspy.read(path)
    assert st[0].stats.npts == 86400 * 20 and st[0].data[977] == 0
    rec = _toml(os.path.join(root, "scatclust-fetch-insight.toml"))
    assert rec["scatclust"]["status"] == "complete" and rec["fetch-insight"]["location"] == "03"
    FakeFDSN.requests = []
    assert main(["fetch-insight", "2019-05-22", "2019-05-24", root, "--location", "03", "-q"]) == 0
    assert FakeFDSN.requests == []  # resumed: both days complete
    assert main(["fetch-insight", "2019-05-24", "2019-05-22", root]) == 2
    assert "must be after start" in capsys.readouterr().err

    class Down(FakeFDSN):
        def get_waveforms(self, *a):
            raise ConnectionError("service unavailable")

    monkeypatch.setattr(obspy.clients.fdsn, "Client", Down)
    assert main(["fetch-insight", "2019-06-01", "2019-06-02", root, "--retries", "1"]) == 1
    assert "FetchError" in capsys.readouterr().err


# --------------------------------------------------------------------------- features
def test_features_store_and_run_record(store, mseed):
    import scatclust
    from scatclust.features import extract
    from scatclust.io import PrepareConfig

    ds = scatclust.open_features(store, layout="flat")
    assert ds.features.shape[1] == 2 and ds.features.shape[0] > 100
    assert ds.attrs["normalization_days"] == ds.attrs["days"]
    rec = _toml(os.path.join(store, "scatclust-features.toml"))
    assert rec["scatclust"]["version"] == scatclust.__version__ and rec["scatclust"]["status"] == "complete"
    assert rec["features"]["pyramid"]["scales"] == [256, 1024]
    # oracle: the Python API with the same parameters gives the same numbers
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        pyr = scatclust.ScatteringPyramid(6, (256, 1024), 256, C=3)
        extract(mseed, os.path.join(d, "f.zarr"), prepare=PrepareConfig(components="UVW"), pyramid=pyr,
                client=False, progress=False)
        ref = scatclust.open_features(os.path.join(d, "f.zarr"), layout="flat")
        np.testing.assert_array_equal(ds.features.values, ref.features.values)


def test_features_errors(tmp_path, capsys):
    assert main(["features", str(tmp_path / "nothing*.mseed"), str(tmp_path / "s.zarr")]) == 2
    assert "matches no file or directory" in capsys.readouterr().err
    assert main(["features", __file__, str(tmp_path / "s.zarr"), "--pyramid-scales", "300,1024",
                 "--pyramid-hop", "256", "--pyramid-J", "6"]) == 2
    assert "[features.pyramid]: scale 300 is not a multiple of hop=256" in capsys.readouterr().err
    bad = tmp_path / "bad.mseed"
    bad.write_bytes(b"not miniseed" * 100)
    assert main(["features", str(bad), str(tmp_path / "s.zarr"), *TINY_FEATURES]) == 1  # runtime: no data


# ----------------------------------------------------------------- train / cluster (F-VAE)
def _labels(store, name):
    from scatclust.store import read_labels

    return read_labels(store, name)


def test_train_cluster_fvae_matches_the_python_api(store, fvae_model, capsys):
    import scatclust
    from scatclust.models import FVAEClustering

    man = _toml(os.path.join(fvae_model, "scatclust-train.toml"))
    assert man["scatclust"]["status"] == "complete" and man["train"]["fvae"]["epochs"] == 2
    assert main(["cluster", store, "--model", fvae_model, "--name", "fvae", "--log-file",
                 os.path.join(fvae_model, "cluster.log")]) == 0
    assert "windows x 2 scales assigned" in capsys.readouterr().out
    assert "labels of" in open(os.path.join(fvae_model, "cluster.log")).read()
    lab = _labels(store, "fvae")
    X = scatclust.open_features(store, layout="flat").features.values
    est = FVAEClustering(3, latent_dim=2, hidden=(16,), epochs=2, batch_size=64, random_state=0).fit(X)
    np.testing.assert_array_equal(lab.labels.values, est.labels_)
    np.testing.assert_allclose(lab.confidence.values, est.confidence_, rtol=1e-6)
    assert lab.attrs["kind"] == "fvae" and lab.attrs["n_clusters"] == [3, 3]
    assert os.path.exists(os.path.join(store, "_labels", "fvae", "scatclust-cluster.toml"))
    # an existing label set is not replaced silently
    assert main(["cluster", store, "--model", fvae_model, "--name", "fvae"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_train_fvae_kmeans_start_matches_the_python_api(store, tmp_path):
    import scatclust
    from scatclust.models import FVAEClustering

    out = str(tmp_path / "fvae_km")
    assert main(["train", store, "--out", out, "-q", *TINY_FVAE, "--fvae-init", "kmeans",
                 "--fvae-pretrain-epochs", "1", "--fvae-pretrain-w-z", "0.1"]) == 0
    assert main(["cluster", store, "--model", out, "--name", "fvae_km", "-q"]) == 0
    X = scatclust.open_features(store, layout="flat").features.values
    est = FVAEClustering(3, latent_dim=2, hidden=(16,), epochs=2, batch_size=64, random_state=0, init="kmeans",
                         pretrain_epochs=1, pretrain_w_z=0.1).fit(X)
    np.testing.assert_array_equal(_labels(store, "fvae_km").labels.values, est.labels_)
    assert _toml(os.path.join(out, "scatclust-train.toml"))["train"]["fvae"]["init"] == "kmeans"


@pytest.mark.parametrize("value, expected", [("0", None), ("2.5", 2.5)])
def test_train_fvae_grad_clip_reaches_the_estimator(store, tmp_path, value, expected):
    from scatclust.models import FVAEClustering

    out = str(tmp_path / f"fvae_clip{value}")
    assert main(["train", store, "--out", out, "-q", *TINY_FVAE, "--fvae-grad-clip", value]) == 0
    assert FVAEClustering.load(os.path.join(out, "model.pt")).grad_clip == expected
    assert _toml(os.path.join(out, "scatclust-train.toml"))["train"]["fvae"]["grad_clip"] == float(value)


def test_run_record_reproduces_the_labels(store, fvae_model, tmp_path):
    out = str(tmp_path / "again")
    rec = os.path.join(fvae_model, "scatclust-train.toml")
    assert main(["train", "--config", rec, "--out", out, "-q"]) == 0
    assert main(["cluster", store, "--model", fvae_model, "--name", "first", "-q"]) == 0
    assert main(["cluster", store, "--model", out, "--name", "again", "-q"]) == 0
    np.testing.assert_array_equal(_labels(store, "first").labels.values, _labels(store, "again").labels.values)
    a, b = _toml(rec), _toml(os.path.join(out, "scatclust-train.toml"))
    a["train"].pop("out"), b["train"].pop("out")
    assert a["train"] == b["train"]


def test_train_interrupted_then_resumed_equals_uninterrupted(store, tmp_path, monkeypatch, capsys):
    import torch

    from scatclust.models import FVAEClustering
    from scatclust.models import _fvae_estimator as fe

    argv = ["train", store, "-q", *TINY_FVAE, "--fvae-epochs", "4"]
    full = str(tmp_path / "full")
    assert main(argv + ["--out", full]) == 0
    real_save = fe.FVAEClustering._save

    def save_then_interrupt(self, path, **kw):
        real_save(self, path, **kw)
        if kw["epoch"] == 2:
            raise KeyboardInterrupt  # Ctrl-C right after the checkpoint of epoch 2

    monkeypatch.setattr(fe.FVAEClustering, "_save", save_then_interrupt)
    part = str(tmp_path / "part")
    assert main(argv + ["--out", part]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(fe.FVAEClustering, "_save", real_save)
    assert torch.load(os.path.join(part, "checkpoint.pt"), weights_only=True)["epoch"] == 2
    assert not os.path.exists(os.path.join(part, "model.json"))  # the model is not marked complete
    assert main(["cluster", store, "--model", part]) == 2        # ... so it cannot be used yet
    assert "--resume" in capsys.readouterr().err
    assert main(argv + ["--out", part]) == 2                      # neither resume nor overwrite
    assert "pass --resume" in capsys.readouterr().err
    assert main(argv + ["--out", part, "--resume"]) == 0
    a, b = FVAEClustering.load(os.path.join(full, "model.pt")), FVAEClustering.load(os.path.join(part, "model.pt"))
    assert b.n_epochs_ == 4 and a.history_ == b.history_
    for (k, va), vb in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
        assert torch.equal(va, vb), k


def test_cluster_interrupted_keeps_the_previous_label_set(store, fvae_model, monkeypatch):
    import scatclust.store._labels as lb

    assert main(["cluster", store, "--model", fvae_model, "--name", "keep", "-q"]) == 0
    before = _labels(store, "keep").labels.values.copy()
    real = lb._rename
    calls = []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # after the old set was moved aside, before the new one is in place
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(lb, "_rename", interrupted)
    assert main(["cluster", store, "--model", fvae_model, "--name", "keep", "--overwrite", "-q"]) == 130
    monkeypatch.setattr(lb, "_rename", real)
    # between the two renames the set is absent (never half written); the next run cleans up
    assert "keep" not in lb.label_sets(store)
    assert main(["cluster", store, "--model", fvae_model, "--name", "keep", "-q"]) == 0
    np.testing.assert_array_equal(_labels(store, "keep").labels.values, before)
    assert not [n for n in os.listdir(os.path.join(store, "_labels")) if n.startswith(".keep.")]


# ------------------------------------------------------------------ k-means and DEC
def test_train_kmeans_subprocess_and_nearest_centres(store, tmp_path):
    import scatclust
    from scatclust.cluster import KMeans

    out = str(tmp_path / "km")
    # the child imports the same scatclust as this process (the installed package in CI, the
    # source tree with its compiled core in a dev checkout)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(scatclust.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "scatclust", "train", store, "--out", out, "--model", "kmeans",
                        "--n-clusters", "4", "--kmeans-n-init", "2", "--seed", "5"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "kmeans model of 2 scale(s) x 4 clusters" in r.stdout
    r = subprocess.run([sys.executable, "-m", "scatclust", "train", store, "--out", out, "--model", "kmeans"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "already holds" in r.stderr
    assert main(["cluster", store, "--model", out, "--name", "km", "-q"]) == 0
    lab = _labels(store, "km").labels.values
    X = scatclust.open_features(store, layout="flat").features.values.astype(np.float64)
    Z = (X - X.mean(0)) / X.std(0)
    for s in range(2):
        km = KMeans(4, n_init=2, random_state=5).fit(Z[:, s])
        d = ((Z[:, s, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(lab[:, s], d.argmin(1))


def test_train_dec_and_resume_skips_finished_scales(store, tmp_path, monkeypatch):
    from scatclust.cluster import DEC

    out = str(tmp_path / "dec")
    argv = ["train", store, "--out", out, "--model", "dec", "--n-clusters", "3", "--dec-hidden", "16",
            "--dec-latent-dim", "2", "--dec-pretrain-epochs", "2", "--dec-max-iter", "4", "--dec-n-init", "2",
            "--dec-batch-size", "64", "-q"]
    assert main(argv) == 0
    assert main(["cluster", store, "--model", out, "--name", "dec", "-q"]) == 0
    lab = _labels(store, "dec")
    assert lab.labels.shape[1] == 2 and lab.labels.values.min() >= 0 and lab.labels.values.max() < 3
    os.unlink(os.path.join(out, "model.json"))  # as if interrupted after both scales were saved

    def boom(*a, **k):
        raise AssertionError("a finished scale was trained again")

    monkeypatch.setattr(DEC, "fit", boom)
    assert main(argv + ["--resume"]) == 0
    assert os.path.exists(os.path.join(out, "model.json"))


# ---------------------------------------------------------------------------- segment
def test_segment_matches_the_python_api(tmp_path, capsys):
    import h5py

    from scatclust.cube import segment
    from scatclust.datasets import synthetic_xrf

    d = synthetic_xrf(shape=(12, 12), n_channels=32, random_state=1)
    cube = str(tmp_path / "cube.h5")
    with h5py.File(cube, "w") as f:
        f["counts"] = d.cube
        f["energies"] = d.energies
    out = str(tmp_path / "seg")
    argv = ["segment", cube, "--key", "counts", "--energies", "energies", "--out", out, "--n-clusters", "3",
            "--n-pretrain", "2", "--n-cluster-epochs", "1", "--seed", "2"]
    assert main(argv) == 0
    assert "12 x 12 pixels in 3 clusters" in capsys.readouterr().out
    z = np.load(os.path.join(out, "segmentation.npz"))
    ref = segment(d.cube, n_clusters=3, n_pretrain=2, n_cluster_epochs=1, random_state=2)
    np.testing.assert_array_equal(z["labels"], ref.labels)
    np.testing.assert_array_equal(z["energies"], d.energies)
    for k in range(3):  # mean spectra recomputed from the label map
        np.testing.assert_allclose(z["mean_spectra"][k], d.cube[z["labels"] == k].mean(0), rtol=1e-6)
    rec = _toml(os.path.join(out, "scatclust-segment.toml"))
    assert rec["segment"]["n_clusters"] == 3 and rec["scatclust"]["command"] == "segment"
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(["segment", cube, "--key", "nope", "--out", str(tmp_path / "s2")]) == 2
    assert "cannot read cube" in capsys.readouterr().err
    assert main(["segment", cube, "--key", "counts", "--k-range", "5,3", "--out", str(tmp_path / "s3")]) == 2
    assert "low <= high" in capsys.readouterr().err


def test_segment_unmix_and_k_method_match_the_python_api(tmp_path, capsys):
    from scatclust.cube import segment
    from scatclust.datasets import synthetic_xrf

    d = synthetic_xrf(shape=(10, 10), n_channels=32, random_state=3)
    cube = str(tmp_path / "cube.npy")
    np.save(cube, d.cube)
    out = str(tmp_path / "seg")
    argv = ["segment", cube, "--out", out, "--model", "unmix", "--k-range", "2,4", "--k-method", "gap",
            "--n-pretrain", "2", "--n-cluster-epochs", "1", "--seed", "1"]
    assert main(argv) == 0
    z = np.load(os.path.join(out, "segmentation.npz"))
    ref = segment(d.cube, model="unmix", k_range=(2, 4), k_method="gap", n_pretrain=2, n_cluster_epochs=1,
                  random_state=1)
    np.testing.assert_array_equal(z["labels"], ref.labels)
    np.testing.assert_allclose(z["endmembers"], ref.endmembers, rtol=1e-6, atol=0)
    summary = json.loads(open(os.path.join(out, "segmentation.json")).read())
    assert summary["k_selection"]["k"] == [2, 3, 4] and len(summary["k_selection"]["gap"]) == 3
    assert main(["segment", cube, "--out", str(tmp_path / "s2"), "--regularizer", "mmd"]) == 2
    assert "need model = 'vae'" in capsys.readouterr().err


# ------------------------------------------------------------------------------- demo
def test_demo_end_to_end(tmp_path, capsys):
    out = str(tmp_path / "demo")
    argv = ["demo", out, "--hours", "1", "--cube-shape", "12,12", "--cube-channels", "32",
            "--set", "features.pyramid.J=6", "--set", "features.pyramid.scales=256,1024",
            "--set", "features.pyramid.hop=256", "--set", "train.fvae.epochs=2", "--set", "train.fvae.hidden=16",
            "--set", "segment.n_pretrain=2", "--set", "segment.n_cluster_epochs=1", "--set", "segment.k_range=3,4",
            "--set", "segment.silhouette_sample_size=100"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "clusters at the smallest scale (256 samples)" in text and "adjusted Rand index" in text
    for f in ("scatclust-run.toml", "demo-summary.json", "model/model.json", "segmentation/segmentation.npz",
              "features.zarr/_labels/demo/zarr.json", "data/xrf_cube.h5", "separation/separation.npz",
              "separation/separation.png", "report/report.md", "report/report.html"):
        assert os.path.exists(os.path.join(out, f)), f
    rec = _toml(os.path.join(out, "scatclust-run.toml"))
    assert set(rec) == {"scatclust", "demo", "features", "train", "cluster", "separate", "segment", "report"}
    assert rec["train"]["fvae"]["epochs"] == 2 and rec["scatclust"]["status"] == "complete"
    import json

    summary = json.load(open(os.path.join(out, "demo-summary.json")))
    rows = summary["clusters_vs_sources"]["scale_256"]
    assert sum(r["windows"] for r in rows) == _labels(os.path.join(out, "features.zarr"), "demo").sizes["window"]
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err


def _prepared(mseed):
    from scatclust.io import PrepareConfig, prepare, read

    return prepare(read(mseed), PrepareConfig(components="UVW"))


def test_separate_matches_the_python_api(store, fvae_model, mseed, tmp_path, capsys):
    """The subcommand's target, priors and result equal scatclust.separate on the same samples."""
    from obspy import read as obspy_read

    from scatclust.separation import separate

    assert main(["cluster", store, "--model", fvae_model, "--name", "sep", "-q"]) == 0
    out = str(tmp_path / "sep")
    argv = ["separate", store, "--labels", "sep", "--window", "7", "--J", "6", "--n-priors", "6",
            "--max-iter", "5", "--threads", "1", "--out", out]
    assert main(argv) == 0
    assert "separated 256 samples x 3 channels" in capsys.readouterr().out
    z = np.load(os.path.join(out, "separation.npz"))
    rec = _prepared(mseed)
    lab = _labels(store, "sep")
    fs, t0 = float(rec.sampling_rate), rec.starttime.ns
    ends = np.round((lab.time_end.values.astype(np.int64) - t0) / 1e9 * fs).astype(np.int64)
    b = int(ends[7])
    np.testing.assert_array_equal(z["mixture"], rec.data[:, b - 256:b].astype(np.float64))
    assert int(z["starttime_ns"]) == t0 + round((b - 256) / fs * 1e9)
    rows = z["prior_rows"]
    assert len(rows) == 6 and (lab.labels.values[rows, 0] == int(z["cluster"])).all()
    # the most populated cluster at the smallest scale
    assert int(z["cluster"]) == np.bincount(lab.labels.values[:, 0][lab.labels.values[:, 0] >= 0]).argmax()
    priors = np.stack([rec.data[:, e - 256:e] for e in ends[rows]]).astype(np.float64)
    ref = separate(z["mixture"], priors, J=6, max_iter=5, random_state=0, n_threads=1)
    np.testing.assert_array_equal(z["background"], ref.background)
    np.testing.assert_allclose(z["background"] + z["source"], z["mixture"], rtol=0, atol=1e-12)
    st = obspy_read(os.path.join(out, "source.mseed"))
    assert [tr.id for tr in st] == list(rec.channels)
    np.testing.assert_array_equal(np.stack([tr.data for tr in st]), z["source"])
    assert os.path.getsize(os.path.join(out, "separation.png")) > 0
    assert _toml(os.path.join(out, "scatclust-separate.toml"))["separate"]["window"] == 7
    # the solver options reach separate()
    out2 = str(tmp_path / "sep2")
    assert main(argv[:-1] + [out2, "--pool", "64", "--init", "x", "--post", "cap"]) == 0
    ref2 = separate(z["mixture"], priors, J=6, max_iter=5, random_state=0, n_threads=1, pool=64, init="x",
                    post="cap")
    np.testing.assert_array_equal(np.load(os.path.join(out2, "separation.npz"))["background"], ref2.background)
    out4 = str(tmp_path / "sep4")
    assert main(argv[:-1] + [out4, "--variable", "samples", "--init", "wiener"]) == 0
    ref4 = separate(z["mixture"], priors, J=6, max_iter=5, random_state=0, n_threads=1, variable="samples",
                    init="wiener")
    np.testing.assert_array_equal(np.load(os.path.join(out4, "separation.npz"))["background"], ref4.background)
    assert not np.array_equal(ref4.background, ref.background)
    assert main(argv[:-1] + [str(tmp_path / "sep3"), "--pool", "1"]) == 2
    assert "pool=1" in capsys.readouterr().err
    # a second run into the same directory needs --overwrite; target given twice; unknown label set
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(["separate", store, "--labels", "sep", "--window", "3", "--start", "2019-06-01T00:10:00",
                 "--end", "2019-06-01T00:12:00", "--out", str(tmp_path / "x")]) == 2
    assert "exclusive" in capsys.readouterr().err
    assert main(["separate", store, "--labels", "nope", "--window", "3", "--out", str(tmp_path / "y")]) == 2
    assert "'nope' is not a label set" in capsys.readouterr().err


def test_report_lists_every_figure_and_the_cluster_sizes(store, fvae_model, tmp_path, capsys):
    import re

    assert main(["cluster", store, "--model", fvae_model, "--name", "rep", "-q"]) == 0
    out = str(tmp_path / "report")
    assert main(["report", store, "--labels", "rep", "--model", fvae_model, "--n-windows", "4", "--out", out,
                 "-q"]) == 0
    md = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    figs = re.findall(r"!\[[^]]*\]\((figures/[^)]+)\)", md)
    assert any("time_of_day" in f for f in figs) and any("nesting" in f for f in figs)
    assert any("training" in f for f in figs) and any("waveforms" in f for f in figs)
    for f in figs:
        assert os.path.getsize(os.path.join(out, f)) > 0, f
    # the cluster-size table of the first scale equals the label set's counts
    lab = _labels(store, "rep").labels.values[:, 0]
    table = md.split("| cluster | windows |", 1)[1].split("\n\n", 1)[0]
    counts = [int(m) for m in re.findall(r"^\| \d+ \| (\d+) \|", table, flags=re.M)]
    assert counts
    assert counts == np.bincount(lab[lab >= 0], minlength=len(counts)).tolist()
    assert main(["report", "--out", str(tmp_path / "none")]) == 2
    assert "nothing to report" in capsys.readouterr().err


def test_adjusted_rand_index_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    from scatclust.cli._demo import adjusted_rand_index

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 500), rng.integers(0, 3, 500)
    b[:300] = a[:300]
    assert adjusted_rand_index(a, b) == pytest.approx(sk.adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(a, a + 7) == 1.0


@pytest.mark.parametrize("name", ["insight.toml", "xrf_segment.toml"])
def test_example_configs_are_valid(name, capsys):
    path = os.path.join(os.path.dirname(PY_ROOT), "examples", name)
    assert main(["config", "--check", path]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: valid"
