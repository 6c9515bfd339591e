"""scikit-learn-style estimator around :class:`FactorialVAE`: normalisation, training with
checkpoints and resume, and the cluster read-out."""
from __future__ import annotations

import hashlib
import inspect
import numbers
import os
import sys
import tempfile

import numpy as np
import torch

from .._array import as_real_numpy
from ..nn._gumbel import TemperatureSchedule
from ..nn._guard import check_finite_loss
from ._fvae import _OBS_VAR, FactorialVAE, check_feature_weights

__all__ = ["FVAEClustering"]

_FORMAT = "scatclust.FVAEClustering/1"
# Parameters that may differ between a checkpoint and the estimator that resumes it.
_RESUMABLE = ("epochs", "verbose", "device")
# Saved in the checkpoint (``load`` restores it) but free to differ when resuming: it only
# changes the read-out, not the training.
_READOUT_ONLY = ("readout",)
_READOUTS = ("encoder", "mixture")
# Values that checkpoints written before a parameter existed were trained with (where that
# differs from the parameter's default): resuming or loading them keeps the old training.
_LEGACY = {"grad_clip": None}
# Smallest prior variance of a cluster from ``init``, relative to the variance of all windows'
# latents in that dimension (see ``_init_mixture``).
_VAR_FLOOR = 1e-4


