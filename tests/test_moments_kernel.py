"""Scattering-spectra moment kernel (_core.ScatteringMomentsF32/F64) against a direct numpy
implementation of notes/spectra_spec.md (explicit padding, np.fft, cropping, loops), its VJP
against central finite differences and torch autograd, thread-count invariance and errors."""
import numpy as np
import pytest

from scatclust import _core

KERNELS = {np.float32: _core.ScatteringMomentsF32, np.float64: _core.ScatteringMomentsF64}
CDTYPE = {np.float32: np.complex64, np.float64: np.complex128}


# ---------------------------------------------------------------------------------------
# Filters and terms


def gaussian_bank(J, P, cut=0.0):
    """Analytic Gaussian band-pass filters (zero on negative frequencies) and a symmetric
    Gaussian low-pass, sampled at k/P cycles/sample; values below `cut` set to exactly 0."""
    w = np.fft.fftfreq(P)
    psi = np.zeros((J, P))
    for j in range(J):
        xi, sigma = 0.35 * 2.0 ** -j, 0.12 * 2.0 ** -j
        psi[j] = np.where(w >= 0, np.exp(-((w - xi) ** 2) / (2 * sigma**2)), 0.0)
    phi = np.exp(-(w**2) / (2 * (0.12 * 2.0**-J) ** 2))
    psi[psi < cut] = 0.0
    phi[phi < cut] = 0.0
    return psi, phi


def pair_index(J, j1, j2):
    return (J + 1) + sum(J - a for a in range(j1)) + (j2 - j1 - 1)


def family_terms(J, C, cross=False):
    """Rows (kind, ca, ia, cb, ib) of all families of the spec, per channel, plus the
    cross-channel families for channel pairs a < b when `cross`."""
    rows = []
    for c in range(C):
        rows.append((0, c, J, 0, 0))                                   # mean
        rows += [(1, c, j, 0, 0) for j in range(J)]                    # sparsity
        rows += [(2, c, j, c, j) for j in range(J + 1)]                # power
        rows += [(1, c, pair_index(J, a, b), 0, 0) for a in range(J) for b in range(a + 1, J + 1)]  # envelope
        rows += [(2, c, b, c, pair_index(J, a, b)) for a in range(J) for b in range(a + 1, J + 1)]  # phase_env
        rows += [(2, c, pair_index(J, a, b), c, pair_index(J, ap, b))                          # env_cross
                 for b in range(1, J + 1) for a in range(b) for ap in range(a + 1)]
    if cross:
        for ca in range(C):
            for cb in range(ca + 1, C):
                rows += [(2, ca, j, cb, j) for j in range(J + 1)]
                rows += [(2, ca, pair_index(J, a, b), cb, pair_index(J, a, b))
                         for a in range(J) for b in range(a + 1, J + 1)]
    return np.array(rows, dtype=np.int32)


# ---------------------------------------------------------------------------------------
# Direct numpy oracle (float64)


def ref_series(x, psi, phi, padding):
    """x (C, N) -> series (C, n_series, N) complex, by the spec's definitions."""
    C, N = x.shape
    J, P = psi.shape

    def pad(u):
        return np.concatenate([u, u[::-1]]) if padding == 0 else u.copy()

    def conv(u, h):
        return np.fft.ifft(np.fft.fft(pad(u)) * h)[:N]

    filters = [psi[j] for j in range(J)] + [phi]
    out = []
    for c in range(C):
        s1 = [conv(x[c], filters[j]) for j in range(J + 1)]
        s1[J] = s1[J].real + 0j
        s = list(s1)
        for j1 in range(J):
            env = np.abs(s1[j1])
            for j2 in range(j1 + 1, J + 1):
                y = conv(env, filters[j2])
                s.append(y.real + 0j if j2 == J else y)
        out.append(np.array(s))
    return np.array(out)


