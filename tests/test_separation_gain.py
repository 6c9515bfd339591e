"""Tests of the time-frequency gain solve of scatclust.separate (``variable='gain'``, issue 8):
the map Θ -> ñ (:class:`scatclust.separation._gain.TFGain`) and its adjoint, the composed loss,
the stationary-source fallback to the spectral cap, and errors.

Oracles: the same map written in torch from its definition (explicit frames, ``torch.fft``,
node interpolation by ``np.interp`` on unit vectors), its gradient by autograd; torch gradcheck
(finite differences) of the loss through the gain; :func:`spectral_cap` for the fallback; the
participation ratio by hand; the ``variable='samples'`` solve and the Wiener baseline on toy
cases where the option matters.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scatclust.datasets import separation_toy  # noqa: E402
from scatclust.separation import SeparationLoss, separate, snr_db, spectral_cap, wiener_filter  # noqa: E402
from scatclust.separation._gain import TFGain  # noqa: E402
from scatclust.separation._separate import _participation  # noqa: E402

from test_separation import EPS64, _NumpyLoss  # noqa: E402


def _torch_gain_map(x, M, t_step, n_f):
    """ñ(Θ) in torch from the module's definitions (sine window, hop M/4, reflection by M)."""
    C, N = x.shape
    pad, hop = min(M, N - 1), M // 4
    L = N + 2 * pad
    starts = list(range(0, L - M + 1, hop))
    if starts[-1] + M < L:
        starts.append(L - M)
    w = torch.sin(torch.pi * (torch.arange(M, dtype=torch.float64) + 0.5) / M)
    y = torch.nn.functional.pad(torch.tensor(x)[None], (pad, pad), mode="reflect")[0]
    X = torch.stack([torch.fft.rfft(y[:, s:s + M] * w) for s in starts], dim=1)      # (C, T, F)
    F = M // 2 + 1
    centres = np.array(starts) + M / 2 - pad
    tn = np.arange(t_step / 2.0, N, t_step)
    fn = np.linspace(0.0, F - 1.0, n_f)
    # Linear interpolation matrices from np.interp on unit vectors (constant beyond the ends).
    A = torch.tensor(np.stack([np.interp(centres, tn, e) for e in np.eye(len(tn))], axis=1))
    B = torch.tensor(np.stack([np.interp(np.arange(F), fn, e) for e in np.eye(n_f)], axis=1))
    norm = torch.zeros(L, dtype=torch.float64)
    for s in starts:
        norm[s:s + M] += w ** 2

    def nt(theta):
        G = torch.einsum("tk,ckl,fl->ctf", A, theta, B)
        out = torch.zeros((C, L), dtype=torch.float64)
        for i, s in enumerate(starts):
            out[:, s:s + M] = out[:, s:s + M] + torch.fft.irfft(G[:, i] * X[:, i], n=M) * w
        return (out / norm)[:, pad:pad + N]

    return nt, (len(tn), n_f)


@pytest.mark.parametrize("C,N,M,t_step,n_f", [(1, 256, 32, 32, 9), (2, 301, 64, 50, 33), (1, 200, 16, 7, 5)])
def test_gain_map_and_adjoint_match_torch(C, N, M, t_step, n_f):
    # Tolerance: 1e-12 relative to the signal for ñ, 1e-10 relative for the gradient (float64,
    # FFTs of M points and sums over a few hundred frames).
    rng = np.random.default_rng(C * N)
    x = rng.standard_normal((C, N))
    T = TFGain(x, M=M, t_step=t_step, n_f=n_f)
    ref, shape = _torch_gain_map(x, M, t_step, n_f)
    assert T.shape == (C,) + shape
    theta = rng.uniform(0.0, 1.0, T.shape)
    th = torch.tensor(theta, requires_grad=True)
    out = ref(th)
    np.testing.assert_allclose(T.apply(theta), out.detach().numpy(), rtol=0, atol=1e-12 * np.abs(x).max())
    g = rng.standard_normal((C, N))
    (out * torch.tensor(g)).sum().backward()
    gref = th.grad.numpy()
    np.testing.assert_allclose(T.vjp(g), gref, rtol=0, atol=1e-10 * np.abs(gref).max())


