r"""Factorial Gaussian-mixture VAE over nested time scales (after Siahkoohi et al. 2023,
arXiv:2305.16189).

Model
-----
A window is described at S nested scales by feature vectors x_s (s = 0..S-1, all of the
same length F, normalised per scale and feature). For every scale the model is a
Gaussian-mixture VAE with its own categorical cluster variable y_s (K_s classes) and
continuous latent z_s (d dimensions)::

    p(y_s) = Cat(1/K_s),  p(z_s | y_s) = N(mu_{s, y_s}, diag exp(lv_{s, y_s})),
    p(x_s | z_s) = N(g_s(z_s), diag exp(lx_s))

with learned per-cluster prior means/log-variances (mu_s, lv_s: K_s x d), a decoder MLP g_s
and an observation log-variance lx_s (F) that is, by ``obs_var``: learned per scale and
feature ('learned', the default), learned per scale and shared by its features ('scale'), or
fixed at 0 ('fixed': unit variance on the standardised features). The scales are independent
factors of the generative model ("factorial"); what they share is the encoder trunk h(.),
one MLP applied to every x_s, followed by per-scale heads::

    q(y_s | x_s) = Cat(softmax(A_s h(x_s) + a_s))
    q(z_s | x_s, y_s) = N(m_s, diag exp(v_s)), [m_s, v_s] = B_s [h(x_s), y_s] + b_s

During training y_s is drawn with the Gumbel-softmax relaxation (temperature annealed per
step, :class:`scatclust.nn.TemperatureSchedule`) and z_s by the reparameterisation trick.

Loss (per window, summed over scales, averaged over the batch)::

    L = sum_s  w_rec * NLL_s + w_z * KL_z,s + w_y * KL_y,s
    NLL_s  = 1/2 sum_f c_sf [log 2 pi + lx_sf + (x_sf - g_s(z_s)_f)^2 exp(-lx_sf)]
    KL_z,s = KL(q(z_s | x_s, y~_s) || p(z_s | y~_s))                 (closed form, diagonal)
           = 1/2 sum_j [lv - v + (exp(v) + (m - mu)^2) exp(-lv) - 1]
             with the prior's mu, lv = y~_s @ mu_s, y~_s @ lv_s (y~_s: the relaxed sample)
    KL_y,s = KL(q(y_s | x_s) || Cat(1/K_s)) = sum_k q_k log q_k + log K_s
           (with ``learn_weights=True``: KL(q(y_s | x_s) || Cat(softmax(prior_logits_s))))

Default weights w_rec = w_z = w_y = 1 and c_sf = 1 (the evidence lower bound itself).
``feature_weights`` sets the c_sf >= 0 (one vector for all scales or one per scale): an
integer weight W on a feature gives the NLL of the same feature repeated W times (with the
same decoder output and lx), without the W - 1 extra inputs and decoder outputs.

Why ``obs_var`` matters: with a learned lx_sf, the NLL at its optimum over lx_sf is
1/2 sum_f c_sf [log(2 pi MSE_sf) + 1] (MSE_sf the feature's mean squared reconstruction error),
so a feature's gradient weight is c_sf / MSE_sf: the training favours the features that
reconstruct well (redundant, correlated moments) over noisy ones. With 'fixed' the NLL is
1/2 sum_f c_sf (x_sf - g_s(z_s)_f)^2 + const, every standardised feature weighted c_sf as in
k-means' squared distance; 'scale' keeps one learned balance between the NLL and the KL
terms per scale (lx_s = log of the scale's weighted mean squared error at the optimum).

Parameter count (``fvae_parameter_count``), with trunk widths (h_1..h_L), H = h_L (H = F
when L = 0) and mlp(n, (w_1..w_m)) = sum_i (w_{i-1} w_i + w_i), w_0 = n::

    P = mlp(F, (h_1..h_L))
        + sum_s [ (H K_s + K_s)                      y head
                  + ((H + K_s) 2d + 2d)              z head
                  + 2 K_s d                          prior means and log-variances
                  + mlp(d, (h_L..h_1, F))            decoder (the trunk mirrored)
                  + F ('learned') | 1 ('scale') | 0 ('fixed')  observation log-variances
                  + K_s if learn_weights ]           mixture-weight logits

The published model has about 196 M parameters; its exact layer layout is not given in
the paper's text we followed, so ``PUBLISHED_CONFIG`` is our reconstruction with that
count (F = 882, the as_real scattering-spectra features of our ``ScatteringPyramid`` with
J = 8 and C = 3; S = 4; K = 10; d = 200; three trunk layers of 4096: 195,931,896
parameters): it shows the model scales to that size, not that it is the authors' exact
network.
"""
from __future__ import annotations

