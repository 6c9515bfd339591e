"""Deep Embedded Clustering (DEC, Xie et al. 2016) and IDEC (Guo et al. 2017) on spectrograms.

Pipeline of :meth:`DEC.fit`:

1. pretrain an autoencoder (convolutional for images such as log-spectrograms, MLP for
   vectors) by mean squared error, with a held-out validation split and early stopping
   (the weights of the best validation epoch are kept);
2. embed the whole data set and initialise the cluster centres with our C++
   :class:`~scatclust.cluster.KMeans` (``n_init`` k-means++ restarts);
3. DEC: minimise KL(P || Q) between the Student-t soft assignment Q (our core kernel,
   :class:`~scatclust.cluster.StudentTAssignment`) and the target distribution P, plus
   ``gamma`` times the reconstruction MSE (IDEC; ``gamma=0`` is plain DEC). P is recomputed
   from the soft assignment of the FULL data set every ``update_interval`` mini-batches and
   held fixed in between; training stops when fewer than a fraction ``tol`` of the labels
   changed between two target updates, or after ``max_iter`` mini-batches.

torch is imported only when a model is built or loaded (``import scatclust.cluster`` works
without it).
"""
from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from .._array import as_real_numpy, check_choice, check_int
from ._kmeans import KMeans, NotFittedError, _Base, _ClusterMixin, _TransformerMixin
from ._student_t import check_alpha, soft_assign, target_distribution

__all__ = ["DEC"]

_FORMAT = "scatclust.cluster.DEC"
_FORMAT_VERSION = 1


def _check_real(value, name, lo=None, hi=None, lo_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name}={value!r} must be a finite real number")
    value = float(value)
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{name}={value} must be {'>' if lo_open else '>='} {lo}")
    if hi is not None and value > hi:
        raise ValueError(f"{name}={value} must be <= {hi}")
    return value


