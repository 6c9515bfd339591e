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
from ._fvae import FactorialVAE

__all__ = ["FVAEClustering"]

_FORMAT = "scatclust.FVAEClustering/1"
# Parameters that may differ between a checkpoint and the estimator that resumes it.
_RESUMABLE = ("epochs", "verbose", "device")


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
    history_ : list of float
        Mean training loss per epoch (of the kept restart).
    elbo_ : float
        Evidence lower bound per window (weighted as the loss) of the kept model on the
        training data, at the final temperature, with fixed noise draws.
    elbos_ : list of float
        ``elbo_`` of every restart.

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
                 tau0=1.0, tau_min=0.5, anneal_rate=3e-3, hard=False, w_rec=1.0, w_z=1.0, w_y=1.0,
                 device="cpu", random_state=None, verbose=False, n_init=1, learn_weights=False):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
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
        for name in ("lr", "w_rec", "w_z", "w_y"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise ValueError(f"{name}={v!r} must be a finite number >= 0")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be > 0")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, numbers.Integral) or rs < 0):
            raise ValueError(f"random_state={rs!r} must be None or an int >= 0")
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
        return X

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
                # parameters added after a checkpoint was written take their default
                if state["config"].get(k, defaults.get(k)) != v:
                    raise ValueError(f"checkpoint={str(checkpoint)!r} was made with {k}={state['config'].get(k)!r}, "
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
        best, elbos = None, []
        for r, sd in enumerate(seeds):
            model, history = self._train(Xn, S, F, sd, device, state, checkpoint, digest)
            elbo = self._elbo(model, Xn, device)
            elbos.append(elbo)
            if best is None or elbo > best[0]:
                best = (elbo, model, history)
        self.elbo_, self.model_, history = best
        self.elbos_ = elbos
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
            model = FactorialVAE(F, S, self.n_clusters, self.latent_dim, tuple(self.hidden),
                                 learn_weights=bool(self.learn_weights))
        gen = torch.Generator().manual_seed(seed + 1)
        model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        epoch, step, history = 0, 0, []
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            epoch, step, history = state["epoch"], state["step"], list(state["history"])
        self.model_ = model  # _save reads it
        schedule = TemperatureSchedule(self.tau0, self.tau_min, self.anneal_rate)
        bar = _progress(self.verbose, self.epochs, epoch)
        model.train()
        for epoch in range(epoch, self.epochs):
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for lo in range(0, n, self.batch_size):
                xb = Xn[perm[lo:lo + self.batch_size]].to(device)
                out = model(xb, schedule(step), hard=self.hard, generator=gen, w_rec=self.w_rec,
                            w_z=self.w_z, w_y=self.w_y)
                opt.zero_grad(set_to_none=True)
                out["loss"]["total"].backward()
                opt.step()
                step += 1
                total += float(out["loss"]["total"].detach()) * xb.shape[0]
            history.append(total / n)
            bar(epoch + 1, history[-1], schedule(step))
            if checkpoint is not None:
                self._save(checkpoint, opt=opt, gen=gen, epoch=epoch + 1, step=step, history=history,
                           digest=digest)
        bar(None, None, None)
        self._final_tau = schedule(step)
        model.eval()
        return model, history

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
        cfg = dict(state["config"])
        est = cls(**cfg, epochs=max(1, state["epoch"]), device=device)
        dev = est._validate_params()
        S, F = state["shape"]
        est.model_ = FactorialVAE(F, S, est.n_clusters, est.latent_dim, tuple(est.hidden),
                                  learn_weights=bool(est.learn_weights))
        est.model_.load_state_dict(state["model"])
        est.model_.to(dev).eval()
        est.mean_, est.std_ = state["mean"].numpy(), state["std"].numpy()
        est.history_ = list(state["history"])
        est.n_epochs_ = state["epoch"]
        return est

    # ------------------------------------------------------------------ read-out
    def _readout(self, Xn, batch=4096):
        dev = next(self.model_.parameters()).device
        probs, means = [], []
        self.model_.eval()
        for lo in range(0, Xn.shape[0], batch):
            p, m = self.model_.readout(Xn[lo:lo + batch].to(dev))
            probs.append([t.cpu().numpy() for t in p])
            means.append([t.cpu().numpy() for t in m])
        S = self.model_.n_scales
        return ([np.concatenate([b[s] for b in probs]) for s in range(S)],
                [np.concatenate([b[s] for b in means]) for s in range(S)])

    def predict_proba(self, X):
        """q(y_s | x_s) per scale: a list of S arrays (n_windows, K_s) float32 (an array
        (n_windows, S, K) when every scale has the same K)."""
        probs, _ = self._readout(self._normalise(X))
        return np.stack(probs, 1) if len({p.shape[1] for p in probs}) == 1 else probs

    def predict(self, X):
        """Cluster per scale, argmax q(y_s | x_s): int64 (n_windows, n_scales)."""
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
        diff = {k: v for k, v in self.get_params().items()
                if v != inspect.signature(type(self).__init__).parameters[k].default}
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