def ref_moments(x, psi, phi, padding, terms, K, S, o):
    """x (B, C, N) -> raw moments (B, n_terms, n_out), explicit loops over windows."""
    B, C, N = x.shape
    n_out = (N - o - K) // S + 1
    out = np.zeros((B, len(terms), n_out), complex)
    for b in range(B):
        s = ref_series(x[b].astype(np.float64), psi, phi, padding)
        for t, (kind, ca, ia, cb, ib) in enumerate(terms):
            u = s[ca, ia]
            f = u if kind == 0 else (np.abs(u) if kind == 1 else u * np.conj(s[cb, ib]))
            for w in range(n_out):
                out[b, t, w] = f[o + w * S: o + w * S + K].mean()
    return out


def torch_moments(torch, x, psi, phi, padding, terms, K, S, o):
    """The same in torch (differentiable): x (B, C, N) float64 tensor."""
    B, C, N = x.shape
    J, P = psi.shape
    filt = torch.as_tensor(np.vstack([psi, phi[None]]), dtype=torch.complex128)

    def conv(u, h):  # u (..., N) real
        up = torch.cat([u, u.flip(-1)], -1) if padding == 0 else u
        return torch.fft.ifft(torch.fft.fft(up) * h)[..., :N]

    s1 = conv(x[:, :, None, :], filt)                          # (B, C, J+1, N)
    s1 = torch.cat([s1[:, :, :J], s1[:, :, J:].real.to(s1.dtype)], 2)
    series = [s1[:, :, j] for j in range(J + 1)]
    for j1 in range(J):
        env = s1[:, :, j1].abs()
        for j2 in range(j1 + 1, J + 1):
            y = conv(env, filt[j2])
            series.append(y.real.to(y.dtype) if j2 == J else y)
    s = torch.stack(series, 2)                                  # (B, C, n_series, N)
    n_out = (N - o - K) // S + 1
    res = []
    for kind, ca, ia, cb, ib in terms:
        u = s[:, ca, ia]
        f = u if kind == 0 else (u.abs().to(u.dtype) if kind == 1 else u * s[:, cb, ib].conj())
        res.append(torch.stack([f[:, o + w * S: o + w * S + K].mean(-1) for w in range(n_out)], -1))
    return torch.stack(res, 1)


def make(dtype, J, N, padding, C, terms, cut=0.0, random_filters=False, seed=0):
    P = 2 * N if padding == 0 else N
    if random_filters:  # neither analytic nor symmetric: exercises every filter path
        rng = np.random.default_rng(seed)
        psi, phi = rng.normal(size=(J, P)), rng.normal(size=P)
        phi = 0.5 * (phi + np.roll(phi[::-1], 1))  # Hermitian-symmetric low-pass (real series)
    else:
        psi, phi = gaussian_bank(J, P, cut)
    return KERNELS[dtype](psi, phi, N, padding, C, terms), psi, phi


def run_forward(k, x, K, S, o, n_threads=0):
    dtype = x.dtype.type
    out = np.empty((x.shape[0], k.n_terms, k.n_out(K, S, o)), CDTYPE[dtype])
    k.forward(x, out, K, S, o, n_threads)
    return out


def run_backward(k, x, g, K, S, o, n_threads=0):
    gx = np.empty_like(x)
    k.backward(x, g, gx, K, S, o, n_threads)
    return gx


def moment_tol(dtype):
    """Relative to the largest moment: 1e-4 (float32; ~1000 eps through two FFT layers and
    the modulus), 1e-10 (float64)."""
    return 1e-4 if dtype == np.float32 else 1e-10


# ---------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,padding", [(64, 0), (100, 0), (256, 0), (99, 0), (64, 1), (100, 1), (99, 1)])
def test_forward_all_families_global_mean(dtype, N, padding, rng):
    J = 4 if N < 256 else 5
    terms = family_terms(J, 1)
    k, psi, phi = make(dtype, J, N, padding, 1, terms)
    x = rng.normal(size=(3, 1, N)).astype(dtype)
    got = run_forward(k, x, N, N, 0)
    ref = ref_moments(x, psi, phi, padding, terms, N, N, 0)
    scale = np.abs(ref).max()
    assert np.abs(got - ref).max() / scale < moment_tol(dtype)
    assert k.n_terms == len(terms) and k.J == J and k.n_input == N and k.n_channels == 1
    assert k.n_padded == (2 * N if padding == 0 else N)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K,S,o", [(16, 16, 0), (16, 8, 3), (10, 13, 5), (1, 1, 0), (100, 1, 0), (37, 100, 60)])
