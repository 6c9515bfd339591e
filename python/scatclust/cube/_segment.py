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
  (The public version's clustering term carries no gradient to the encoder.) T follows
  the batch's latent spread (mean squared distance of the codes to their mean) relative to
  its value at the start of the joint phase, and while that ratio is below 1 the term is
  divided by it, so the encoder cannot lower it by shrinking the latent space (the decoder
  would undo the scale) -- which it otherwise did, until T exceeded the clusters' spread and
  centres merged.

Variants: a fully connected encoder or one with a 1-D convolutional front end
(``conv=True``); a deterministic autoencoder (``model="ae"``) or a VAE (``model="vae"``)
whose latent regulariser is the per-pixel KL to N(0, I) (``regularizer="kl"``) or the
InfoVAE MMD between the aggregate posterior and N(0, I) (``regularizer="mmd"``), see
:mod:`scatclust.cube._vae`; the VAE clusters the posterior means.

``model="unmix"`` replaces the latent clustering by linear spectral unmixing
(:mod:`scatclust.cube._unmix`): the encoder outputs K abundances on the simplex (softmax),
the decoder is K non-negative unit-sum endmember spectra, the expected counts are the
pixel's total count times the abundance-weighted endmember mix, the loss is the Poisson
negative log-likelihood of the raw counts, and the label is the argmax abundance (the
nearest simplex vertex; ``centers`` is the identity, ``latent`` the abundances,
``endmembers`` the learned spectra). K (when not given) and the initial endmembers come
from k-means on the first ``latent_dim`` principal components of the square-root
compositions ``sqrt(x / n)`` of the spectra (the k_method table is on those codes).
``n_pretrain`` epochs train the encoder with the endmembers fixed, then
``n_cluster_epochs`` epochs train both; ``cluster_weight``, ``recon_weight`` and
``temperature`` are unused. The model is blind to the pixel's intensity by construction:
on ``synthetic_xrf``, whose lead white and lead-tin yellow spectra differ by a 1 % Sn line
share and whose gain follows the same luminance that defines the pigment regions, it
cannot separate those two pigments, which k-means on the spectra separates by intensity
(``bench/RESULTS.md``).

Training: ``n_pretrain`` epochs of reconstruction (MSE; plus ``reg_weight`` times the
regulariser for the VAE) only; then K is chosen, if not given, on the latent codes of the
WHOLE cube (not per batch) by the silhouette or the gap statistic over ``k_range``
(:func:`scatclust.cluster.select_k`); centres start from k-means (our
:class:`scatclust.cluster.KMeans`); then ``n_cluster_epochs`` epochs of
``recon_weight * MSE + cluster_weight * soft k-means (+ reg_weight * regulariser)``. Labels are the nearest learned
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
    selection : KSelection or None; the k_method table (silhouette or gap) when K was chosen
    endmembers : ndarray (K, C), float64, or None; ``model="unmix"``: the learned endmember
        spectra, each summing to 1 over the channels (None for the other models)
    history : dict of lists; per-epoch 'recon', 'cluster' (the spread-normalised soft k-means term)
        and 'reg' (VAE regulariser, 0 for the AE) losses, and 'spread' (mean over batches of
        the codes' mean squared distance to their batch mean)
    wall_time : float, seconds
    """

    labels: np.ndarray
    mean_spectra: np.ndarray
    latent: np.ndarray
    centers: np.ndarray
    n_clusters: int
    selection: object = None
    endmembers: np.ndarray = None
    history: dict = field(default_factory=dict)
    wall_time: float = 0.0


_PREPROCESS_BLOCK = 1 << 20  # float64 values per block of rows in preprocess_spectra (8 MB)


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
    spectra = np.asarray(spectra)
    if spectra.ndim != 2:
        raise ValueError(f"spectra of shape {spectra.shape} must be (N, C)")
    n, c = spectra.shape
    out = np.empty((n, c), dtype=np.float32)
    # Blocks of rows in float64 (~8 MB each): the peak memory is the float32 output plus a few
    # blocks, not several float64 copies of the whole cube; every value is computed as before.
    rows = max(1, _PREPROCESS_BLOCK // max(c, 1))
    if method == "anscombe":
        def anscombe(x):
            return 2.0 * np.sqrt(x + 0.375) - 2.0 * np.sqrt(0.375)

        # the transform is non-decreasing, so its maximum is its value at the largest count
        top = float(anscombe(np.asarray(spectra.max(), dtype=np.float64))) if spectra.size else 0.0
        top = top if top > 0 else 1.0
        for i in range(0, n, rows):
            out[i:i + rows] = anscombe(np.asarray(spectra[i:i + rows], dtype=np.float64)) / top
        return out
    for i in range(0, n, rows):
        x = np.log1p(np.asarray(spectra[i:i + rows], dtype=np.float64))
        m = x.max(axis=1, keepdims=True) if c else np.zeros((len(x), 1))
        out[i:i + rows] = x / np.where(m > 0, m, 1.0)
    return out


def _build(n_channels, hidden, latent_dim, conv, variational=False):
    """Encoder (N, C) -> (N, D) [or (N, 2D): means then log-variances when ``variational``]
    and decoder (N, D) -> (N, C) with a linear output.

    No output sigmoid, although the preprocessed spectra lie in [0, 1]: most channels hold
    ~0 counts, and a sigmoid output can saturate at 0 early in training, after which the
    gradient vanishes and the network stays at "predict zeros" (seen with the conv encoder
    on 3 of 3 seeds, and with the fully connected one on some seeds of small cubes).
    """
    import torch.nn as nn

    layers, d = [], n_channels
    if conv:
        # 1-D conv front end: (N, 1, C) -> (N, 8, ceil(ceil(C/2)/2)), flattened into the MLP.
        # Kernel 9 at stride 2 spans ~2 peak FWHMs at 256-1024 channels over 1-20 keV (the
        # generator's range until 2026-12-07; its channels are 1.5x wider over the 1-30 keV default).
        layers += [nn.Unflatten(1, (1, n_channels)), nn.Conv1d(1, 8, 9, stride=2, padding=4), nn.ReLU(),
                   nn.Conv1d(8, 8, 9, stride=2, padding=4), nn.ReLU(), nn.Flatten()]
        d = 8 * ((((n_channels + 1) // 2) + 1) // 2)
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    encoder = nn.Sequential(*layers, nn.Linear(d, latent_dim * (2 if variational else 1)))
    dec, d = [], latent_dim
    for h in reversed(hidden):
        dec += [nn.Linear(d, h), nn.ReLU()]
        d = h
    decoder = nn.Sequential(*dec, nn.Linear(d, n_channels))
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


def _spread(z):
    """Mean squared distance of the rows of ``z`` (N, D) to their mean (the latent scale)."""
    return (z - z.mean(0)).pow(2).sum(1).mean()


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={value!r} must be an int >= {low}")
    return int(value)


MODELS = ("ae", "vae", "unmix")
REGULARIZERS = ("kl", "mmd")
K_METHODS = ("silhouette", "gap", "calinski_harabasz")
#: Default weight of the latent regulariser per (model, regularizer); see :func:`segment`.
DEFAULT_REG_WEIGHT = {"kl": 1e-4, "mmd": 1e-2}


def segment(cube, n_clusters=None, k_range=(2, 10), *, mask=None, latent_dim=8, hidden=(256, 64), conv=False,
            model="ae", regularizer=None, reg_weight=None,
            n_pretrain=40, n_cluster_epochs=20, batch_size=64, lr=1e-3, recon_weight=1.0, cluster_weight=1.0,
            temperature=(1.0, 0.01), preprocess="anscombe", k_method="silhouette", silhouette_sample_size=2000,
            n_refs=10, gap_reference="pca", random_state=0, key=None):
    """Segment an (H, W, C) spectral cube into K clusters (method in the module docs).

    Parameters
    ----------
    cube : array (H, W, C), non-negative (counts), or any source :func:`load_cube` reads
        (xarray DataArray, HDF5/Zarr dataset, group or path, FITS file or HDU)
    n_clusters : int >= 2 or None
        None: chosen by ``k_method`` over ``k_range`` on the latent codes of the whole cube.
    k_range : (int, int)
        Inclusive range of K tried when ``n_clusters`` is None.
    mask : bool array (H, W) or None
        Pixels to segment; default: spectra with non-zero total.
    latent_dim, hidden, conv
        Latent size D, hidden widths of the fully connected encoder (decoder mirrored), and
        an optional 1-D convolutional front end of the encoder (two stride-2 convolutions,
        8 channels, kernel 9, before the fully connected layers; the decoder stays fully
        connected).
    model : {"ae", "vae", "unmix"}
        ``"ae"``: deterministic autoencoder. ``"vae"``: the encoder outputs a Gaussian
        posterior N(mu, diag(sigma^2)); the decoder reconstructs from the sample
        ``mu + sigma * eps``; the latent map, K selection and clustering use mu.
        ``"unmix"``: Poisson unmixing autoencoder (module docs); labels = argmax abundance,
        ``latent`` (H, W, K) holds the abundances and ``endmembers`` the learned spectra.
    regularizer : {"kl", "mmd"} or None
        Latent regulariser of the VAE (:mod:`scatclust.cube._vae`); None means "kl" for
        ``model="vae"`` and is the only value allowed for ``model="ae"`` or ``"unmix"``.
        ``"kl"``: the per-pixel KL(q(z|x) || N(0, I)) in nats, summed over D (beta-VAE). ``"mmd"``
        (InfoVAE): squared RBF-kernel MMD between the batch of posterior samples and as many
        N(0, I) draws.
    reg_weight : float >= 0 or None
        Weight of the regulariser, added in both phases, against the reconstruction term,
        which is the squared error averaged over pixels AND channels of spectra scaled to
        [0, 1]. None: ``DEFAULT_REG_WEIGHT``. KL: 1e-4, the beta of a Gaussian likelihood
        with the Anscombe noise: unit variance before the division by the cube's maximum
        (~10-15 at tens of counts per pixel), so sigma^2 ~ 1/150 per channel, and
        ``beta = 2 sigma^2 / C`` ~ 5e-5 at C = 256. MMD: 1e-2 (InfoVAE's lambda ~ 1e3 in
        summed-likelihood units, rescaled the same way, is ~0.05; on the tuning cubes, ARI
        0.980 at 1e-2 against 0.69 at 1e-3, where the unregularised posterior scale made
        runs unstable). Weights of 1 (MMD) or 1e-2 (KL) collapse the posterior on the
        synthetic cubes (one cluster, ARI 0).
    n_pretrain, n_cluster_epochs, batch_size, lr
        Epochs of reconstruction pretraining, epochs of joint training, batch size, Adam rate.
        ``model="unmix"``: epochs with the endmembers fixed, then epochs training both.
    recon_weight, cluster_weight : float >= 0
        Weights of the reconstruction and soft k-means terms in the joint phase.
    temperature : (float, float)
        Start and end of the geometric annealing, relative to the mean squared distance
        of the codes to their nearest centre at the start of the joint phase (and, during
        it, times the ratio of the batch's latent spread to the spread at that start).
    preprocess : {"anscombe", "log-max"}
        Spectrum transform (:func:`preprocess_spectra`).
    k_method : {"silhouette", "gap", "calinski_harabasz"}
        Criterion choosing K when ``n_clusters`` is None (:func:`scatclust.cluster.select_k`):
        maximum silhouette, Tibshirani's gap rule (:func:`scatclust.cluster.gap_statistic`), or
        maximum Calinski-Harabasz index.
    silhouette_sample_size : int or None
        Rows scored by the silhouette (same rows for every k).
    n_refs : int >= 1
        Reference sets of the gap statistic.
    gap_reference : {"pca", "uniform"}
        Null model of the gap statistic: uniform over the box aligned with the principal
        axes of the codes (default; the pigment clusters are elongated along the
        paint-thickness gain, and the axis-aligned box then over-counts K) or over their
        axis-aligned bounding box.
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
    >>> seg = segment(d.cube, n_clusters=5, model="vae", regularizer="mmd", n_pretrain=5, n_cluster_epochs=2)
    >>> seg.latent.shape
    (24, 24, 8)
    >>> seg = segment(d.cube, n_clusters=5, model="unmix", n_pretrain=2, n_cluster_epochs=2)
    >>> seg.latent.shape, seg.endmembers.shape  # abundances, unit-sum endmember spectra
    ((24, 24, 5), (5, 128))
    """
    import torch

    from ..cluster import KMeans, select_k
    from ..nn._guard import check_finite_loss
    from ._vae import kl_normal, mmd_rbf

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
    n_refs = _check_int("n_refs", n_refs, 1)
    if model not in MODELS:
        raise ValueError(f"model={model!r} must be 'ae', 'vae' or 'unmix'")
    if regularizer is not None and model != "vae":
        raise ValueError(f"regularizer={regularizer!r} needs model='vae' (model={model!r} has no posterior)")
    if model == "vae":
        regularizer = "kl" if regularizer is None else regularizer
        if regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer={regularizer!r} must be 'kl', 'mmd' or None")
        reg_weight = DEFAULT_REG_WEIGHT[regularizer] if reg_weight is None else reg_weight
    elif reg_weight is not None:
        raise ValueError(f"reg_weight={reg_weight!r} needs model='vae'")
    else:
        reg_weight = 0.0
    if gap_reference not in ("pca", "uniform"):
        raise ValueError(f"gap_reference={gap_reference!r} must be 'pca' or 'uniform'")
    if k_method not in K_METHODS:
        raise ValueError(f"k_method={k_method!r} must be one of {', '.join(map(repr, K_METHODS))}")
    for name, v in (("recon_weight", recon_weight), ("cluster_weight", cluster_weight), ("reg_weight", reg_weight)):
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"{name}={v!r} must be finite and >= 0")
    t_start, t_end = (float(t) for t in temperature)
    if not (0 < t_end <= t_start):
        raise ValueError(f"temperature={temperature!r} must satisfy 0 < end <= start")

    torch.manual_seed(random_state)
    rng = np.random.default_rng(random_state)
    data = torch.from_numpy(preprocess_spectra(flat[m], preprocess))
    if model == "unmix":
        return _segment_unmix(flat, m, data, (h, w, c), n_clusters, k_lo, k_hi, latent_dim, hidden, conv,
                              n_pretrain, n_cluster_epochs, batch_size, lr, k_method, silhouette_sample_size,
                              n_refs, gap_reference, random_state, rng, t0)
    variational = model == "vae"
    encoder, decoder = _build(c, tuple(int(v) for v in hidden), latent_dim, bool(conv), variational)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    history = {"recon": [], "cluster": [], "reg": [], "spread": []}

    def batches():
        perm = torch.from_numpy(rng.permutation(n))
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]

    def forward(xb):
        """(code used for clustering, reconstruction, regulariser value)."""
        out = encoder(xb)
        if not variational:
            return out, decoder(out), out.new_zeros(())
        mu, logvar = out[:, :latent_dim], out[:, latent_dim:]
        zs = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        reg = kl_normal(mu, logvar) if regularizer == "kl" else mmd_rbf(zs, torch.randn_like(zs))
        return mu, decoder(zs), reg

    for epoch in range(n_pretrain):
        tr = tg = ts = 0.0
        for idx in batches():
            xb = data[idx]
            zb, xr, reg = forward(xb)
            rec = torch.mean((xr - xb) ** 2)
            loss = rec + reg_weight * reg
            check_finite_loss(loss, f"segment pretraining, epoch {epoch + 1}", lr=lr)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tr += float(rec.detach()) * len(idx)
            tg += float(reg.detach()) * len(idx)
            ts += float(_spread(zb.detach())) * len(idx)
        history["recon"].append(tr / n)
        history["cluster"].append(float("nan"))
        history["reg"].append(tg / n)
        history["spread"].append(ts / n)

    def encode_all():
        with torch.no_grad():
            return encoder(data)[:, :latent_dim]

    z = encode_all().numpy().astype(np.float64)
    selection = None
    if n_clusters is None:
        sample = min(silhouette_sample_size, n) if silhouette_sample_size and k_method == "silhouette" else None
        selection = select_k(z, range(k_lo, k_hi + 1), metrics=(k_method,), random_state=random_state,
                             silhouette_sample_size=sample, n_refs=n_refs, reference=gap_reference,
                             n_init=10)
        n_clusters = int(selection.best[k_method])
        km = selection.models[n_clusters]
    else:
        km = KMeans(n_clusters, n_init=10, random_state=random_state).fit(z)
    centers = torch.nn.Parameter(torch.tensor(np.asarray(km.cluster_centers_), dtype=torch.float32))
    scale = float(np.asarray(km.inertia_)) / n  # mean squared distance to the nearest centre
    spread0 = float(_spread(torch.from_numpy(z))) or 1.0  # 0 only if every code is equal
    last_rel = 1.0
    opt = torch.optim.Adam(params + [centers], lr=lr)
    n_steps = max(n_cluster_epochs * len(batches()) - 1, 1)
    step = 0
    for _ in range(n_cluster_epochs):
        tr = tc = tg = ts = 0.0
        for idx in batches():
            xb = data[idx]
            zb, xr, reg = forward(xb)
            rec = torch.mean((xr - xb) ** 2)
            # Shrinking the latent must not pay: the soft k-means inertia is divided by the
            # batch's latent spread relative to the spread at the start, when that ratio is
            # below 1, and the temperature follows the ratio. Without this the encoder lowers
            # the inertia by shrinking every code (the decoder undoes the scale), the spread
            # falls far below the fixed temperature, the soft assignments go uniform and
            # centres merge (generator defaults: spread / 50, ARI 0.56 -> 0.31 in the joint
            # phase). Above 1 the term is not divided: a fully scale-invariant ratio is
            # lowered instead by pushing one cluster far from the rest (inflating the
            # spread), which split or merged clusters on the tuning cubes.
            if len(idx) > 1:
                rel = _spread(zb) / spread0
                last_rel = float(rel.detach())
            else:  # a one-row batch has no spread: keep the last ratio, as a constant
                rel = zb.new_tensor(last_rel)
            temp = scale * float(rel.detach()) * t_start * (t_end / t_start) ** (step / n_steps)
            clu = soft_kmeans_loss(zb, centers, temp) / torch.clamp(rel, max=1.0)
            loss = recon_weight * rec + cluster_weight * clu + reg_weight * reg
            check_finite_loss(loss, f"segment clustering phase, step {step + 1}", lr=lr)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tr += float(rec.detach()) * len(idx)
            tc += float(clu.detach()) * len(idx)
            tg += float(reg.detach()) * len(idx)
            ts += float(rel.detach()) * spread0 * len(idx)
            step += 1
        history["recon"].append(tr / n)
        history["cluster"].append(tc / n)
        history["reg"].append(tg / n)
        history["spread"].append(ts / n)

    zt = encode_all()
    with torch.no_grad():
        lab = torch.argmin(torch.cdist(zt, centers), dim=1).numpy()
    cen = centers.detach().numpy().copy()
    labels = np.full(h * w, -1, dtype=np.int64)
    labels[m] = lab
    latent = np.full((h * w, latent_dim), np.nan, dtype=np.float32)
    latent[m] = zt.numpy()
    raw = flat[m]  # float64 sums without a float64 copy of the cube
    mean_spectra = np.stack([raw[lab == k].mean(0, dtype=np.float64) if np.any(lab == k) else np.full(c, np.nan)
                             for k in range(n_clusters)])
    return CubeSegmentation(labels=labels.reshape(h, w), mean_spectra=mean_spectra,
                            latent=latent.reshape(h, w, latent_dim), centers=cen, n_clusters=n_clusters,
                            selection=selection, history=history, wall_time=time.perf_counter() - t0)


def _segment_unmix(flat, m, data, shape, n_clusters, k_lo, k_hi, latent_dim, hidden, conv, n_frozen, n_joint,
                   batch_size, lr, k_method, silhouette_sample_size, n_refs, gap_reference, random_state, rng, t0):
    """``segment(model="unmix")``: K and the initial endmembers from k-means on the first
    ``latent_dim`` principal components of the square-root compositions ``sqrt(x / n)``,
    then the unmixing autoencoder of :mod:`scatclust.cube._unmix`; labels = argmax abundance."""
    import torch

    from ..cluster import KMeans, select_k
    from ._unmix import fit_unmix, init_endmembers

    h, w, c = shape
    n = int(m.sum())
    raw = flat[m].astype(np.float64)
    # Square-root compositions sqrt(x / n) (Hellinger embedding): free of the pixel's
    # intensity, like the model, with multinomial noise ~1/(4n) in every channel.
    xp = np.sqrt(raw / np.maximum(raw.sum(1, keepdims=True), np.finfo(np.float64).tiny))
    xp = xp - xp.mean(0)
    _, _, vt = np.linalg.svd(xp, full_matrices=False)
    z = xp @ vt[:min(latent_dim, vt.shape[0])].T  # PCA codes
    selection = None
    if n_clusters is None:
        sample = min(silhouette_sample_size, n) if silhouette_sample_size and k_method == "silhouette" else None
        selection = select_k(z, range(k_lo, k_hi + 1), metrics=(k_method,), random_state=random_state,
                             silhouette_sample_size=sample, n_refs=n_refs, reference=gap_reference, n_init=10)
        n_clusters = int(selection.best[k_method])
        km = selection.models[n_clusters]
    else:
        km = KMeans(n_clusters, n_init=10, random_state=random_state).fit(z)
    e0 = init_endmembers(raw, np.asarray(km.labels_), n_clusters)
    encoder, _ = _build(c, tuple(int(v) for v in hidden), n_clusters, bool(conv))
    counts = torch.from_numpy(raw.astype(np.float32))
    ab, em, history = fit_unmix(data, counts, encoder, e0, n_frozen, n_joint, batch_size, lr, rng)
    lab = torch.argmax(ab, dim=1).numpy()
    labels = np.full(h * w, -1, dtype=np.int64)
    labels[m] = lab
    latent = np.full((h * w, n_clusters), np.nan, dtype=np.float32)
    latent[m] = ab.numpy()
    mean_spectra = np.stack([raw[lab == k].mean(0) if np.any(lab == k) else np.full(c, np.nan)
                             for k in range(n_clusters)])
    return CubeSegmentation(labels=labels.reshape(h, w), mean_spectra=mean_spectra,
                            latent=latent.reshape(h, w, n_clusters), centers=np.eye(n_clusters, dtype=np.float32),
                            n_clusters=n_clusters, selection=selection, endmembers=em.numpy().astype(np.float64),
                            history=history, wall_time=time.perf_counter() - t0)