class FVAEClustering:
    """Cluster windows at every scale with a factorial Gaussian-mixture VAE.

    Parameters
    ----------
    n_clusters : int or sequence of int
        Clusters per scale (default 8).
    latent_dim : int
        Latent dimension per scale (default 8).
    hidden : sequence of int
        Encoder trunk widths, mirrored by the decoders (default (128, 64)).
    epochs : int
        Passes over the data (default 50). A resumed fit trains up to this many epochs.
    batch_size : int
        Windows per optimisation step (default 256).
    lr : float
        Adam learning rate (default 1e-3).
    grad_clip : float or None
        Largest norm of the gradient (all parameters together) per step; a larger one is scaled
        down to it before the Adam step (default 10; None: no clipping). Without it, fits on
        long records with heavy-tailed features (the 24-hour Mars-like record, whose glitch
        windows reach 57 standard deviations) diverged to NaN during pretraining: a few
        batches' steps grew the trunk's activations and the posterior log-variances until
        exp overflowed (bench/RESULTS.md). A loss that is not finite stops the fit with a
        ``FloatingPointError`` naming the epoch and these two parameters.
    tau0, tau_min, anneal_rate : float
        Gumbel-softmax temperature schedule per step
        ``max(tau_min, tau0 exp(-anneal_rate step))`` (defaults 1, 0.5, 3e-3).
    hard : bool
        Straight-through (one-hot forward) Gumbel-softmax samples (default False).
    n_init : int
        Independent trainings (different initialisations, batch orders and noise); the one
        with the highest evidence lower bound on the training data is kept (default 1).
        An unsupervised choice: the ELBO is computed with the same noise draws for every
        restart (``elbo_``). Checkpoints need ``n_init=1``.
    learn_weights : bool
        Learn the mixture weights p(y_s) instead of the uniform prior (default False; see
        :class:`FactorialVAE`): lets a rare class keep its own cluster.
    w_rec, w_z, w_y : float
        Weights of the reconstruction NLL, KL(z|y) and KL(y || uniform) (default 1: the
        ELBO).
    init : {'random', 'kmeans', 'gmm', 'kmeans-input'}
        Start of the mixture prior (default 'random': means N(0, 1), log-variances 0).
        'kmeans' and 'gmm' initialise it from the data (the VaDE recipe, Jiang et al. 2017):
        after the ``pretrain_epochs`` epochs with the cluster part off (see below), the z heads
        are made independent of y (the y columns of their weights set to their mean), the
        latent means m_s of the training windows are clustered per scale, with
        :class:`scatclust.cluster.KMeans` (k-means++, 10 inits) or a diagonal
        ``sklearn.mixture.GaussianMixture`` (scikit-learn needed; 3 inits), and each
        cluster's prior mean is set to the cluster's mean of m_s and its log-variance to
        log(variance of m_s in the cluster + mean posterior variance exp(v_s) there), floored
        per dimension at 1e-4 times that quantity over all windows (a one-window cluster would
        otherwise get a variance of ~0 and a KL term of up to ~1e14 at the first step);
        mixture weights (``learn_weights=True``) to the log cluster fractions. The y head is
        then fitted (L-BFGS, trunk fixed) to the responsibilities that this prior gives the
        latent means, so that q(y|x) starts in agreement with it. On the Mars benchmark's
        tuning records (bench/RESULTS.md) 'kmeans' with 30 of 100 epochs of pretraining was
        better than 'random' at three of four scales and for the long sources; 'gmm' was
        worse than both.
        'kmeans-input' takes the partition from k-means (same settings) on the normalised
        input features of each scale instead of the latent means (with ``feature_weights``,
        on the inputs scaled by sqrt(weight), so that k-means' squared distance weighs the
        features as the reconstruction loss does); the prior is set from the latent means of
        those clusters as above, and the y head is fitted to the partition itself (one-hot,
        smoothed to 0.95 + 0.05 / K so that the logits stay finite). The pretrained latent
        can lose information that the input features carry (bench/RESULTS.md: on the Mars
        tuning records the donks); this start keeps it for the first mixture epoch, and the
        training then refines or leaves it.
    pretrain_epochs : int
        Epochs, out of ``epochs``, of training with the cluster part off before the mixture
        phase (default 0): each scale is a VAE with y fixed to uniform and the prior N(0, I)
        (:meth:`FactorialVAE.pretrain_loss` with weights ``w_rec`` and ``pretrain_w_z``).
        The Gumbel temperature schedule starts with the mixture phase. With ``init`` not
        'random' the prior is initialised at the end of this phase (at the start when 0), so ``epochs == pretrain_epochs`` returns the
        initialised model (``epochs < pretrain_epochs`` stops during the pretraining, e.g.
        to resume it from a checkpoint later).
    pretrain_w_z : float
        Weight of KL(q(z|x) || N(0, I)) in the pretraining loss (default 0.01: close to a
        plain autoencoder, as VaDE pretrains; with 1, the full VAE, the k-means start was
        worse on the benchmark's tuning records).
    obs_var : {'learned', 'scale', 'fixed'}
        Observation variance of the decoder (:class:`FactorialVAE`): learned per scale and
        feature (default), one learned per scale, or fixed at 1 on the standardised features
        (the reconstruction term is then half the squared error, each feature weighted
        equally as in k-means; a learned per-feature variance instead weights feature f by
        1 / its reconstruction error).
    feature_weights : array_like (n_features,) or (n_scales, n_features), optional
        Weights >= 0 of the features in the reconstruction NLL (default None: all 1); a weight
        W counts a feature like W copies of it (exactly, for the loss) without the extra
        inputs. Stored in the checkpoint.
    readout : {'encoder', 'mixture'}
        Cluster read-out of ``predict``, ``predict_proba``, ``labels_`` etc.: 'encoder'
        (default) q(y_s | x_s), the y head; 'mixture' the mixture prior's responsibilities
        p(y_s | z_s) at z_s = E[z_s] (``transform``'s latent means; VaDE's read-out,
        :meth:`FactorialVAE.mixture_proba`). Training does not depend on it, so it may be
        changed after ``fit`` with ``set_params``.
    start_weight : float
        Weight (>= 0, default 0) of a term anchoring the mixture phase to the start partition
        of ``init`` (not 'random'): the loss gains start_weight x sum_s of the batch mean of
        the cross-entropy -log q(y_s = c_s | x_s), c_s the window's start cluster
        (``start_labels_``). The counterpart of :class:`scatclust.cluster.DEC`'s
        ``start_weight``: with 'kmeans-input' the mixture phase otherwise re-partitions input
        clusters that are not Gaussian in the latent (bench/RESULTS.md). The partition is
        stored in the checkpoint.
    device : str
        'cpu' (default), 'cuda' (error when unavailable) or 'auto' (cuda when available).
    random_state : int, optional
        Seed of the initialisation, the batch order and the Gumbel/Gaussian noise; the same
        seed and data give the same weights.
    verbose : bool
        Progress: a tqdm bar if tqdm is installed, else one line per epoch on stderr.

    Attributes
    ----------
    model_ : FactorialVAE
    mean_, std_ : ndarray (n_scales, n_features) float64
        Normalisation statistics of the training data. They are stored in the checkpoint
        and reused for every later ``predict``: the public code of the paper recomputes
        them from whatever subset is loaded at inference, so the same window gets
        different inputs (and possibly labels) depending on its companions.
    labels_, proba_, confidence_ : per-scale read-out of the training data (see ``predict``).
    start_labels_ : ndarray (n_windows, n_scales) int64 or None
        The start partition of ``init`` (the clusters that set the mixture prior; None with
        'random' or before the initialisation epoch), of the kept restart.
    history_ : list of float
        Mean training loss per epoch (of the kept restart; the pretraining loss for the
        first ``pretrain_epochs``).
    elbo_ : float
        Evidence lower bound per window (weighted as the loss) of the kept model on the
        training data, at the final temperature, with fixed noise draws.
    elbos_ : list of float
        ``elbo_`` of every restart.
    restart_labels_ : list of ndarray (n_windows, n_scales) int64
        Training-data labels of every restart (``readout`` at fit time), e.g. to check
        whether the ELBO ranks the restarts as an external score does.

    Examples
    --------
    >>> import numpy as np
    >>> from scatclust.models import FVAEClustering
    >>> X = np.random.default_rng(0).standard_normal((200, 2, 5))
    >>> est = FVAEClustering(n_clusters=2, latent_dim=2, hidden=(16,), epochs=2, random_state=0).fit(X)
    >>> est.predict(X).shape
    (200, 2)
    """

    def __init__(self, n_clusters=8, *, latent_dim=8, hidden=(128, 64), epochs=50, batch_size=256, lr=1e-3,
                 grad_clip=10.0, tau0=1.0, tau_min=0.5, anneal_rate=3e-3, hard=False, w_rec=1.0, w_z=1.0, w_y=1.0,
                 device="cpu", random_state=None, verbose=False, n_init=1, learn_weights=False, init="random",
                 pretrain_epochs=0, pretrain_w_z=0.01, obs_var="learned", feature_weights=None, readout="encoder",
                 start_weight=0.0):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.grad_clip = grad_clip
        self.tau0 = tau0
        self.tau_min = tau_min
        self.anneal_rate = anneal_rate
        self.hard = hard
        self.w_rec = w_rec
        self.w_z = w_z
        self.w_y = w_y
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.n_init = n_init
        self.learn_weights = learn_weights
        self.init = init
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_w_z = pretrain_w_z
        self.obs_var = obs_var
        self.feature_weights = feature_weights
        self.start_weight = start_weight
        self.readout = readout

    # ------------------------------------------------------------------ params
    def get_params(self, deep=True):
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for FVAEClustering; valid ones are {sorted(valid)}")
            setattr(self, k, v)
        return self

    def _validate_params(self):
        for name in ("epochs", "batch_size", "n_init"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name}={v!r} must be an int >= 1")
        for name in ("lr", "w_rec", "w_z", "w_y", "pretrain_w_z"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise ValueError(f"{name}={v!r} must be a finite number >= 0")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be > 0")
        gc = self.grad_clip
        if gc is not None and (isinstance(gc, bool) or not isinstance(gc, numbers.Real) or not np.isfinite(gc)
                               or gc <= 0):
            raise ValueError(f"grad_clip={gc!r} must be None (no clipping) or a finite number > 0")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, numbers.Integral) or rs < 0):
            raise ValueError(f"random_state={rs!r} must be None or an int >= 0")
        if self.init not in ("random", "kmeans", "gmm", "kmeans-input"):
            raise ValueError(f"init={self.init!r} must be 'random', 'kmeans', 'gmm' or 'kmeans-input'")
        pe = self.pretrain_epochs
        if isinstance(pe, bool) or not isinstance(pe, numbers.Integral) or pe < 0:
            raise ValueError(f"pretrain_epochs={pe!r} must be an int >= 0 (pretraining epochs, counted in epochs)")
        if self.obs_var not in _OBS_VAR:
            raise ValueError(f"obs_var={self.obs_var!r} must be one of {_OBS_VAR}")
        sw = self.start_weight
        if isinstance(sw, bool) or not isinstance(sw, numbers.Real) or not np.isfinite(sw) or sw < 0:
            raise ValueError(f"start_weight={sw!r} must be a finite number >= 0")
        if sw > 0 and self.init == "random":
            raise ValueError(f"start_weight={sw!r} needs a start partition: use init='kmeans', 'gmm' or "
                             f"'kmeans-input' (init='random' has none), or start_weight=0")
        if self.readout not in _READOUTS:
            raise ValueError(f"readout={self.readout!r} must be one of {_READOUTS} (q(y|x) or the mixture "
                             f"prior's p(y|z))")
        TemperatureSchedule(self.tau0, self.tau_min, self.anneal_rate)  # validates
        return self._resolve_device(self.device)

    @staticmethod
    def _resolve_device(device):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if device not in ("cpu", "cuda") and not (isinstance(device, str) and device.startswith("cuda:")):
            raise ValueError(f"device={device!r} must be 'cpu', 'cuda', 'cuda:N' or 'auto'")
        if device != "cpu" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but torch.cuda.is_available() is False; use device='cpu' "
                             f"or 'auto'")
        return torch.device(device)

    def _config(self):
        """Parameters a checkpoint must agree on (primitives only, for torch.load(weights_only=True))."""
        p = self.get_params()
        p["hidden"] = [int(h) for h in p["hidden"]]
        if not isinstance(p["n_clusters"], numbers.Integral):
            p["n_clusters"] = [int(k) for k in p["n_clusters"]]
        if p["feature_weights"] is not None:  # nested lists of floats: exact, and loadable with weights_only
            w = p["feature_weights"]
            w = w.detach().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
            p["feature_weights"] = w.astype(np.float64).tolist()
        return {k: v for k, v in p.items() if k not in _RESUMABLE}

    # ------------------------------------------------------------------ data
    @staticmethod
    def _check_X(X, name="X"):
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu()
        X, _ = as_real_numpy(X, name)  # the package's one real-input conversion (dtype, complex checks)
        if X.ndim != 3:
            raise ValueError(f"{name}.shape={X.shape} must be (n_windows, n_scales, n_features), e.g. "
                             f"ScatteringPyramid(..., as_real=True).transform(x).features")
        if X.shape[0] < 1:
            raise ValueError(f"{name}.shape={X.shape} has no windows")
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or inf values")
        # C order whatever the caller's layout (ScatteringPyramid features have the feature axis
        # outermost): the float32 products sum in a layout-dependent order, and equal values must
        # give equal fits (bench/RESULTS.md, "Reproducibility between processes").
        return np.ascontiguousarray(X)

    def _normalise(self, X):
        self._check_fitted()
        X = self._check_X(X)
        if X.shape[1:] != self.mean_.shape:
            raise ValueError(f"X.shape={X.shape} does not match the fitted (n_scales, n_features)="
                             f"{self.mean_.shape}")
        return torch.from_numpy(((X - self.mean_) / self.std_).astype(np.float32))

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("this FVAEClustering is not fitted yet; call fit(X) or FVAEClustering.load(path)")

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, *, checkpoint=None):
        """Train on windows X (n_windows, n_scales, n_features).

        Parameters
        ----------
        X : array_like or torch.Tensor
            E.g. ``ScatteringPyramid(..., as_real=True).transform(x).features``.
        y : ignored
        checkpoint : str or os.PathLike, optional
            File written (atomically: a temporary file in the same folder, then
            ``os.replace``) after every epoch with the weights, optimiser and random-number
            states, normalisation statistics and history. If it exists, training resumes
            after its last epoch; resuming gives the same weights as an uninterrupted run.
            The checkpoint must come from the same parameters (``epochs``, ``verbose`` and
            ``device`` may differ) and the same data.

        Returns
        -------
        self
        """
        device = self._validate_params()
        X = self._check_X(X)
        n, S, F = X.shape
        check_feature_weights(self.feature_weights, S, F)  # validates against X before any work
        if self.n_init > 1 and checkpoint is not None:
            raise ValueError(f"checkpoint={str(checkpoint)!r} needs n_init=1 (got n_init={self.n_init}); "
                             f"restarts are not checkpointed")
        digest = hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest()
        state = None
        if checkpoint is not None and os.path.exists(checkpoint):
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            if state.get("format") != _FORMAT:
                raise ValueError(f"checkpoint={str(checkpoint)!r} is not an FVAEClustering checkpoint")
            defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
            for k, v in self._config().items():
                if k in _READOUT_ONLY:
                    continue
                # parameters added after a checkpoint was written take their default
                old = state["config"].get(k, _LEGACY.get(k, defaults.get(k)))
                if old != v:
                    raise ValueError(f"checkpoint={str(checkpoint)!r} was made with {k}={old!r}, "
                                     f"this estimator has {k}={v!r}")
            if state["data_sha256"] != digest:
                raise ValueError(f"checkpoint={str(checkpoint)!r} was trained on other data than X "
                                 f"(shape {X.shape}); use a new checkpoint path")
        if state is None:
            mean = X.mean(axis=0, dtype=np.float64)
            std = X.std(axis=0, dtype=np.float64)
            # constant features: divide by 1 instead of 0
            std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        else:
            mean, std = state["mean"].numpy(), state["std"].numpy()
        self.mean_, self.std_ = mean, std
        seed = self.random_state
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        # Restart 0 uses the seed itself (n_init=1 reproduces earlier versions' weights).
        seeds = [seed] + [int(np.random.SeedSequence([seed, r]).generate_state(1)[0]) for r in range(1, self.n_init)]
        Xn = torch.from_numpy(((X - mean) / std).astype(np.float32))
        best, elbos, restart_labels = None, [], []
        for r, sd in enumerate(seeds):
            self.start_labels_ = None  # set by the init of this restart (or read from the checkpoint)
            model, history = self._train(Xn, S, F, sd, device, state, checkpoint, digest)
            elbo = self._elbo(model, Xn, device)
            elbos.append(elbo)
            restart_labels.append(np.stack([p.argmax(1) for p in self._readout(Xn)[0]], 1))  # self.model_ is model
            if best is None or elbo > best[0]:
                best = (elbo, model, history, self.start_labels_)
        self.elbo_, self.model_, history, self.start_labels_ = best
        self.elbos_ = elbos
        self.restart_labels_ = restart_labels
        self.history_ = history
        self.n_epochs_ = len(history)
        self.model_.eval()
        self.proba_, self.z_mean_ = self._readout(Xn)
        self.labels_ = np.stack([p.argmax(1) for p in self.proba_], 1)
        self.confidence_ = np.stack([p.max(1) for p in self.proba_], 1)
        return self

    def _train(self, Xn, S, F, seed, device, state, checkpoint, digest):
        """One training run from ``seed`` (or resumed from ``state``): (model, history)."""
        n = Xn.shape[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._model(F, S)
        gen = torch.Generator().manual_seed(seed + 1)
        model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        epoch, step, history = 0, 0, []
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            epoch, step, history = state["epoch"], state["step"], list(state["history"])
            start = state.get("start_labels")
            self.start_labels_ = None if start is None else start.numpy()
        self.model_ = model  # _save reads it
        schedule = TemperatureSchedule(self.tau0, self.tau_min, self.anneal_rate)
        pre, pre_steps = self.pretrain_epochs, self.pretrain_epochs * -(-n // self.batch_size)
        tau = lambda: schedule(max(0, step - pre_steps))  # noqa: E731 - the schedule starts with the mixture phase
        bar = _progress(self.verbose, self.epochs, epoch)
        if self.init != "random" and pre == 0 and epoch == 0:
            self._init_mixture(model, Xn, seed, device)
        model.train()
        for epoch in range(epoch, self.epochs):
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for lo in range(0, n, self.batch_size):
                xb = Xn[perm[lo:lo + self.batch_size]].to(device)
                if epoch < pre:
                    loss = model.pretrain_loss(xb, generator=gen, w_rec=self.w_rec, w_z=self.pretrain_w_z)
                else:
                    loss = self._mixture_loss(model, xb, perm[lo:lo + self.batch_size], tau(), gen)
                phase = "pretraining" if epoch < pre else "mixture phase"
                check_finite_loss(loss, f"FVAEClustering epoch {epoch + 1} ({phase}, step {step + 1})",
                                  lr=self.lr, grad_clip=self.grad_clip)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
                opt.step()
                step += 1
                total += float(loss.detach()) * xb.shape[0]
            history.append(total / n)
            if self.init != "random" and epoch + 1 == pre:
                self._init_mixture(model, Xn, seed, device)
                model.train()
            bar(epoch + 1, history[-1], tau())
            if checkpoint is not None:
                self._save(checkpoint, opt=opt, gen=gen, epoch=epoch + 1, step=step, history=history,
                           digest=digest)
        bar(None, None, None)
        self._final_tau = tau()
        model.eval()
        return model, history

    def _mixture_loss(self, model, xb, idx, tau, gen):
        """Loss of one mixture-phase batch xb (windows ``idx`` of the training data): the
        weighted negative ELBO, plus ``start_weight`` x sum over scales of the mean
        cross-entropy of q(y_s | x_s) to the start partition."""
        out = model(xb, tau, hard=self.hard, generator=gen, w_rec=self.w_rec, w_z=self.w_z, w_y=self.w_y)
        loss = out["loss"]["total"]
        if self.start_weight > 0:
            sb = torch.from_numpy(self.start_labels_)[idx].to(xb.device)
            loss = loss + self.start_weight * sum(torch.nn.functional.cross_entropy(lg, sb[:, s])
                                                  for s, lg in enumerate(out["logits"]))
        return loss

    def _model(self, F, S):
        return FactorialVAE(F, S, self.n_clusters, self.latent_dim, tuple(self.hidden),
                            learn_weights=bool(self.learn_weights), obs_var=self.obs_var,
                            feature_weights=self.feature_weights)

    @torch.no_grad()
    def _init_mixture(self, model, Xn, seed, device):
        """Data-driven start of the mixture prior and the y heads (``init``; see the class docs)."""
        model.eval()
        for head, K in zip(model.z_heads, model.n_clusters):
            # z heads independent of y: for y on the simplex W_y y = mean column when all columns are equal
            Wy = head.weight[:, -K:]
            Wy.copy_(Wy.mean(1, keepdim=True).expand_as(Wy))
        hs, ms, vs = [], [], []
        for lo in range(0, Xn.shape[0], 4096):
            h = model.trunk(Xn[lo:lo + 4096].to(device))
            hs.append(h)
            mv = [model.z_posterior(h, s, torch.full((h.shape[0], K), 1.0 / K, dtype=h.dtype, device=h.device))
                  for s, K in enumerate(model.n_clusters)]
            ms.append(torch.stack([m for m, _ in mv], 1))
            vs.append(torch.stack([v for _, v in mv], 1))
        h, m, v = torch.cat(hs), torch.cat(ms), torch.cat(vs)
        for t, what in ((h, "trunk output"), (m, "latent mean"), (v, "latent log-variance")):
            check_finite_loss(t, "FVAEClustering pretraining (at the mixture initialisation)", what, lr=self.lr,
                              grad_clip=self.grad_clip)
        starts = []
        # 'kmeans-input': k-means' squared distance weighted like the NLL (inputs scaled by sqrt(w))
        w = check_feature_weights(self.feature_weights, Xn.shape[1], Xn.shape[2])
        for s, K in enumerate(model.n_clusters):
            Z = m[:, s].double().cpu().numpy()
            rs = int(np.random.SeedSequence([seed, 7, s]).generate_state(1)[0])
            if self.init in ("kmeans", "kmeans-input"):
                from ..cluster import KMeans

                if self.init == "kmeans-input":
                    Z = Xn[:, s].double().cpu().numpy()
                    if w is not None:
                        Z = Z * np.sqrt(w[s])
                labels = KMeans(K, n_init=10, random_state=rs, n_threads=1).fit(np.ascontiguousarray(Z)).labels_
            else:
                from sklearn.mixture import GaussianMixture

                labels = GaussianMixture(K, covariance_type="diag", n_init=3, random_state=rs).fit(Z).predict(Z)
            labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=m.device)
            starts.append(labels.cpu())
            # cluster statistics in float64, the variance about the cluster mean (no E[m^2] - mu^2 cancellation)
            ms, vs = m[:, s].double(), v[:, s].double()
            onehot = torch.nn.functional.one_hot(labels, K).double()  # (n, K); an empty cluster keeps its start
            cnt = onehot.sum(0)
            full = cnt > 0
            mu = (onehot.T @ ms) / cnt.clamp(min=1)[:, None]
            var = (onehot.T @ (ms - mu[labels]) ** 2) / cnt.clamp(min=1)[:, None]
            pv = (onehot.T @ torch.exp(vs)) / cnt.clamp(min=1)[:, None]
            # Variance floor: a cluster of one window (or of identical latent means) has var = 0, and
            # its pv can be ~exp(-30) (an outlier's posterior after pretraining with a small w_z); such
            # a prior gives KL_z ~ 1e14 to any window whose relaxed y~ puts weight on it.
            total = ms.var(0, unbiased=False) + torch.exp(vs).mean(0)  # the one-cluster prior's variance
            lv = torch.log(torch.maximum(var + pv, _VAR_FLOOR * total))
            model.prior_mean[s][full] = mu[full].to(model.prior_mean[s].dtype)
            model.prior_logvar[s][full] = lv[full].to(model.prior_logvar[s].dtype)
            log_w = torch.log(cnt.clamp(min=1) / cnt.sum()).to(m.dtype)
            if model.learn_weights:
                model.prior_logits[s].copy_(log_w)
            # the y head's target: the responsibilities of the latent means under this prior, or with
            # 'kmeans-input' the input-space partition itself (smoothed: finite logits)
            target = (0.95 * onehot.to(m.dtype) + 0.05 / K if self.init == "kmeans-input"
                      else model.mixture_proba(m[:, s], s))
            self._fit_head(model.y_heads[s], h[:, s], target)
        self.start_labels_ = torch.stack(starts, 1).numpy()  # (n, S) start partition (``start_weight``)

    @staticmethod
    def _fit_head(head, h, target, iters=100):
        """Fit a linear head to soft targets by cross-entropy (full batch, L-BFGS: deterministic)."""
        opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = -(target * torch.log_softmax(head(h), dim=1)).sum(1).mean()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)

    @torch.no_grad()
    def _elbo(self, model, Xn, device, batch=4096):
        """Weighted ELBO per window on Xn at the final temperature, with noise from a fixed
        seed (the same draws for every restart, so that restarts are compared fairly)."""
        gen = torch.Generator().manual_seed(12345)
        total = 0.0
        for lo in range(0, Xn.shape[0], batch):
            xb = Xn[lo:lo + batch].to(device)
            out = model(xb, self._final_tau, hard=self.hard, generator=gen, w_rec=self.w_rec,
                        w_z=self.w_z, w_y=self.w_y)
            total += float(out["loss"]["total"]) * xb.shape[0]
        return -total / Xn.shape[0]

    def _save(self, path, *, opt, gen, epoch, step, history, digest):
        path = os.fspath(path)
        state = {"format": _FORMAT, "config": self._config(), "model": self.model_.state_dict(),
                 "optimizer": opt.state_dict(), "generator": gen.get_state(), "epoch": epoch, "step": step,
                 "history": [float(h) for h in history], "mean": torch.from_numpy(self.mean_),
                 "std": torch.from_numpy(self.std_), "data_sha256": digest,
                 "shape": list(self.mean_.shape)}
        if getattr(self, "start_labels_", None) is not None:  # set by the init; start_weight needs it on resume
            state["start_labels"] = torch.from_numpy(self.start_labels_)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".fvae-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
            os.replace(tmp, path)  # atomic: a crash leaves the previous checkpoint intact
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Estimator (fitted, ready to ``predict``) from a checkpoint written by ``fit``."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"path={str(path)!r} is not an FVAEClustering checkpoint")
        cfg = {**{k: v for k, v in _LEGACY.items() if k not in state["config"]}, **state["config"]}
        est = cls(**cfg, epochs=max(1, state["epoch"]), device=device)
        dev = est._validate_params()
        S, F = state["shape"]
        est.model_ = est._model(F, S)
        est.model_.load_state_dict(state["model"])
        est.model_.to(dev).eval()
        est.mean_, est.std_ = state["mean"].numpy(), state["std"].numpy()
        est.history_ = list(state["history"])
        est.n_epochs_ = state["epoch"]
        start = state.get("start_labels")
        est.start_labels_ = None if start is None else start.numpy()
        return est

    # ------------------------------------------------------------------ read-out
    def _readout(self, Xn, batch=4096):
        dev = next(self.model_.parameters()).device
        probs, means = [], []
        self.model_.eval()
        for lo in range(0, Xn.shape[0], batch):
            p, m = self.model_.readout(Xn[lo:lo + batch].to(dev))
            if self.readout == "mixture":
                p = [self.model_.mixture_proba(z, s) for s, z in enumerate(m)]
            probs.append([t.cpu().numpy() for t in p])
            means.append([t.cpu().numpy() for t in m])
        S = self.model_.n_scales
        return ([np.concatenate([b[s] for b in probs]) for s in range(S)],
                [np.concatenate([b[s] for b in means]) for s in range(S)])

    def predict_proba(self, X):
        """q(y_s | x_s) (``readout='mixture'``: p(y_s | E[z_s])) per scale: a list of S arrays
        (n_windows, K_s) float32 (an array (n_windows, S, K) when every scale has the same K)."""
        probs, _ = self._readout(self._normalise(X))
        return np.stack(probs, 1) if len({p.shape[1] for p in probs}) == 1 else probs

    def predict(self, X):
        """Cluster per scale, argmax q(y_s | x_s) (or of the mixture's p(y_s | z_s), ``readout``):
        int64 (n_windows, n_scales)."""
        probs, _ = self._readout(self._normalise(X))
        return np.stack([p.argmax(1) for p in probs], 1)

    def confidence(self, X):
        """max_k q(y_s = k | x_s): float32 (n_windows, n_scales)."""
        probs, _ = self._readout(self._normalise(X))
        return np.stack([p.max(1) for p in probs], 1)

    def transform(self, X):
        """Latent means E[z_s] under q(z | x, y = q(y|x)): float32 (n_windows, n_scales, latent_dim)."""
        _, means = self._readout(self._normalise(X))
        return np.stack(means, 1)

    def _scale(self, scale, name="scale"):
        self._check_fitted()
        S = self.model_.n_scales
        if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or not -S <= scale < S:
            raise IndexError(f"{name}={scale!r} is out of range for n_scales={S} (use 0..{S - 1})")
        return int(scale) % S

    def _labels_conf(self, X):
        if X is None:
            if not hasattr(self, "labels_"):
                raise RuntimeError("no training read-out (estimator loaded from a checkpoint); pass X")
            return self.labels_, self.confidence_
        probs, _ = self._readout(self._normalise(X))
        return np.stack([p.argmax(1) for p in probs], 1), np.stack([p.max(1) for p in probs], 1)

    def sort_by_confidence(self, scale, X=None):
        """Window indices sorted by decreasing confidence at ``scale`` (stable; training data
        when X is None), and their labels.

        Returns
        -------
        order : int64 (n_windows,)
        labels : int64 (n_windows,) labels[order]
        confidence : float32 (n_windows,) confidence[order]
        """
        s = self._scale(scale)
        labels, conf = self._labels_conf(X)
        order = np.argsort(-conf[:, s], kind="stable")
        return order, labels[order, s], conf[order, s]

    def contingency(self, scale_a, scale_b, X=None):
        """Cross-scale contingency table: ``T[i, j]`` = windows in cluster i at ``scale_a``
        and cluster j at ``scale_b`` (int64, K_a x K_b; training data when X is None).

        With ``scale_a`` the smaller scale, a row with a single non-zero column says that
        small-scale cluster nests inside one large-scale cluster.
        """
        a, b = self._scale(scale_a, "scale_a"), self._scale(scale_b, "scale_b")
        labels, _ = self._labels_conf(X)
        ks = self.model_.n_clusters
        table = np.zeros((ks[a], ks[b]), dtype=np.int64)
        np.add.at(table, (labels[:, a], labels[:, b]), 1)
        return table

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        diff = {k: v for k, v in self.get_params().items()
                if not (v is defaults[k].default or (not isinstance(v, (np.ndarray, torch.Tensor))
                                                     and v == defaults[k].default))}
        return "FVAEClustering(" + ", ".join(f"{k}={v!r}" for k, v in diff.items()) + ")"


def _progress(verbose, total, initial):
    """Callback ``f(epoch, loss, tau)``; ``f(None, ...)`` closes. tqdm when installed."""
    if not verbose:
        return lambda *a: None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        def plain(epoch, loss, tau):
            if epoch is not None:
                print(f"FVAEClustering epoch {epoch}/{total}: loss {loss:.4f}, tau {tau:.3f}", file=sys.stderr,
                      flush=True)
        return plain
    bar = tqdm(total=total, initial=initial, desc="FVAEClustering", unit="epoch")

    def update(epoch, loss, tau):
        if epoch is None:
            bar.close()
        else:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", tau=f"{tau:.3f}")
    return update