import math
import numbers

import torch

from ..nn._gumbel import gumbel_softmax
from ..nn._mlp import MLP, _check_widths, mlp_parameter_count

__all__ = ["FactorialVAE", "PUBLISHED_CONFIG", "fvae_parameter_count", "gaussian_kl", "gaussian_nll",
           "categorical_kl_uniform", "categorical_kl"]

PUBLISHED_CONFIG = dict(n_features=882, n_scales=4, n_clusters=10, latent_dim=200, hidden=(4096, 4096, 4096))

_LOG_2PI = math.log(2.0 * math.pi)
_OBS_VAR = ("learned", "scale", "fixed")


def _check_pos_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name}={v!r} must be an int >= 1")
    return int(v)


def _cluster_tuple(n_clusters, n_scales):
    if isinstance(n_clusters, numbers.Integral) and not isinstance(n_clusters, bool):
        ks = (int(n_clusters),) * n_scales
    else:
        try:
            ks = tuple(n_clusters)
        except TypeError:
            raise ValueError(f"n_clusters={n_clusters!r} must be an int >= 2 or one int per scale") from None
        if len(ks) != n_scales:
            raise ValueError(f"n_clusters={n_clusters!r} gives {len(ks)} values for n_scales={n_scales}")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
            raise ValueError(f"n_clusters={n_clusters!r}: every cluster count must be an int >= 2")
    return tuple(int(k) for k in ks)


def fvae_parameter_count(n_features, n_scales=4, n_clusters=8, latent_dim=8, hidden=(128, 64), learn_weights=False,
                         obs_var="learned"):
    """Number of parameters of ``FactorialVAE(...)`` with these arguments (formula in the module docs).

    Examples
    --------
    >>> from scatclust.models import fvae_parameter_count, PUBLISHED_CONFIG
    >>> round(fvae_parameter_count(**PUBLISHED_CONFIG) / 1e6)
    196
    """
    F, S, d = (_check_pos_int(n_features, "n_features"), _check_pos_int(n_scales, "n_scales"),
               _check_pos_int(latent_dim, "latent_dim"))
    hidden = _check_widths(hidden, "hidden")
    ks = _cluster_tuple(n_clusters, S)
    n_obs = {"learned": F, "scale": 1, "fixed": 0}[_check_obs_var(obs_var)]
    H = hidden[-1] if hidden else F
    total = mlp_parameter_count(F, hidden)
    for K in ks:
        total += (H * K + K) + ((H + K) * 2 * d + 2 * d) + 2 * K * d
        total += mlp_parameter_count(d, hidden[::-1] + (F,)) + n_obs + (K if learn_weights else 0)
    return total


def _check_obs_var(obs_var):
    if obs_var not in _OBS_VAR:
        raise ValueError(f"obs_var={obs_var!r} must be one of {_OBS_VAR} (per-feature learned, one learned "
                         f"per scale, or fixed at 1)")
    return obs_var


def check_feature_weights(weights, n_scales, n_features):
    """``feature_weights`` as a float64 array (n_scales, n_features) (None stays None).

    Accepts shape (n_features,) (the same weights at every scale) or (n_scales, n_features);
    every weight finite and >= 0, and at least one > 0 per scale. Raises ValueError otherwise.
    """
    if weights is None:
        return None
    import numpy as np

    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    try:
        w = np.array(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"feature_weights of type {type(weights).__name__} must be an array of numbers of shape "
                         f"(n_features={n_features},) or (n_scales={n_scales}, n_features={n_features})") from None
    if w.shape == (n_features,):
        w = np.broadcast_to(w, (n_scales, n_features)).copy()
    if w.shape != (n_scales, n_features):
        raise ValueError(f"feature_weights.shape={w.shape} must be (n_features={n_features},) or "
                         f"(n_scales={n_scales}, n_features={n_features})")
    if not np.isfinite(w).all() or (w < 0).any():
        bad = float(w[~(np.isfinite(w) & (w >= 0))].ravel()[0])
        raise ValueError(f"feature_weights contains {bad!r}; every weight must be finite and >= 0")
    empty = np.flatnonzero(~(w > 0).any(1))
    if empty.size:
        raise ValueError(f"feature_weights of scale {int(empty[0])} are all 0; give every scale at least one "
                         f"weight > 0 (or leave that scale out of the data)")
    return w


