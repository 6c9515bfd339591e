r"""Segmentation of spectral data cubes: spectral autoencoder + differentiable k-means.

A reimplementation of the approach of arXiv:2401.17695 (autoencoder on per-pixel MA-XRF
spectra, clustering in the latent space), with two errors of its public code fixed:

* Preprocessing keeps every channel. (The public code rebins the spectra in a way that
  drops channels.) The published ``log(1 + x)`` then per-spectrum maximum normalisation is
  available as ``preprocess="log-max"``; the default is the Anscombe transform
  ``2 sqrt(x + 3/8)``, which makes Poisson counting noise approximately unit-variance in
  every channel: at tens to hundreds of counts per pixel over hundreds of channels most
  channels hold 0-2 counts, and log-max then amplifies the noise of weak spectra (on
  ``synthetic_xrf`` it costs 0.1-0.2 ARI, see ``bench/RESULTS.md``).
* The clustering term is differentiable: soft assignments
  ``s_ik = softmax_k(-||z_i - mu_k||^2 / T)`` and loss ``mean_i sum_k s_ik ||z_i - mu_k||^2``
  with learnable centres mu_k; the temperature T is annealed geometrically from
  ``temperature[0]`` to ``temperature[1]`` (scaled by the mean squared latent spread), so
  the loss tends to the hard k-means objective while sending gradients into the encoder.
  (The public version's clustering term carries no gradient to the encoder.)

Training: ``n_pretrain`` epochs of reconstruction (MSE) only; then K is chosen, if not
given, on the latent codes of the WHOLE cube (not per batch) by the silhouette over
``k_range`` (:func:`scatclust.cluster.select_k`); centres start from k-means (our
:class:`scatclust.cluster.KMeans`); then ``n_cluster_epochs`` epochs of
``recon_weight * MSE + cluster_weight * soft k-means``. Labels are the nearest learned
centres. Pixels outside ``mask`` (default: spectra with zero total counts) get label -1
and take no part in training.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._load import load_cube


@dataclass
class CubeSegmentation:
    """Result of :func:`segment`.

    Attributes
    ----------
    labels : ndarray (H, W), int64; -1 on masked pixels
    mean_spectra : ndarray (K, C), float64; mean raw spectrum of every cluster
    latent : ndarray (H, W, D), float32; encoder output (NaN on masked pixels)
    centers : ndarray (K, D), float32; learned latent centres
    n_clusters : int
    selection : KSelection or None; the silhouette table when K was chosen
    history : dict of lists; per-epoch 'recon' and 'cluster' losses
    wall_time : float, seconds
    """

    labels: np.ndarray
    mean_spectra: np.ndarray
    latent: np.ndarray
    centers: np.ndarray
    n_clusters: int
    selection: object = None
    history: dict = field(default_factory=dict)
    wall_time: float = 0.0


def preprocess_spectra(spectra, method="anscombe"):
    """Variance-stabilise / normalise per-pixel spectra; every channel kept.

    Parameters
    ----------
    spectra : ndarray (N, C), non-negative
    method : {"anscombe", "log-max"}
        ``"anscombe"``: the Anscombe transform ``2 sqrt(x + 3/8)`` (Poisson counts -> unit
        variance), minus its value at zero counts, divided by the maximum over all
        spectra; relative intensities between pixels are kept. ``"log-max"``: the
        published preprocessing, ``log(1 + x)`` divided by each spectrum's maximum.

    Returns
    -------
    ndarray (N, C), float32 in [0, 1] (all-zero spectra stay zero)

    Example
    -------
    >>> preprocess_spectra(np.array([[0.0, 1.0, 3.0]]), "log-max").round(3).tolist()
    [[0.0, 0.5, 1.0]]
    """
    if method not in ("anscombe", "log-max"):
        raise ValueError(f"preprocess={method!r} must be 'anscombe' or 'log-max'")
    x = np.asarray(spectra, dtype=np.float64)
    if method == "anscombe":
        a = 2.0 * np.sqrt(x + 0.375) - 2.0 * np.sqrt(0.375)
        top = a.max() if a.size else 0.0
        return (a / (top if top > 0 else 1.0)).astype(np.float32)
    x = np.log1p(x)
    m = x.max(axis=1, keepdims=True)
    return (x / np.where(m > 0, m, 1.0)).astype(np.float32)


def _build(n_channels, hidden, latent_dim, conv):
    import torch.nn as nn

    layers, d = [], n_channels
    if conv:
        # 1-D conv front end: (N, 1, C) -> (N, 8, C/4), flattened into the MLP.
        layers += [nn.Unflatten(1, (1, n_channels)), nn.Conv1d(1, 8, 9, stride=2, padding=4), nn.ReLU(),
                   nn.Conv1d(8, 8, 9, stride=2, padding=4), nn.ReLU(), nn.Flatten()]
        d = 8 * ((((n_channels + 1) // 2) + 1) // 2)
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    encoder = nn.Sequential(*layers, nn.Linear(d, latent_dim))
    dec, d = [], latent_dim
    for h in reversed(hidden):
        dec += [nn.Linear(d, h), nn.ReLU()]
        d = h
    decoder = nn.Sequential(*dec, nn.Linear(d, n_channels), nn.Sigmoid())
    return encoder, decoder


def soft_kmeans_loss(z, centers, temperature):
    """Differentiable k-means objective: ``mean_i sum_k softmax_k(-d_ik / T) d_ik``.

    Parameters
    ----------
    z : torch.Tensor (N, D); centers : torch.Tensor (K, D); temperature : float > 0

    Returns
    -------
    torch.Tensor scalar; tends to the hard k-means inertia / N as T -> 0.
    """
    import torch

    d = torch.cdist(z, centers).pow(2)
    s = torch.softmax(-d / temperature, dim=1)
    return (s * d).sum(1).mean()


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={value!r} must be an int >= {low}")
    return int(value)


def segment(cube, n_clusters=None, k_range=(2, 10), *, mask=None, latent_dim=8, hidden=(256, 64), conv=False,
            n_pretrain=40, n_cluster_epochs=20, batch_size=64, lr=1e-3, recon_weight=1.0, cluster_weight=1.0,
            temperature=(1.0, 0.01), preprocess="anscombe", silhouette_sample_size=2000, random_state=0,
            key=None):
    """Segment an (H, W, C) spectral cube into K clusters (method in the module docs).

    Parameters
    ----------
    cube : array (H, W, C), non-negative (counts), or any source :func:`load_cube` reads
        (xarray DataArray, HDF5/Zarr dataset, group or path, FITS file or HDU)
    n_clusters : int >= 2 or None
        None: chosen by the silhouette over ``k_range`` on the latent codes of the whole cube.
    k_range : (int, int)
        Inclusive range of K tried when ``n_clusters`` is None.
    mask : bool array (H, W) or None
        Pixels to segment; default: spectra with non-zero total.
    latent_dim, hidden, conv
        Latent size, hidden widths of the fully connected encoder (decoder mirrored), and
        an optional 1-D convolutional front end.
    n_pretrain, n_cluster_epochs, batch_size, lr
        Epochs of reconstruction pretraining, epochs of joint training, batch size, Adam rate.
    recon_weight, cluster_weight : float >= 0
        Weights of the reconstruction and soft k-means terms in the joint phase.
    temperature : (float, float)
        Start and end of the geometric annealing, relative to the mean squared distance
        of the codes to their nearest centre at the start of the joint phase.
    preprocess : {"anscombe", "log-max"}
        Spectrum transform (:func:`preprocess_spectra`).
    silhouette_sample_size : int or None
        Rows scored by the silhouette (same rows for every k).
    random_state : int
        Seeds torch, the batch order and the k-means fits.
    key : str, int or None
        Dataset inside an HDF5/Zarr group, or FITS HDU (:func:`load_cube`).

    Returns
    -------
    CubeSegmentation

    Example
    -------
    >>> from scatclust.datasets import synthetic_xrf
    >>> d = synthetic_xrf(shape=(24, 24), n_channels=128, random_state=0)
    >>> seg = segment(d.cube, n_clusters=5, n_pretrain=5, n_cluster_epochs=2)
    >>> seg.labels.shape, seg.mean_spectra.shape
    ((24, 24), (5, 128))
    """
    import torch

    from ..cluster import KMeans, select_k

    t0 = time.perf_counter()
    x = load_cube(cube, key)
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"cube of shape {x.shape} must be (H, W, C) with non-zero sizes")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"cube dtype {x.dtype} must be real")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("cube must be finite and non-negative (counts)")
    h, w, c = x.shape
    flat = x.reshape(h * w, c)
    if mask is None:
        m = flat.sum(axis=1) > 0
    else:
        mask = np.asarray(mask)
        if mask.shape != (h, w) or mask.dtype != bool:
            raise ValueError(f"mask of shape {mask.shape}, dtype {mask.dtype} must be bool ({h}, {w})")
        m = mask.ravel()
    n = int(m.sum())
    if n_clusters is not None:
        n_clusters = _check_int("n_clusters", n_clusters, 2)
    try:
        k_lo, k_hi = (int(k) for k in k_range)
    except (TypeError, ValueError):
        raise ValueError(f"k_range={k_range!r} must be a pair of ints") from None
    if not 2 <= k_lo <= k_hi:
        raise ValueError(f"k_range={k_range!r} must satisfy 2 <= low <= high")
    need = n_clusters if n_clusters is not None else k_hi
    if n <= need:
        raise ValueError(f"only {n} unmasked pixels for up to {need} clusters")
    latent_dim = _check_int("latent_dim", latent_dim, 1)
    n_pretrain = _check_int("n_pretrain", n_pretrain, 0)
    n_cluster_epochs = _check_int("n_cluster_epochs", n_cluster_epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    for name, v in (("recon_weight", recon_weight), ("cluster_weight", cluster_weight)):
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"{name}={v!r} must be finite and >= 0")
    t_start, t_end = (float(t) for t in temperature)
    if not (0 < t_end <= t_start):
        raise ValueError(f"temperature={temperature!r} must satisfy 0 < end <= start")

    torch.manual_seed(random_state)
    rng = np.random.default_rng(random_state)
    data = torch.from_numpy(preprocess_spectra(flat[m], preprocess))
    encoder, decoder = _build(c, tuple(int(v) for v in hidden), latent_dim, bool(conv))
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    history = {"recon": [], "cluster": []}

    def batches():
        perm = torch.from_numpy(rng.permutation(n))
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]

    for _ in range(n_pretrain):
        tot = 0.0
        for idx in batches():
            xb = data[idx]
            loss = torch.mean((decoder(encoder(xb)) - xb) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        history["recon"].append(tot / n)
        history["cluster"].append(float("nan"))

    def encode_all():
        with torch.no_grad():
            return encoder(data).numpy().astype(np.float64)

    z = encode_all()
    selection = None
    if n_clusters is None:
        selection = select_k(z, range(k_lo, k_hi + 1), metrics=("silhouette",), random_state=random_state,
                             silhouette_sample_size=min(silhouette_sample_size, n) if silhouette_sample_size else None,
                             n_init=10)
        n_clusters = int(selection.best["silhouette"])
        km = selection.models[n_clusters]
    else:
        km = KMeans(n_clusters, n_init=10, random_state=random_state).fit(z)
    centers = torch.nn.Parameter(torch.tensor(np.asarray(km.cluster_centers_), dtype=torch.float32))
    scale = float(np.asarray(km.inertia_)) / n  # mean squared distance to the nearest centre
    opt = torch.optim.Adam(params + [centers], lr=lr)
    n_steps = max(n_cluster_epochs * len(batches()) - 1, 1)
    step = 0
    for _ in range(n_cluster_epochs):
        tr = tc = 0.0
        for idx in batches():
            temp = scale * t_start * (t_end / t_start) ** (step / n_steps)
            xb = data[idx]
            zb = encoder(xb)
            rec = torch.mean((decoder(zb) - xb) ** 2)
            clu = soft_kmeans_loss(zb, centers, temp)
            loss = recon_weight * rec + cluster_weight * clu
            opt.zero_grad()
            loss.backward()
            opt.step()
            tr += float(rec.detach()) * len(idx)
            tc += float(clu.detach()) * len(idx)
            step += 1
        history["recon"].append(tr / n)
        history["cluster"].append(tc / n)

    with torch.no_grad():
        zt = encoder(data)
        lab = torch.argmin(torch.cdist(zt, centers), dim=1).numpy()
    cen = centers.detach().numpy().copy()
    labels = np.full(h * w, -1, dtype=np.int64)
    labels[m] = lab
    latent = np.full((h * w, latent_dim), np.nan, dtype=np.float32)
    latent[m] = zt.numpy()
    raw = flat[m].astype(np.float64)
    mean_spectra = np.stack([raw[lab == k].mean(0) if np.any(lab == k) else np.full(c, np.nan)
                             for k in range(n_clusters)])
    return CubeSegmentation(labels=labels.reshape(h, w), mean_spectra=mean_spectra,
                            latent=latent.reshape(h, w, latent_dim), centers=cen, n_clusters=n_clusters,
                            selection=selection, history=history, wall_time=time.perf_counter() - t0)