@pytest.mark.parametrize("N", [64, 255, 1024])
def test_gain_one_is_identity_and_gain_is_linear(N):
    # istft ∘ stft = id (G = 1); a constant gain c scales the signal by c.
    rng = np.random.default_rng(N)
    x = rng.standard_normal((2, N))
    T = TFGain(x, M=32, t_step=16, n_f=5)
    np.testing.assert_allclose(T.apply(np.ones(T.shape)), x, rtol=0, atol=16 * EPS64 * np.abs(x).max())
    np.testing.assert_allclose(T.apply(np.full(T.shape, 0.3)), 0.3 * x, rtol=0, atol=16 * EPS64 * np.abs(x).max())
    np.testing.assert_array_equal(T.apply(np.zeros(T.shape)), np.zeros_like(x))


def test_gradcheck_loss_through_gain():
    # torch.autograd.gradcheck (central finite differences, float64) of the pooled prior term
    # composed with the gain map: dL/dΘ = TFGain.vjp(C++ gradient dL/dñ). N=256, J=4.
    rng = np.random.default_rng(11)
    P = rng.standard_normal((6, 1, 256))
    x = rng.standard_normal((1, 256))
    x[:, 100:130] += 2.0
    loss = SeparationLoss(x, P, 4, (1.0, 0.0, 0.0), ("prior",), [0], n_threads=1, pool=64)
    T = TFGain(x, M=32, t_step=64, n_f=5)

    class _ThetaLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, theta):
            total, _, g = loss(T.apply(theta.detach().numpy()))
            ctx.save_for_backward(torch.from_numpy(T.vjp(g)))
            return torch.tensor(total, dtype=torch.float64)

        @staticmethod
        def backward(ctx, gout):
            (g,) = ctx.saved_tensors
            return gout * g

    t = torch.tensor(rng.uniform(0.3, 1.0, T.shape), requires_grad=True)
    assert torch.autograd.gradcheck(_ThetaLoss.apply, (t,), eps=1e-6, atol=1e-6, rtol=1e-4)
    # Same loss by the samples path's wrapper at ñ = T.apply(Θ): the chain rule is consistent.
    nt = torch.tensor(T.apply(t.detach().numpy()))
    assert float(_NumpyLoss.apply(nt, loss)) == float(_ThetaLoss.apply(t.detach()))


def test_participation_ratio():
    s = np.zeros((2, 1030))
    s[:, 3:3 + 128] = 1.0                  # 8 blocks of 128 centred at offset 3: one holds it all
    assert abs(_participation(s, 128) - 1 / 8) < 1e-15
    assert abs(_participation(np.ones((1, 1024)), 128) - 1.0) < 1e-15
    assert _participation(np.zeros((1, 256)), 128) == 1.0
    e = np.array([1.0, 2.0, 3.0, 4.0])
    s = np.repeat(np.sqrt(e / 64), 64)[None]
    assert abs(_participation(s, 64) - e.sum() ** 2 / (4 * np.sum(e ** 2))) < 1e-14


# --------------------------------------------------------------- quality
def test_gain_solve_beats_samples_and_wiener_on_toy_glitches():
    # srcsep's toy setup (MRW background, N = 2048, R = 100, J = 8) with Mars-like glitch
    # pulses, seeds 300-302 (neither the bench's reported seeds 0-9 nor its tuning seeds
    # 100-109). Measured (dB): Wiener 9.03 / 8.85 / 14.31, variable='samples' (its default,
    # pool=128 from the cap) 10.67 / 10.17 / 15.01, variable='gain' 11.22 / 14.82 / 17.52.
    # Thresholds: gain >= Wiener + 1 dB and >= samples on every seed, >= samples + 1 dB on
    # average (with the option ignored the gain and samples rows would be equal).
    d_w, d_s = [], []
    for seed in (300, 301, 302):
        c = separation_toy("glitch", n=2048, R=100, seed=seed)
        snr_w = snr_db(wiener_filter(c.x, c.priors)[0], c.n)
        snr_s = snr_db(separate(c.x, c.priors, random_state=0, n_threads=1, variable="samples").background, c.n)
        res = separate(c.x, c.priors, random_state=0, n_threads=1)
        assert res.diagnostics["variable"] == "gain" and res.n_iter > 0
        assert res.diagnostics["participation"][0] <= 0.5       # localised: no fallback
        snr_g = snr_db(res.background, c.n)
        d_w.append(snr_g - snr_w)
        d_s.append(snr_g - snr_s)
    assert min(d_w) >= 1.0, d_w
    assert min(d_s) >= 0.0, d_s
    assert np.mean(d_s) >= 1.0, d_s