def _seed_from(random_state):
    """A 63-bit int seed from None / int / numpy RandomState or Generator."""
    if random_state is None:
        return int(np.random.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state={random_state} must be >= 0")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, np.iinfo(np.int64).max))
    raise ValueError(f"random_state={random_state!r} must be None, an int >= 0, a numpy RandomState or Generator")


def _student_t_torch(z, mu, alpha):
    """Student-t soft assignment in plain torch (used off the CPU, where the core cannot run)."""
    d2 = (z[:, None, :] - mu[None, :, :]).pow(2).sum(-1)
    q = (1.0 + d2 / alpha).pow(-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


class DEC(_ClusterMixin, _TransformerMixin, _Base):
    """Deep Embedded Clustering of spectrograms (or vectors) with an autoencoder.

    Parameters
    ----------
    n_clusters : int >= 1, default 10
    architecture : {'auto', 'conv', 'mlp'}, default 'auto'
        'conv': :class:`scatclust.nn.ConvAutoencoder2d` on (n, H, W) / (n, 1, H, W) input;
        'mlp': :class:`scatclust.nn.MLPAutoencoder` on (n, D) input (images are flattened);
        'auto': 'mlp' for 2-D X, 'conv' otherwise.
    latent_dim : int >= 1, default 10
        Size of the embedding.
    channels : sequence of int, default (16, 32, 64)
        Channels of the convolution blocks ('conv').
    hidden : sequence of int, default (500, 500, 2000)
        Hidden layer widths ('mlp'; DEC's network for MNIST).
    pretrain_epochs : int >= 0, default 100
        Maximum autoencoder pretraining epochs.
    max_iter : int >= 0, default 2000
        Maximum DEC mini-batch iterations.
    batch_size : int >= 1, default 256
    lr : float > 0, default 1e-3
        Adam learning rate of the pretraining (and of the DEC phase unless ``dec_lr`` is set).
    dec_optimizer : {'adam', 'sgd'}, default 'adam'
        Optimiser of the DEC phase: Adam, or SGD with momentum 0.9 (Xie et al. 2016 used SGD
        with learning rate 0.01).
    dec_lr : float > 0 or None, default None
        Learning rate of the DEC phase; None uses ``lr``.
    update_interval : int >= 1, default 140
        Mini-batches between two recomputations of the target distribution on the full
        data set (also the interval of the convergence check).
    tol : float in [0, 1], default 1e-3
        Stop when the fraction of labels changed between two target updates is < tol.
    gamma : float >= 0, default 0
        Weight of the reconstruction MSE added to the KL loss (IDEC); 0 gives DEC.
    alpha : float > 0, default 1
        Degrees of freedom of the Student-t kernel.
    n_init : int >= 1, default 20
        k-means++ restarts for the initial centres.
    validation_fraction : float in [0, 1), default 0.1
        Share of samples held out to monitor pretraining; 0 disables early stopping.
    patience : int >= 1, default 10
        Pretraining stops after this many epochs without a lower validation loss.
    augment : None, 'shift', 'affine' or callable, default None
        Data augmentation after DEC-DA (Guo et al. 2018). None: off (plain DEC/IDEC).
        'shift': every training batch is replaced by copies shifted by independent random
        integer offsets in [-max_shift, max_shift] along the last axes of each sample (H and W
        of images / spectrograms for 'conv', the feature axis for 'mlp'), zero filled
        (:func:`scatclust.nn.random_shift`). 'affine' ('conv' only): uniform random sub-pixel
        shifts in [-max_shift, max_shift] and rotations in [-max_rotation, max_rotation]
        degrees, bilinear, zero filled (:func:`scatclust.nn.random_affine`). A callable
        ``augment(xb, generator)`` receives the model input batch (torch tensor (b, 1, H, W)
        or (b, D)) and a ``torch.Generator`` to draw from, and returns a tensor of the same
        shape. The autoencoder is pretrained to reconstruct the augmented batch (validation
        loss on clean samples); the k-means start and every target distribution use the clean
        data.
    max_shift : int >= 0 or sequence of int, default 1
        Largest shift in pixels (frames, bins): one value for every shifted axis, or one per
        axis ((frequency, time) for spectrograms: ``(0, 2)`` shifts up to 2 frames in time only;
        a 1-sequence for 'mlp'). Integers for 'shift'; 'affine' also takes fractions.
    max_rotation : float >= 0, default 0
        Largest rotation in degrees for ``augment='affine'`` (images; keep 0 for spectrograms).
    noise : None, 'gaussian' or 'masking', default None
        Denoising pretraining (Vincent et al. 2010; DEC pretrains a stacked denoising
        autoencoder): the encoder sees a corrupted copy of each training batch and the
        decoder must rebuild the uncorrupted one (:func:`scatclust.nn.corrupt`). 'gaussian'
        adds noise of standard deviation ``noise_level``; 'masking' zeroes each input with
        probability ``noise_level``. Only the pretraining is corrupted: validation, the k-means
        start and the DEC phase use the clean data. None: plain autoencoder.
    noise_level : float >= 0, default 0.2
        Noise standard deviation ('gaussian', units of X) or zeroing probability ('masking',
        < 1) of ``noise``.
    weight_decay : float >= 0, default 0
        L2 penalty (Adam's ``weight_decay``) on the autoencoder weights during pretraining.
    init_embedding : {'raw', 'l2', 'standard', 'spectral'}, default 'raw'
        Space in which k-means finds the starting partition of the embeddings: as they are,
        each embedding divided by its Euclidean norm ('l2'), each latent coordinate
        centred and divided by its standard deviation ('standard'), or the Laplacian
        eigenmap of their k-nearest-neighbour graph ('spectral': spectral clustering after
        Ng, Jordan & Weiss 2002 -- the ``n_clusters`` eigenvectors of the smallest eigenvalues
        of the normalised graph Laplacian of the symmetric ``spectral_neighbors``-NN graph,
        each row divided by its norm; a dense eigensolver up to 3000 samples, scipy's
        ``eigsh`` above; a disconnected graph is joined by its shortest edges, with a
        warning). The starting centres are the means of the (raw) embeddings of each k-means
        cluster, so the DEC phase always works on the raw embedding. (On scikit-learn's
        digits neither this nor ``weight_decay`` nor ``noise`` changed the accuracy beyond the
        seed-to-seed noise over 27 tuning seeds. The spectral start's own partition was more
        accurate than the raw k-means start, 0.855 against 0.783 with 5 cosine neighbours,
        but the nearest of its raw-mean centres lost most of that and the final accuracy
        gained only +0.014 +- 0.010 with ``first_target='start'``: ``bench/RESULTS.md``.)
    spectral_neighbors : int >= 1, default 10
        Neighbours of each embedding in the graph of ``init_embedding='spectral'`` (must be
        < n_samples); unused otherwise.
    spectral_metric : {'euclidean', 'cosine'}, default 'euclidean'
        Distance that defines the neighbours of ``init_embedding='spectral'``: Euclidean
        distance between the embeddings, or between the embeddings divided by their norms
        ('cosine': the angle decides). Unused otherwise.
    first_target : {'soft', 'start'}, default 'soft'
        Target distribution of the first ``update_interval`` DEC mini-batches: DEC's sharpened
        soft assignment to the starting centres ('soft', Xie et al. 2016), or the one-hot
        partition of the start itself ('start'), i.e. the k-means clusters in the
        ``init_embedding`` space. With a non-raw ``init_embedding`` the nearest starting centre
        (a raw-embedding mean) can disagree with that partition; 'start' first trains the
        encoder to reproduce it. All later targets are DEC's unless ``start_weight`` > 0.
        (After the spectral start on scikit-learn's digits 'start' raised the final accuracy
        by about 0.01 on 23 to 26 of 27 tuning seeds.)
    start_weight : float in [0, 1], default 0.0
        Share λ of the one-hot start partition S in every target after the first: the target
        is (1 - λ) P + λ S, with P DEC's sharpened soft assignment, so the start partition
        keeps pulling the encoder throughout the DEC phase. 0 is DEC (Xie et al. 2016); 1
        makes S the only target (the DEC phase then trains the encoder and centres to
        reproduce the start partition). Meant with a non-raw ``init_embedding`` and
        ``first_target='start'``. (After the spectral start on scikit-learn's digits, 0.5
        raised the final accuracy by +0.012 +- 0.002 over ``first_target='start'`` alone,
        0.860 against 0.848, better on 24 of 27 tuning seeds; 0.25, 0.75 and 1 did about as
        well: ``bench/RESULTS.md``.)
    augment_clustering : bool, default False
        Also augment in the DEC phase, as DEC-DA does: the soft assignment of a shifted sample
        is pulled towards the target distribution of its clean original. On scikit-learn's
        digits this kept the labels from settling and lowered the accuracy
        (``bench/bench_dec.py``), hence off by default: only the pretraining is augmented.
    random_state : int, RandomState or None
        Seeds weights, shuffling and k-means: the same value gives the same labels (on the
        same machine and thread count). The global torch RNG state is left untouched.
    device : str or torch.device, default 'cpu'
        Where the autoencoder runs. On the CPU the Student-t assignment uses the C++ core.
    verbose : bool, default False
        Print losses while training.

    Attributes
    ----------
    labels_ : int32 array (n_samples,)
        Cluster of each training sample (argmax of the final soft assignment).
    cluster_centers_ : float32 array (n_clusters, latent_dim)
        Centres in the embedding space.
    start_labels_ : int32 array (n_samples,)
        The k-means start partition of the training samples (found in the
        ``init_embedding`` space; the partition ``first_target='start'`` and
        ``start_weight`` use). Saved by :meth:`save`; ``None`` after :meth:`load` of a file
        written before it was stored.
    n_iter_ : int
        DEC mini-batch iterations run.
    history_ : dict of lists
        'pretrain_loss', 'val_loss' (per epoch), 'target_updates' (iteration of each full
        target recomputation), 'delta_label' (fraction changed at each update after the
        first), 'kl_loss' (mean KL per update interval), 'pretrain_epochs' (epochs run),
        'best_epoch'.
    model_ : torch.nn.Module
        The autoencoder (``encode``/``decode``).
    input_shape_ : tuple
        Shape of one sample as seen by the model ((1, H, W) or (D,)).

    Notes
    -----
    The public zClust / RISCluster DEC code recomputes the target distribution on each
    mini-batch (its normalisation f_k then runs over the batch only) and never uses its
    ``update_interval`` argument; here P is computed on the whole data set every
    ``update_interval`` batches, as in Xie et al. (2016).

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.cluster import DEC
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(m, 0.1, (30, 8)) for m in (-2, 0, 2)]).astype(np.float32)
    >>> dec = DEC(3, hidden=(16,), latent_dim=2, pretrain_epochs=20, max_iter=50, batch_size=30,
    ...           n_init=5, random_state=0).fit(X)
    >>> dec.labels_.shape
    (90,)
    """

    def __init__(self, n_clusters=10, *, architecture="auto", latent_dim=10, channels=(16, 32, 64),
                 hidden=(500, 500, 2000), pretrain_epochs=100, max_iter=2000, batch_size=256, lr=1e-3,
                 dec_optimizer="adam", dec_lr=None,
                 update_interval=140, tol=1e-3, gamma=0.0, alpha=1.0, n_init=20, validation_fraction=0.1,
                 patience=10, augment=None, max_shift=1, max_rotation=0.0, augment_clustering=False,
                 noise=None, noise_level=0.2, weight_decay=0.0, init_embedding="raw",
                 spectral_neighbors=10, spectral_metric="euclidean", first_target="soft", start_weight=0.0,
                 random_state=None, device="cpu", verbose=False):
        self.n_clusters = n_clusters
        self.architecture = architecture
        self.latent_dim = latent_dim
        self.channels = channels
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.dec_optimizer = dec_optimizer
        self.dec_lr = dec_lr
        self.update_interval = update_interval
        self.tol = tol
        self.gamma = gamma
        self.alpha = alpha
        self.n_init = n_init
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.augment = augment
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.augment_clustering = augment_clustering
        self.noise = noise
        self.noise_level = noise_level
        self.weight_decay = weight_decay
        self.init_embedding = init_embedding
        self.spectral_neighbors = spectral_neighbors
        self.spectral_metric = spectral_metric
        self.first_target = first_target
        self.start_weight = start_weight
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ---- checks -------------------------------------------------------------------------------
    def _check_params(self, n):
        k = check_int(self.n_clusters, "n_clusters", lo=1)
        if n < k:
            raise ValueError(f"n_samples={n} should be >= n_clusters={k}")
        check_choice(self.architecture, "architecture", ("auto", "conv", "mlp"))
        check_int(self.latent_dim, "latent_dim", lo=1)
        check_int(self.pretrain_epochs, "pretrain_epochs", lo=0)
        check_int(self.max_iter, "max_iter", lo=0)
        check_int(self.batch_size, "batch_size", lo=1)
        _check_real(self.lr, "lr", lo=0, lo_open=True)
        check_choice(self.dec_optimizer, "dec_optimizer", ("adam", "sgd"))
        if self.dec_lr is not None:
            _check_real(self.dec_lr, "dec_lr", lo=0, lo_open=True)
        check_int(self.update_interval, "update_interval", lo=1)
        _check_real(self.tol, "tol", lo=0, hi=1)
        _check_real(self.gamma, "gamma", lo=0)
        check_alpha(self.alpha)
        check_int(self.n_init, "n_init", lo=1)
        vf = _check_real(self.validation_fraction, "validation_fraction", lo=0)
        if vf >= 1:
            raise ValueError(f"validation_fraction={vf} must be < 1")
        check_int(self.patience, "patience", lo=1)
        if not (self.augment is None or callable(self.augment) or
                (isinstance(self.augment, str) and self.augment in ("shift", "affine"))):
            raise ValueError(f"augment={self.augment!r} must be None, 'shift', 'affine' or a callable "
                             "augment(xb, generator)")
        if not isinstance(self.augment_clustering, (bool, np.bool_)):
            raise ValueError(f"augment_clustering={self.augment_clustering!r} must be True or False")
        if self.noise is not None:
            check_choice(self.noise, "noise", ("gaussian", "masking"))
        level = _check_real(self.noise_level, "noise_level", lo=0)
        if self.noise == "masking" and level >= 1:
            raise ValueError(f"noise_level={level} must be < 1 for noise='masking' (the probability of zeroing an "
                             "input); use e.g. 0.2")
        _check_real(self.weight_decay, "weight_decay", lo=0)
        check_choice(self.init_embedding, "init_embedding", ("raw", "l2", "standard", "spectral"))
        check_choice(self.spectral_metric, "spectral_metric", ("euclidean", "cosine"))
        check_choice(self.first_target, "first_target", ("soft", "start"))
        w = self.start_weight
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not 0.0 <= w <= 1.0:
            raise ValueError(f"start_weight={w!r} must be a real number in [0, 1] (0: DEC's own targets, "
                             "1: the start partition throughout); use e.g. 0.5")
        if self.init_embedding == "spectral":
            from ._spectral import _check_neighbors

            _check_neighbors(self.spectral_neighbors, n)
            if n <= k:
                raise ValueError(f"init_embedding='spectral' needs n_samples={n} > n_clusters={k}; use "
                                 "init_embedding='raw' or fewer clusters")
        else:
            check_int(self.spectral_neighbors, "spectral_neighbors", lo=1)
        return k

    def _augmenter(self, arch):
        """The batch augmentation f(xb, generator) -> tensor, or None (checks max_shift for 'shift')."""
        if self.augment is None:
            return None
        if callable(self.augment):
            fn = self.augment

            def checked(xb, gen):
                out = fn(xb, gen)
                if not hasattr(out, "shape") or tuple(out.shape) != tuple(xb.shape):
                    raise ValueError(f"augment returned shape {tuple(getattr(out, 'shape', ()))} for a batch of shape "
                                     f"{tuple(xb.shape)}; it must return a tensor of the same shape")
                return out
            return checked
        from ..nn._augment import _as_float_pair, _as_shift_tuple, random_affine, random_shift

        if self.augment == "affine":
            if arch != "conv":
                raise ValueError("augment='affine' needs images (architecture='conv'); use augment='shift' for "
                                 "vectors")
            ms = _as_float_pair(self.max_shift, "max_shift")
            mr = _as_float_pair(self.max_rotation, "max_rotation", n=1)[0]
            return lambda xb, gen: random_affine(xb, ms, mr, gen)
        n_axes = 2 if arch == "conv" else 1
        ms = _as_shift_tuple(self.max_shift, n_axes)
        return lambda xb, gen: random_shift(xb, ms, gen, n_axes=n_axes)

    def _as_input(self, X, arch):
        """X -> C-contiguous float32 numpy array shaped for the model ((n, 1, H, W) or (n, D))."""
        arr, _ = as_real_numpy(X, "X")
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim == 4 and arr.shape[1] != 1:
            raise ValueError(f"X has shape {arr.shape}; 4-D input must be (n, 1, H, W) (one channel)")
        if arr.ndim not in (2, 4):
            raise ValueError(f"X has shape {arr.shape} (ndim={arr.ndim}); expected (n, D), (n, H, W) or "
                             "(n, 1, H, W)")
        if arch == "conv" and arr.ndim == 2:
            raise ValueError(f"architecture='conv' needs images (n, H, W) or (n, 1, H, W); got X with shape "
                             f"{arr.shape} (use architecture='mlp' for vectors)")
        if arch == "mlp" and arr.ndim == 4:
            arr = arr.reshape(arr.shape[0], -1)
        if arr.shape[0] < 1 or min(arr.shape[1:]) < 1:
            raise ValueError(f"X has shape {arr.shape}; at least one sample and one feature are needed")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError("X contains NaN or Inf values")
        return arr

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call fit(X) first.")

    def _check_new(self, X):
        self._check_fitted()
        arr = self._as_input(X, self._arch)
        if arr.shape[1:] != self.input_shape_:
            raise ValueError(f"X has samples of shape {arr.shape[1:]}; this model was fitted on {self.input_shape_}")
        return arr

    # ---- model --------------------------------------------------------------------------------
    def _build(self, arch, input_shape):
        from ..nn import ConvAutoencoder2d, MLPAutoencoder

        if arch == "conv":
            return ConvAutoencoder2d(input_shape[1:], channels=tuple(self.channels), latent_dim=self.latent_dim)
        return MLPAutoencoder(input_shape[0], hidden=tuple(self.hidden), latent_dim=self.latent_dim)

    def _embed(self, X):
        """Embeddings (n, latent_dim) float32 numpy of model input X (numpy), in eval mode."""
        import torch

        out = np.empty((X.shape[0], self.model_.latent_dim), dtype=np.float32)
        bs = check_int(self.batch_size, "batch_size", lo=1)
        self.model_.eval()
        with torch.no_grad():
            for s in range(0, X.shape[0], bs):
                xb = torch.from_numpy(X[s:s + bs]).to(self._device)
                out[s:s + bs] = self.model_.encode(xb).cpu().numpy()
        return out

    def _soft(self, z):
        """Soft assignment (n, k) float32 numpy of embeddings z (numpy) to the centres."""
        return soft_assign(z, self.cluster_centers_, float(self.alpha))

    # ---- fit ----------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Pretrain the autoencoder, initialise the centres by k-means, run DEC.

        Parameters
        ----------
        X : array or torch CPU tensor, (n, H, W), (n, 1, H, W) or (n, D)
            Spectrograms (preferably log and standardised) or feature vectors.
        y : ignored

        Returns
        -------
        self
        """
        import torch

        arr0, _ = as_real_numpy(X, "X")
        k = self._check_params(arr0.shape[0] if arr0.ndim else 0)
        arch = self.architecture
        if arch == "auto":
            arch = "mlp" if arr0.ndim == 2 else "conv"
        X = self._as_input(arr0, arch)
        self._aug = self._augmenter(arch)
        seed = _seed_from(self.random_state)
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            self._arch = arch
            self._device = device
            self.input_shape_ = tuple(X.shape[1:])
            self.model_ = self._build(arch, self.input_shape_).to(device)
            history = {"pretrain_loss": [], "val_loss": [], "target_updates": [], "delta_label": [], "kl_loss": []}
            self._pretrain(X, gen, history)
            z = self._embed(X)
            self.cluster_centers_ = self._initial_centers(z, k, seed)
            self._dec(X, gen, history)
        self.history_ = history
        return self

    def _start_space(self, z, k, seed):
        """The embeddings z as seen by the k-means start (``init_embedding``)."""
        def unit(v):
            return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.finfo(v.dtype).tiny)

        if self.init_embedding == "l2":
            return unit(z)
        if self.init_embedding == "standard":
            sd = z.std(axis=0)
            return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        if self.init_embedding == "spectral":
            from ._spectral import laplacian_eigenmap

            zg = unit(z) if self.spectral_metric == "cosine" else z  # cosine neighbours = Euclidean on unit vectors
            return laplacian_eigenmap(zg, k, self.spectral_neighbors, random_state=seed % (2 ** 32))[0]
        return z

    def _initial_centers(self, z, k, seed):
        """k-means start on the (optionally transformed) embeddings z; centres in the raw space."""
        zk = self._start_space(z, k, seed)
        km = KMeans(k, n_init=check_int(self.n_init, "n_init", lo=1), random_state=seed % (2 ** 32))
        km.fit(np.ascontiguousarray(zk, dtype=np.float32))
        self.start_labels_ = np.asarray(km.labels_, dtype=np.int32)
        if self.init_embedding == "raw":
            return np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
        # Mean raw embedding of each cluster found in the transformed space (an empty cluster,
        # which k-means does not leave, would keep a random sample as its centre).
        labels = self.start_labels_
        centers = np.empty((k, z.shape[1]), dtype=np.float64)
        for c in range(k):
            members = z[labels == c]
            centers[c] = members.mean(axis=0) if len(members) else z[(seed + c) % len(z)]
        return np.ascontiguousarray(centers, dtype=np.float32)

    def _target(self, q_full, it):
        """Target distribution (n, k) float32 of the DEC phase at mini-batch ``it``."""
        weight = 1.0 if it == 0 and self.first_target == "start" else float(self.start_weight)
        if weight == 0.0:
            return target_distribution(q_full)
        # One-hot start partition S (first target with first_target='start'; a share of every
        # target with start_weight > 0): the encoder learns to map each start cluster (found in
        # the init_embedding space) around its centre, which the nearest starting centre alone
        # does not reproduce, and start_weight keeps pulling it there.
        s = np.zeros_like(q_full)
        s[np.arange(q_full.shape[0]), self.start_labels_] = 1.0
        if weight == 1.0:
            return s
        return ((1.0 - weight) * target_distribution(q_full) + weight * s).astype(q_full.dtype, copy=False)

    def _log(self, msg):
        if self.verbose:
            print(msg, flush=True)

    def _pretrain(self, X, gen, history):
        import torch

        from ..nn._augment import corrupt
        from ..nn._guard import check_finite_loss

        n = X.shape[0]
        epochs = check_int(self.pretrain_epochs, "pretrain_epochs", lo=0)
        bs = check_int(self.batch_size, "batch_size", lo=1)
        n_val = int(round(float(self.validation_fraction) * n))
        n_val = min(n_val, n - 1)
        perm = torch.randperm(n, generator=gen).numpy()
        val_idx, train_idx = np.sort(perm[:n_val]), perm[n_val:]
        Xt = torch.from_numpy(X)
        model = self.model_
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        noise, level = self.noise, float(self.noise_level)
        best, best_state, best_epoch, waited = math.inf, None, -1, 0
        history["pretrain_epochs"] = 0
        for epoch in range(epochs):
            model.train()
            order = torch.from_numpy(train_idx)[torch.randperm(len(train_idx), generator=gen)]
            total = 0.0
            for s in range(0, len(order), bs):
                xb = Xt[order[s:s + bs]].to(self._device)
                if self._aug is not None:
                    xb = self._aug(xb, gen)  # reconstruct the augmented sample (DEC-DA)
                if noise is not None:
                    # Denoising AE: encode a corrupted copy, reconstruct the uncorrupted batch.
                    _, xh = model(corrupt(xb, noise, level, gen))
                else:
                    _, xh = model(xb)
                loss = torch.nn.functional.mse_loss(xh, xb)
                check_finite_loss(loss, f"DEC pretraining, epoch {epoch + 1}", lr=self.lr)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * xb.shape[0]
            history["pretrain_loss"].append(total / len(order))
            history["pretrain_epochs"] = epoch + 1
            if n_val == 0:
                continue
            model.eval()
            with torch.no_grad():
                vl = 0.0
                for s in range(0, n_val, bs):
                    xb = Xt[torch.from_numpy(val_idx[s:s + bs])].to(self._device)
                    vl += float(torch.nn.functional.mse_loss(model(xb)[1], xb, reduction="sum"))
                vl /= n_val * int(np.prod(self.input_shape_))
            history["val_loss"].append(vl)
            self._log(f"pretrain epoch {epoch + 1}: train {history['pretrain_loss'][-1]:.5g} val {vl:.5g}")
            if vl < best:
                best, best_epoch, waited = vl, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        history["best_epoch"] = best_epoch + 1 if best_state is not None else history["pretrain_epochs"]

    def _dec(self, X, gen, history):
        import torch

        from ..nn._guard import check_finite_loss
        from ._student_t import kl_loss

        n = X.shape[0]
        bs = check_int(self.batch_size, "batch_size", lo=1)
        max_iter = check_int(self.max_iter, "max_iter", lo=0)
        interval = check_int(self.update_interval, "update_interval", lo=1)
        tol, gamma, alpha = float(self.tol), float(self.gamma), check_alpha(self.alpha)
        model = self.model_
        on_cpu = self._device.type == "cpu"
        if on_cpu:
            from ._student_t_torch import StudentTAssignment

            layer = StudentTAssignment(self.cluster_centers_.shape[0], self.cluster_centers_.shape[1], alpha,
                                       init=self.cluster_centers_, dtype=torch.float32)
        else:
            layer = torch.nn.Module()
            layer.cluster_centers = torch.nn.Parameter(torch.from_numpy(self.cluster_centers_.copy()).to(self._device))
        params = list(model.parameters()) + list(layer.parameters())
        lr = float(self.lr if self.dec_lr is None else self.dec_lr)
        steps = {"lr": self.lr} if self.dec_lr is None else {"dec_lr": self.dec_lr}  # named by the guard
        if self.dec_optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
        else:
            opt = torch.optim.Adam(params, lr=lr)
        Xt = torch.from_numpy(X)
        order = torch.randperm(n, generator=gen)
        pos = 0
        p_full = prev = None
        kl_sum, kl_count = 0.0, 0
        it = 0
        for it in range(max_iter + 1):
            if it % interval == 0 or it == max_iter:
                # Target distribution from the soft assignment of the WHOLE data set, held
                # fixed for the next `interval` batches (Xie et al. 2016). The public
                # zClust/RISCluster code recomputes it on every mini-batch (f_k summed over
                # the batch only) and ignores its update_interval; we do not.
                self.cluster_centers_ = layer.cluster_centers.detach().cpu().numpy().astype(np.float32, copy=True)
                emb = self._embed(X)
                check_finite_loss(torch.from_numpy(np.asarray(emb)), f"DEC clustering, iteration {it}",
                                  "embedding", **steps)
                q_full = self._soft(emb)
                labels = np.argmax(q_full, axis=1).astype(np.int32)
                if kl_count:
                    history["kl_loss"].append(kl_sum / kl_count)
                    kl_sum, kl_count = 0.0, 0
                if prev is not None:
                    delta = float(np.mean(labels != prev))
                    history["delta_label"].append(delta)
                    self._log(f"DEC iter {it}: {delta:.4%} labels changed, KL {history['kl_loss'][-1]:.5g}")
                    if delta < tol:
                        break
                if it == max_iter:
                    break
                prev = labels
                p_full = torch.from_numpy(self._target(q_full, it))
                history["target_updates"].append(it)
            if pos + bs > n and pos > 0:  # next epoch over a fresh permutation
                order = torch.randperm(n, generator=gen)
                pos = 0
            idx = order[pos:pos + bs]
            pos += bs
            model.train()
            xb = Xt[idx].to(self._device)
            if self._aug is not None and self.augment_clustering:
                # q of the shifted sample against p of its clean original (p_full[idx]).
                xb = self._aug(xb, gen)
            if gamma > 0:
                z, xh = model(xb)
            else:
                z, xh = model.encode(xb), None
            check_finite_loss(z, f"DEC clustering, iteration {it + 1}", "embedding", **steps)
            if on_cpu:
                q = layer(z)
            else:
                q = _student_t_torch(z, layer.cluster_centers, alpha)
            loss = kl_loss(p_full[idx].to(q.device), q, reduction="batchmean")
            kl_sum += float(loss.detach())
            kl_count += 1
            if xh is not None:
                loss = loss + gamma * torch.nn.functional.mse_loss(xh, xb)
            check_finite_loss(loss, f"DEC clustering, iteration {it + 1}", **steps)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.n_iter_ = it
        self.labels_ = labels
        model.eval()

    # ---- use ----------------------------------------------------------------------------------
    def transform(self, X):
        """Embeddings of X: float32 array (n_samples, latent_dim)."""
        return self._embed(self._check_new(X))

    def predict_proba(self, X):
        """Student-t soft assignment of X to the fitted centres: float32 (n_samples, n_clusters)."""
        return self._soft(self.transform(X))

    def predict(self, X):
        """Cluster of each sample of X (argmax of the soft assignment): int32 (n_samples,)."""
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int32)

    def fit_predict(self, X, y=None):
        """fit(X) and return ``labels_``."""
        return self.fit(X).labels_

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path):
        """Write parameters, weights, centres and results to ``path`` (``torch.save``)."""
        import torch

        self._check_fitted()
        params = self.get_params()
        if not (params["random_state"] is None or isinstance(params["random_state"], numbers.Integral)):
            params["random_state"] = None  # RandomState objects are not stored
        params["channels"] = list(params["channels"])
        params["hidden"] = list(params["hidden"])
        params["device"] = str(params["device"])
        if callable(params["augment"]):
            params["augment"] = None  # functions are not stored; prediction does not augment
        if not isinstance(params["max_shift"], numbers.Real):
            params["max_shift"] = list(params["max_shift"])
        state = {
            "format": _FORMAT, "version": _FORMAT_VERSION, "params": params, "architecture": self._arch,
            "input_shape": list(self.input_shape_),
            "model": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
            "cluster_centers": torch.from_numpy(self.cluster_centers_.copy()),
            "labels": torch.from_numpy(self.labels_.astype(np.int64)),
            "start_labels": torch.from_numpy(self.start_labels_.astype(np.int64)),
            "n_iter": int(self.n_iter_), "history": self.history_,
        }
        torch.save(state, path)

    @classmethod
    def load(cls, path, device=None):
        """Rebuild a fitted estimator written by :meth:`save` (``predict`` gives the same labels)."""
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path!r} is not a file written by DEC.save")
        if state["version"] > _FORMAT_VERSION:
            raise ValueError(f"{path!r} has format version {state['version']}; this scatclust reads <= "
                             f"{_FORMAT_VERSION}")
        params = dict(state["params"])
        if device is not None:
            params["device"] = device
        params["channels"] = tuple(params["channels"])
        params["hidden"] = tuple(params["hidden"])
        if isinstance(params.get("max_shift"), list):
            params["max_shift"] = tuple(params["max_shift"])
        est = cls(**params)
        est._arch = state["architecture"]
        est._device = torch.device(est.device)
        est.input_shape_ = tuple(state["input_shape"])
        est.model_ = est._build(est._arch, est.input_shape_)
        est.model_.load_state_dict(state["model"])
        est.model_.to(est._device).eval()
        est.cluster_centers_ = state["cluster_centers"].numpy().astype(np.float32)
        est.labels_ = state["labels"].numpy().astype(np.int32)
        start = state.get("start_labels")  # absent in files written before it was stored
        est.start_labels_ = None if start is None else start.numpy().astype(np.int32)
        est.n_iter_ = int(state["n_iter"])
        est.history_ = state["history"]
        return est