@pytest.mark.parametrize("padding", [0, 1])
def test_forward_pooling_and_cross_channel(dtype, K, S, o, padding, rng):
    N, J, C = 100, 3, 2
    terms = family_terms(J, C, cross=True)
    k, psi, phi = make(dtype, J, N, padding, C, terms, cut=1e-6)
    x = rng.normal(size=(2, C, N)).astype(dtype)
    x[:, 1] *= 3.0
    got = run_forward(k, x, K, S, o)
    ref = ref_moments(x, psi, phi, padding, terms, K, S, o)
    assert got.shape == (2, len(terms), (N - o - K) // S + 1)
    assert np.abs(got - ref).max() / np.abs(ref).max() < moment_tol(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,padding", [(64, 0), (63, 0), (64, 1)])
def test_forward_general_filters_and_arbitrary_terms(dtype, N, padding, rng):
    """Non-analytic filters and terms outside the families (products across j2, series
    paired with themselves, unused rows in MEAN/ABS), which merge groups."""
    J = 3
    terms = np.array([[2, 0, 3, 0, 2], [2, 0, pair_index(J, 0, 1), 0, pair_index(J, 1, 3)],
                      [1, 0, pair_index(J, 2, 3), 5, 7], [0, 0, pair_index(J, 0, 2), 0, 0],
                      [2, 0, 1, 0, 1], [2, 0, pair_index(J, 0, 1), 0, 0]], np.int32)
    k, psi, phi = make(dtype, J, N, padding, 1, terms, random_filters=True)
    x = rng.normal(size=(2, 1, N)).astype(dtype)
    got = run_forward(k, x, 8, 4, 1)
    ref = ref_moments(x, psi, phi, padding, terms, 8, 4, 1)
    assert np.abs(got - ref).max() / np.abs(ref).max() < moment_tol(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_real_series_have_zero_imaginary_part(dtype, rng):
    J, N = 3, 64
    terms = family_terms(J, 1)
    k, _, _ = make(dtype, J, N, 0, 1, terms)
    out = run_forward(k, rng.normal(size=(2, 1, N)).astype(dtype), 8, 8, 0)
    real_rows = [i for i, (kind, ca, ia, cb, ib) in enumerate(terms)
                 if kind == 1 or (kind == 2 and ia == ib) or (kind == 0 and ia == J)]
    assert np.all(out[:, real_rows].imag == 0)


def test_threads_bit_identical(rng):
    J, N, C = 4, 256, 2
    terms = family_terms(J, C, cross=True)
    for dtype in (np.float32, np.float64):
        k, _, _ = make(dtype, J, N, 0, C, terms)
        x = rng.normal(size=(5, C, N)).astype(dtype)
        g = (rng.normal(size=(5, len(terms), 16)) + 1j * rng.normal(size=(5, len(terms), 16))).astype(CDTYPE[dtype])
        f1, f2 = run_forward(k, x, 16, 16, 0, 1), run_forward(k, x, 16, 16, 0, 2)
        assert np.array_equal(f1, f2)
        b1, b2 = run_backward(k, x, g, 16, 16, 0, 1), run_backward(k, x, g, 16, 16, 0, 2)
        assert np.array_equal(b1, b2)


def test_zero_input_gives_zero(rng):
    J, N = 3, 64
    terms = family_terms(J, 1)
    k, _, _ = make(np.float64, J, N, 0, 1, terms)
    x = np.zeros((1, 1, N))
    assert np.all(run_forward(k, x, N, N, 0) == 0)
    g = np.ones((1, len(terms), 1), complex)
    g[0, terms[:, 0] == 0] = 0  # MEAN is linear; every other term has zero gradient at 0
    assert np.all(run_backward(k, x, g, N, N, 0) == 0)  # |z|' := 0 at z = 0


# ---------------------------------------------------------------------------------------
# VJP


@pytest.mark.parametrize("N,padding", [(64, 0), (63, 0), (64, 1)])
def test_vjp_finite_differences(N, padding, rng):
    """<grad_x, d> against the central difference of Re<g, m(x + h d)> (float64)."""
    J, C = 3, 2
    terms = family_terms(J, C, cross=True)
    k, _, _ = make(np.float64, J, N, padding, C, terms)
    K, S, o = 16, 12, 2
    x = rng.normal(size=(2, C, N))
    n_o = k.n_out(K, S, o)
    g = rng.normal(size=(2, len(terms), n_o)) + 1j * rng.normal(size=(2, len(terms), n_o))
    gx = run_backward(k, x, g, K, S, o)

    def loss(z):  # L = sum Re(conj(g) m) -> dL/dRe m + i dL/dIm m = g
        return np.sum((np.conj(g) * run_forward(k, z, K, S, o)).real)

    for _ in range(3):
        d = rng.normal(size=x.shape)
        h = 1e-5
        fd = (loss(x + h * d) - loss(x - h * d)) / (2 * h)
        assert abs(fd - np.sum(gx * d)) <= 1e-6 * max(1.0, abs(fd))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,padding,K,S,o", [(64, 0, 64, 64, 0), (100, 0, 20, 10, 5), (64, 1, 8, 8, 0),
                                             (63, 0, 10, 10, 3)])
def test_vjp_vs_torch_autograd(dtype, N, padding, K, S, o, rng):
    torch = pytest.importorskip("torch")
    J, C = 3, 2
    terms = family_terms(J, C, cross=True)
    k, psi, phi = make(dtype, J, N, padding, C, terms, cut=1e-7)
    x = rng.normal(size=(2, C, N)).astype(dtype)
    n_o = k.n_out(K, S, o)
    g = (rng.normal(size=(2, len(terms), n_o)) + 1j * rng.normal(size=(2, len(terms), n_o))).astype(CDTYPE[dtype])
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    m = torch_moments(torch, xt, psi, phi, padding, terms, K, S, o)
    m.backward(torch.as_tensor(g.astype(np.complex128)))
    ref = xt.grad.numpy()
    got = run_backward(k, x, g, K, S, o)
    assert np.abs(got - ref).max() / np.abs(ref).max() < moment_tol(dtype)
    # the torch version is itself checked against the numpy oracle
    assert np.abs(m.detach().numpy() - ref_moments(x, psi, phi, padding, terms, K, S, o)).max() < 1e-12 * max(
        1.0, np.abs(m.detach().numpy()).max())


# ---------------------------------------------------------------------------------------
# Errors


def test_constructor_errors():
    psi, phi = gaussian_bank(3, 128)
    t = family_terms(3, 1)
    K = _core.ScatteringMomentsF64
    with pytest.raises(ValueError, match=r"symmetric padding needs P = 2\*n_input = 200"):
        K(psi, phi, 100, 0, 1, t)
    with pytest.raises(ValueError, match=r"periodic padding needs P = n_input = 64"):
        K(psi, phi, 64, 1, 1, t)
    with pytest.raises(ValueError, match=r"padding=2 must be 0 \(symmetric\) or 1 \(periodic\)"):
        K(psi, phi, 64, 2, 1, t)
    with pytest.raises(ValueError, match=r"phi_f has 64 samples; expected P=128"):
        K(psi, phi[:64].copy(), 64, 0, 1, t)
    with pytest.raises(ValueError, match=r"terms has shape \(2, 4\); expected \(n_terms, 5\)"):
        K(psi, phi, 64, 0, 1, np.zeros((2, 4), np.int32))
    bad = t.copy()
    bad[3, 2] = 10
    with pytest.raises(ValueError, match=r"terms\[3, 2\]=10 is not a valid series index for J=3 \(0..9\)"):
        K(psi, phi, 64, 0, 1, bad)
    bad = t.copy()
    bad[1, 0] = 3
    with pytest.raises(ValueError, match=r"terms\[1, 0\]=3 is not a valid term kind"):
        K(psi, phi, 64, 0, 1, bad)
    bad = t.copy()
    bad[-1, 3] = 1
    with pytest.raises(ValueError, match=r"terms\[\d+, 3\]=1 is not a valid channel for n_channels=1 \(0..0\)"):
        K(psi, phi, 64, 0, 1, bad)
    with pytest.raises(ValueError, match=r"n_channels=0 must be >= 1"):
        K(psi, phi, 64, 0, 0, t)
    psi_nan = psi.copy()
    psi_nan[1, 5] = np.nan
    with pytest.raises(ValueError, match=r"psi_f contains a non-finite value"):
        K(psi_nan, phi, 64, 0, 1, t)
    with pytest.raises(TypeError):  # no silent conversion
        K(psi.astype(np.float32), phi, 64, 0, 1, t)
    with pytest.raises(TypeError):
        K(psi, phi, 64, 0, 1, t.astype(np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_call_errors(dtype, rng):
    J, N = 3, 64
    terms = family_terms(J, 1)
    k, _, _ = make(dtype, J, N, 0, 1, terms)
    x = rng.normal(size=(2, 1, N)).astype(dtype)
    out = np.empty((2, len(terms), 1), CDTYPE[dtype])
    with pytest.raises(ValueError, match=r"pooling kernel=0 must be >= 1"):
        k.n_out(0, 1, 0)
    with pytest.raises(ValueError, match=r"pooling stride=0 must be >= 1"):
        k.forward(x, out, 8, 0, 0)
    with pytest.raises(ValueError, match=r"pooling offset=-1 must be >= 0"):
        k.forward(x, out, 8, 8, -1)
    with pytest.raises(ValueError, match=r"pooling kernel=60 with offset=5 leaves no window in N=64"):
        k.forward(x, out, 60, 1, 5)
    with pytest.raises(ValueError, match=r"x has shape \(2, 1, 63\); the kernel was built for"):
        k.forward(x[:, :, :63].copy(), out, 8, 8, 0)
    with pytest.raises(ValueError, match=r"out has shape \(2, \d+, 1\); expected \(B=2, n_terms=\d+, n_out=8\)"):
        k.forward(x, out, 8, 8, 0)
    with pytest.raises(TypeError):
        k.forward(x.astype(np.float64 if dtype == np.float32 else np.float32), out, N, N, 0)
    xn = x.copy()
    xn[1, 0, 7] = np.nan
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(nan\) at flat index 71"):
        k.forward(xn, out, N, N, 0)
    g = np.zeros((2, len(terms), 2), CDTYPE[dtype])
    with pytest.raises(ValueError, match=r"grad_out has shape \(2, \d+, 2\); expected \(B=2, n_terms=\d+, n_out=1\)"):
        k.backward(x, g, np.empty_like(x), N, N, 0)
    with pytest.raises(ValueError, match=r"grad_x has shape"):
        k.backward(x, g[:, :, :1].copy(), np.empty_like(x[:1]), N, N, 0)
    g1 = np.zeros((2, len(terms), 1), CDTYPE[dtype])
    g1[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"grad_out contains a non-finite value"):
        k.backward(x, g1, np.empty_like(x), N, N, 0)


def test_empty_batch():
    J, N = 2, 64
    terms = family_terms(J, 1)
    k, _, _ = make(np.float64, J, N, 0, 1, terms)
    out = np.empty((0, len(terms), 1), complex)
    k.forward(np.empty((0, 1, N)), out, N, N, 0)
    gx = np.empty((0, 1, N))
    k.backward(np.empty((0, 1, N)), out, gx, N, N, 0)
    assert out.shape == (0, len(terms), 1) and gx.shape == (0, 1, N)
