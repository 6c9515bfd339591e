"""Model directories written by ``scatclust train`` and read by ``scatclust cluster``.

Layout of ``<out>/``::

    model.json              written LAST (atomically): kind, scales, n_clusters, files, the
                            training store and days, data digest; its presence means "complete"
    checkpoint.pt           F-VAE: written after every epoch (atomic), resumed by --resume
    model.pt                F-VAE: the final checkpoint (FVAEClustering.load reads it)
    scale<i>.pt, scale<i>.json
                            DEC: one model per scale (DEC.save) and its completion marker
    kmeans.npz              k-means: centres per scale
    normalization.npz       DEC / k-means: mean and std (scale, coefficient) of the training windows
    history.json            training losses
    scatclust-train.toml    the run record (effective configuration, version)
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from ._config import ConfigError

FORMAT = "scatclust-cli-model/1"


def atomic_write_bytes(path, write):
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then ``os.replace`` it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj):
    atomic_write_bytes(path, lambda f: f.write((json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()))


def atomic_savez(path, **arrays):
    atomic_write_bytes(path, lambda f: np.savez(f, **arrays))


def digest(X):
    return hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()


def load_windows(store, days=None, scale_index=None):
    """Stored features as numpy.

    Returns
    -------
    X : ndarray (n_windows, n_scales, n_coefficients), the store's float dtype
    info : dict with 'days' (group names), 'scales' (samples), 'time_end' (int64 ns),
           'per_day' (windows per group)
    """
    from ..store import open_features

    try:
        ds = open_features(store, days=days or None, layout="flat")
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if scale_index is not None:
        ds = ds.isel(scale=list(scale_index))
    X = np.asarray(ds["features"].values)
    names = np.char.add(np.char.add(ds["station"].values.astype(str), "_"), ds["day"].values.astype(str))
    per_day = [int((names == n).sum()) for n in ds.attrs["days"]]
    return X, {"days": list(ds.attrs["days"]), "scales": [int(s) for s in ds["scale"].values],
               "time_end": ds["time_end"].values.astype("datetime64[ns]").astype(np.int64), "per_day": per_day}


def store_scales(store):
    from ..store import FeatureStore

    st = FeatureStore(store, mode="r")
    if st.layout is None:
        raise ConfigError(f"store={store!r} holds no features yet; run 'scatclust features' first")
    return [int(s) for s in st.layout["scales"]], st


def read_manifest(out):
    path = os.path.join(out, "model.json")
    try:
        with open(path, encoding="utf-8") as f:
            man = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"model={out!r} holds no trained model (no model.json); run 'scatclust train' "
                          f"with --out {out} first (an interrupted training continues with --resume)") from None
    if man.get("format") != FORMAT:
        raise ConfigError(f"{path!r} is not a scatclust model manifest (format {man.get('format')!r})")
    return man


class TrainedModel:
    """A complete model directory, ready to assign windows."""

    def __init__(self, out, device="cpu"):
        self.out = out
        self.man = read_manifest(out)
        self.kind = self.man["kind"]
        self.scales = list(self.man["scales"])
        self.scale_index = list(self.man["scale_index"])
        self.n_clusters = list(self.man["n_clusters"])
        if self.kind == "fvae":
            from ..models import FVAEClustering

            self.est = FVAEClustering.load(os.path.join(out, self.man["files"]["model"]), device=device)
        else:
            z = np.load(os.path.join(out, "normalization.npz"))
            self.mean, self.std = z["mean"], z["std"]
            if self.kind == "dec":
                from ..cluster import DEC

                self.est = [DEC.load(os.path.join(out, f), device=device) for f in self.man["files"]["scales"]]
            elif self.kind == "kmeans":
                z = np.load(os.path.join(out, "kmeans.npz"))
                self.centers = [z[f"centers_{i}"] for i in range(len(self.scales))]
            else:
                raise ConfigError(f"model kind {self.kind!r} in {out!r} is unknown to this scatclust")

    def assign(self, X):
        """Labels int32 (n, S) and confidences float32 (n, S) of windows X (n, S_store, F).

        Windows with non-finite features get label -1 and confidence NaN.
        """
        X = X[:, self.scale_index]
        n, S = X.shape[:2]
        labels = np.full((n, S), -1, dtype=np.int32)
        conf = np.full((n, S), np.nan, dtype=np.float32)
        ok = np.isfinite(X).all(axis=(1, 2))
        if not ok.any():
            return labels, conf
        Xo = X[ok]
        if self.kind == "fvae":
            P = self.est.predict_proba(Xo)
            P = [P[:, s] for s in range(S)] if isinstance(P, np.ndarray) else P
        else:
            Z = (Xo - self.mean) / self.std
            if self.kind == "dec":
                P = [self.est[s].predict_proba(np.ascontiguousarray(Z[:, s], dtype=np.float32)) for s in range(S)]
            else:
                from ..cluster import soft_assign

                P = [soft_assign(np.ascontiguousarray(Z[:, s], dtype=np.float64),
                                 np.ascontiguousarray(self.centers[s], dtype=np.float64), 1.0) for s in range(S)]
        for s in range(S):
            p = np.asarray(P[s])
            labels[ok, s] = p.argmax(1)
            conf[ok, s] = p.max(1)
        return labels, conf