def gaussian_nll(x, mean, logvar, weight=None):
    """Negative log-density of x under N(mean, diag exp(logvar)), summed over the last axis,
    each term multiplied by ``weight`` (broadcast against the last axis; None: 1)."""
    t = _LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar)
    return 0.5 * (t if weight is None else t * weight).sum(-1)


def gaussian_kl(mq, vq, mp, vp):
    """KL(N(mq, exp vq) || N(mp, exp vp)) of diagonal Gaussians (log-variances), summed over the last axis."""
    return 0.5 * (vp - vq + (torch.exp(vq) + (mq - mp) ** 2) * torch.exp(-vp) - 1.0).sum(-1)


def categorical_kl_uniform(logits):
    """KL(softmax(logits) || uniform over the last axis) = sum q log q + log K."""
    logq = torch.log_softmax(logits, dim=-1)
    return (logq.exp() * logq).sum(-1) + math.log(logits.shape[-1])


def categorical_kl(logits, prior_logits):
    """KL(softmax(logits) || softmax(prior_logits)) over the last axis = sum q (log q - log pi)."""
    logq = torch.log_softmax(logits, dim=-1)
    return (logq.exp() * (logq - torch.log_softmax(prior_logits, dim=-1))).sum(-1)


class FactorialVAE(torch.nn.Module):
    """Per-scale Gaussian-mixture VAEs with a shared encoder trunk (see the module docs).

    Parameters
    ----------
    n_features : int
        Features per scale F.
    n_scales : int
        Number of nested scales S (default 4).
    n_clusters : int or sequence of int
        Clusters K_s per scale (one int for all scales, default 8).
    latent_dim : int
        Dimension d of every z_s (default 8).
    hidden : sequence of int
        Trunk widths; the decoders mirror them (default (128, 64): ~0.1 M parameters for
        F = 200, trains on a CPU in minutes). ``PUBLISHED_CONFIG`` gives ~196 M.
    activation : str
        Trunk/decoder non-linearity (:class:`scatclust.nn.MLP`).
    learn_weights : bool
        Learn the mixture weights p(y_s) = Cat(softmax(prior_logits_s)) instead of the
        uniform Cat(1/K_s) (default False; adds K_s parameters per scale, counted by
        ``fvae_parameter_count(..., learn_weights=True)``). With uniform weights the model
        favours clusters of equal size: the encoder can reshape the latent density to match
        an equal-weight mixture, so a rare class (a few % of the windows) tends to be merged
        while a large one is split. KL_y then is KL(q(y_s | x_s) || p(y_s)).
    obs_var : {'learned', 'scale', 'fixed'}
        Observation log-variance lx_s of p(x_s | z_s) (module docs): 'learned' (default) one
        parameter per scale and feature, ``obs_logvar`` of shape (S, F); 'scale' one per scale,
        ``obs_logvar`` of shape (S, 1); 'fixed' lx = 0 (unit variance; ``obs_logvar`` is a
        zero buffer, not saved in the state dict), so the NLL is half the squared error plus
        a constant, weighting every standardised feature equally as k-means does.
    feature_weights : array_like (F,) or (S, F), optional
        Weights c_sf >= 0 of the features' terms in the reconstruction NLL (default None: all
        1). A weight W on a feature counts it like W copies of it. Kept as the buffer
        ``feature_weights`` (S, F) of the parameters' dtype (not saved in the state dict: it is
        a constructor argument).
    device, dtype :
        Where and in which precision to create the parameters (``device='meta'``
        builds the shapes without memory).

    Examples
    --------
    >>> import torch
    >>> from scatclust.models import FactorialVAE, fvae_parameter_count
    >>> m = FactorialVAE(20, n_scales=2, n_clusters=3, latent_dim=2, hidden=(16,))
    >>> sum(p.numel() for p in m.parameters()) == fvae_parameter_count(20, 2, 3, 2, (16,))
    True
    >>> out = m(torch.zeros(5, 2, 20), tau=1.0, generator=torch.Generator().manual_seed(0))
    >>> out["loss"]["total"].shape, out["logits"][0].shape, out["loss"]["kl_z"].shape
    (torch.Size([]), torch.Size([5, 3]), torch.Size([5, 2]))
    >>> FactorialVAE(20, n_scales=2, obs_var="scale").obs_logvar.shape
    torch.Size([2, 1])
    """

    def __init__(self, n_features, n_scales=4, n_clusters=8, latent_dim=8, hidden=(128, 64), *,
                 activation="relu", learn_weights=False, obs_var="learned", feature_weights=None, device=None,
                 dtype=None):
        super().__init__()
        F, S, d = (_check_pos_int(n_features, "n_features"), _check_pos_int(n_scales, "n_scales"),
                   _check_pos_int(latent_dim, "latent_dim"))
        hidden = _check_widths(hidden, "hidden")
        ks = _cluster_tuple(n_clusters, S)
        self.n_features, self.n_scales, self.n_clusters, self.latent_dim, self.hidden = F, S, ks, d, hidden
        kw = dict(device=device, dtype=dtype)
        self.trunk = MLP(F, hidden, activation=activation, activate_last=True, **kw) if hidden \
            else torch.nn.Identity()
        H = hidden[-1] if hidden else F
        self.y_heads = torch.nn.ModuleList(torch.nn.Linear(H, K, **kw) for K in ks)
        self.z_heads = torch.nn.ModuleList(torch.nn.Linear(H + K, 2 * d, **kw) for K in ks)
        self.decoders = torch.nn.ModuleList(MLP(d, hidden[::-1] + (F,), activation=activation, **kw) for _ in ks)
        # Prior means spread out (N(0, 1)) so that the clusters start apart; log-variances 0.
        self.prior_mean = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(K, d, **kw)) for K in ks)
        self.prior_logvar = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(K, d, **kw)) for K in ks)
        self.obs_var = _check_obs_var(obs_var)
        if obs_var == "fixed":
            self.register_buffer("obs_logvar", torch.zeros(S, F, **kw), persistent=False)
        else:
            self.obs_logvar = torch.nn.Parameter(torch.zeros(S, F if obs_var == "learned" else 1, **kw))
        w = check_feature_weights(feature_weights, S, F)
        if w is not None:  # in the parameters' dtype: a float64 buffer would promote the float32 loss
            w = torch.as_tensor(w, device=device, dtype=dtype if dtype is not None else torch.get_default_dtype())
        self.register_buffer("feature_weights", w, persistent=False)
        self.learn_weights = bool(learn_weights)
        if self.learn_weights:
            self.prior_logits = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(K, **kw)) for K in ks)

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x of type {type(x).__name__} must be a torch.Tensor")
        if x.ndim != 3 or x.shape[1] != self.n_scales or x.shape[2] != self.n_features:
            raise ValueError(f"x.shape={tuple(x.shape)} must be (batch, n_scales={self.n_scales}, "
                             f"n_features={self.n_features})")

    def encode(self, x):
        """Trunk output (batch, S, H) and q(y|x) logits, one (batch, K_s) tensor per scale."""
        self._check_input(x)
        h = self.trunk(x)
        return h, [head(h[:, s]) for s, head in enumerate(self.y_heads)]

    def nll(self, x, xhat, s):
        """Weighted reconstruction NLL_s (module docs) of x (batch, F) given the decoder mean
        xhat (batch, F) at scale s: a (batch,) tensor."""
        w = None if self.feature_weights is None else self.feature_weights[s]
        return gaussian_nll(x, xhat, self.obs_logvar[s], w)

    def z_posterior(self, h, s, y):
        """Mean and log-variance of q(z_s | x_s, y) for a (relaxed or soft) y of shape (batch, K_s)."""
        m, v = self.z_heads[s](torch.cat([h[:, s], y], dim=-1)).chunk(2, dim=-1)
        return m, v

    def forward(self, x, tau=1.0, *, hard=False, generator=None, w_rec=1.0, w_z=1.0, w_y=1.0):
        """Sample y~, z per scale and return the logits, latents and the loss terms.

        Returns a dict with ``logits`` (list of (batch, K_s)), ``z_mean`` (list of
        (batch, d)), ``x_mean`` (the decoder outputs g_s(z_s), list of (batch, F)) and
        ``loss``: per-term tensors ``rec``, ``kl_z``, ``kl_y`` of shape
        (batch, S) and ``total``, the scalar weighted batch mean.
        """
        h, logits = self.encode(x)
        rec, kl_z, kl_y, z_means, x_means = [], [], [], [], []
        for s in range(self.n_scales):
            y = gumbel_softmax(logits[s], tau, hard=hard, generator=generator)
            m, v = self.z_posterior(h, s, y)
            eps = torch.randn(m.shape, generator=generator, dtype=m.dtype,
                              device="cpu" if generator is not None else m.device).to(m.device)
            z = m + torch.exp(0.5 * v) * eps
            xhat = self.decoders[s](z)
            rec.append(self.nll(x[:, s], xhat, s))
            x_means.append(xhat)
            kl_z.append(gaussian_kl(m, v, y @ self.prior_mean[s], y @ self.prior_logvar[s]))
            kl_y.append(categorical_kl(logits[s], self.prior_logits[s]) if self.learn_weights
                        else categorical_kl_uniform(logits[s]))
            z_means.append(m)
        rec, kl_z, kl_y = torch.stack(rec, 1), torch.stack(kl_z, 1), torch.stack(kl_y, 1)
        total = (w_rec * rec + w_z * kl_z + w_y * kl_y).sum(1).mean()
        return {"logits": logits, "z_mean": z_means, "x_mean": x_means,
                "loss": {"rec": rec, "kl_z": kl_z, "kl_y": kl_y, "total": total}}

    def pretrain_loss(self, x, *, generator=None, w_rec=1.0, w_z=1.0):
        """Loss of the model with the cluster part off (``FVAEClustering(pretrain_epochs=...)``).

        Every scale is a plain VAE: y_s is fixed to the uniform vector (1/K_s, ..., 1/K_s),
        z_s ~ q(z_s | x_s, y_s) by the reparameterisation trick and the prior is N(0, I)::

            L = sum_s  w_rec * NLL_s + w_z * KL(q(z_s | x_s, y_s) || N(0, I))

        averaged over the batch (a scalar). The y heads, the mixture prior and its weights get
        no gradient.
        """
        self._check_input(x)
        h = self.trunk(x)
        total = 0.0
        for s in range(self.n_scales):
            K = self.n_clusters[s]
            y = torch.full((x.shape[0], K), 1.0 / K, dtype=h.dtype, device=h.device)
            m, v = self.z_posterior(h, s, y)
            eps = torch.randn(m.shape, generator=generator, dtype=m.dtype,
                              device="cpu" if generator is not None else m.device).to(m.device)
            xhat = self.decoders[s](m + torch.exp(0.5 * v) * eps)
            total = total + w_rec * self.nll(x[:, s], xhat, s) \
                + w_z * gaussian_kl(m, v, torch.zeros_like(m), torch.zeros_like(v))
        return total.mean()

    @torch.no_grad()
    def mixture_proba(self, z, s):
        """Responsibilities p(y_s | z_s) of the mixture prior for latents z (batch, d) at scale s:
        softmax_k [log pi_k - 1/2 sum_j (lv_kj + (z_j - mu_kj)^2 exp(-lv_kj))] with pi the mixture
        weights (uniform unless ``learn_weights``): VaDE's cluster read-out. (batch, K_s)."""
        mu, lv = self.prior_mean[s], self.prior_logvar[s]
        logp = -0.5 * (lv[None] + (z[:, None] - mu[None]) ** 2 * torch.exp(-lv[None])).sum(-1)
        if self.learn_weights:
            logp = logp + torch.log_softmax(self.prior_logits[s], dim=-1)
        return torch.softmax(logp, dim=-1)

    @torch.no_grad()
    def readout(self, x):
        """Deterministic read-out: q(y|x) per scale (list of (batch, K_s)) and latent means
        E[z_s] under q(z | x, y = q(y|x)) (list of (batch, d))."""
        h, logits = self.encode(x)
        probs = [torch.softmax(lg, dim=-1) for lg in logits]
        means = [self.z_posterior(h, s, p)[0] for s, p in enumerate(probs)]
        return probs, means