def test_stationary_source_falls_back_to_the_cap():
    # White priors; x = a fresh white realisation + low-pass noise all along the window (a
    # stationary source): the removed energy is spread over every block, so the result is
    # spectral_cap(x, priors) (computed on the scaled signals and scaled back: a few roundings);
    # with stationary=None the gain solve's own estimate is returned, which differs.
    rng = np.random.default_rng(21)
    N = 1024
    P = rng.standard_normal((30, N))
    lp = np.fft.irfft(np.fft.rfft(rng.standard_normal(N)) * (np.fft.rfftfreq(N) < 0.05), n=N)
    x = rng.standard_normal(N) + 4.0 * lp / lp.std()
    res = separate(x, P, J=6, n_threads=1)
    assert res.diagnostics["participation"][0] > 0.5
    assert "spectral cap" in res.segments[0].message
    np.testing.assert_allclose(res.background, spectral_cap(x, P)[0], rtol=0, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(res.background + res.source, x, rtol=0, atol=4 * EPS64 * np.abs(x).max())
    own = separate(x, P, J=6, n_threads=1, stationary=None)
    assert own.n_iter > 0 and np.abs(own.background - res.background).max() > 0.1
    # Its estimate removes energy, but it never adds any: the gain is in [0, 1] at every node.
    assert np.sum(own.background ** 2) < np.sum(x ** 2)


def test_gain_solve_starts_from_x():
    # Θ0 = 1: the history's first entry is the loss at ñ = x (the scaled mixture, to the
    # rounding of istft ∘ stft).
    rng = np.random.default_rng(4)
    P = rng.standard_normal((20, 512))
    x = rng.standard_normal(512)
    x[300:320] += 4.0 * np.hanning(20)
    res = separate(x, P, J=5, pool=64, n_threads=1)
    sc = P.std()
    loss = SeparationLoss(x[None] / sc, P[:, None] / sc, 5, (1, 1, 1), ("prior",), [0], n_threads=1, pool=64)
    start = loss(x[None] / sc, grad=False)[0]
    assert res.diagnostics["init"] == "x" and res.n_iter > 0
    assert abs(res.loss_history["total"][0] - start) <= 1e-10 * start


# ------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,match", [
    (dict(variable="fast"), r"variable='fast' must be one of 'gain', 'samples'"),
    (dict(init="cap"), r"init='cap' is a starting point of variable='samples'.*use init=None"),
    (dict(init="wiener"), r"init='wiener' is a starting point of variable='samples'"),
    (dict(gain_grid=5), r"gain_grid=5 must be two ints"),
    (dict(gain_grid=(0, 33)), r"gain_grid\[0\]=0 must be >= 1"),
    (dict(gain_grid=(64, 1)), r"gain_grid\[1\]=1 must be >= 2"),
    (dict(stationary=0.0), r"stationary=0.0 must be in \(0, 1\]"),
    (dict(stationary=1.5), r"stationary=1.5 must be in \(0, 1\]"),
])
def test_gain_errors(kwargs, match):
    rng = np.random.default_rng(0)
    x, P = rng.standard_normal(256), rng.standard_normal((4, 256))
    with pytest.raises(ValueError, match=match):
        separate(x, P, J=4, **kwargs)
