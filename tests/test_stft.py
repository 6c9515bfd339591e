"""Tests of the STFT: core vs numpy reference, vs scipy.signal.ShortTimeFFT, vs torch.stft,
analytic properties (round trip, Parseval, tone), fused outputs, threading and error paths.

Tolerances: comparisons of the float32 kernel are relative to max|S| (or max|x|) with 1e-5,
float64 with 1e-12 (the targets of the design brief); properties use np.finfo(dtype).eps
times a stated factor.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import scatclust
from scatclust import STFT, _core, get_window, istft, stft
from scatclust.reference import stft as ref

DTYPES = [np.float32, np.float64]
CDTYPE = {np.float32: np.complex64, np.float64: np.complex128}
# max relative error against an oracle computed in float64
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
PADDINGS = ["zeros", "edge", "even", "odd"]

# (m_num, hop, mfft, n): odd/even and non-power-of-two sizes, zero-padded FFTs, signals
# shorter than the window (so that reflection padding repeats), hop == m_num, m_num == 1.
GEOMETRIES = [
    (16, 4, 16, 100),
    (15, 5, 20, 37),
    (16, 3, 19, 9),
    (9, 2, 9, 50),
    (32, 8, 32, 20),
    (64, 16, 100, 257),
    (7, 7, 7, 30),
    (1, 1, 1, 5),
]


def rel_err(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    scale = np.max(np.abs(b))
    return np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0)


def signal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def scipy_sft(win, hop, mfft, scale_to=None, phase_shift=0, fs=1.0):
    signal_mod = pytest.importorskip("scipy.signal")
    return signal_mod.ShortTimeFFT(np.asarray(win, dtype=np.float64), hop, fs, mfft=mfft,
                                   scale_to=scale_to, phase_shift=phase_shift)


# ------------------------------------------------------------------------------ windows
@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "boxcar"])
@pytest.mark.parametrize("m", [1, 2, 7, 16, 255])
def test_builtin_windows_match_scipy(name, m):
    signal_mod = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(get_window(name, m), signal_mod.get_window(name, m, fftbins=True),
                               rtol=0, atol=8 * np.finfo(np.float64).eps)


def test_window_array_and_scipy_name():
    w = np.arange(5.0)
    np.testing.assert_array_equal(get_window(w, 5), w)
    signal_mod = pytest.importorskip("scipy.signal")
    np.testing.assert_array_equal(get_window(("tukey", 0.25), 32), signal_mod.get_window(("tukey", 0.25), 32))


# ------------------------------------------------------------------------------ geometry vs scipy
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("scale_to", [None, "magnitude", "psd"])
def test_geometry_matches_scipy(geom, scale_to):
    m, hop, mfft, n = geom
    win = get_window("hann", m) if m > 1 else np.ones(1)
    ours = STFT(win, hop, fs=50.0, mfft=mfft, scale_to=scale_to)
    theirs = scipy_sft(win, hop, mfft, scale_to=scale_to, fs=50.0)
    assert (ours.m_num, ours.m_num_mid, ours.mfft, ours.f_pts) == (theirs.m_num, theirs.m_num_mid, theirs.mfft,
                                                                    theirs.f_pts)
    assert (ours.p_min, ours.k_min) == (theirs.p_min, theirs.k_min)
    assert (ours.p_max(n), ours.p_num(n), ours.k_max(n)) == (theirs.p_max(n), theirs.p_num(n), theirs.k_max(n))
    assert ours.delta_t == pytest.approx(theirs.delta_t, rel=1e-15)
    assert ours.delta_f == pytest.approx(theirs.delta_f, rel=1e-15)
    np.testing.assert_allclose(ours.f, theirs.f, rtol=1e-15)
    np.testing.assert_allclose(ours.t(n), theirs.t(n), rtol=1e-15)
    np.testing.assert_allclose(ours.win, theirs.win, rtol=1e-14)
    if hop < m or m == 1:  # hann with hop == m_num has gaps (not invertible)
        np.testing.assert_allclose(ours.dual_win, theirs.dual_win, rtol=1e-13)


def test_from_window_noverlap_and_hop():
    a = STFT.from_window("hamming", 20.0, nperseg=64, noverlap=48)
    b = STFT.from_window("hamming", 20.0, nperseg=64, hop=16)
    assert a.hop == b.hop == 16
    np.testing.assert_array_equal(a.win, b.win)
    assert "hop=16" in repr(a)


def test_properties_are_read_only():
    sft = STFT(get_window("hann", 8), 2)
    with pytest.raises(AttributeError):
        sft.hop = 3
    with pytest.raises(ValueError):
        sft.win[0] = 1.0


# ------------------------------------------------------------------------------ forward vs scipy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("phase_shift", [0, None, 3])
@pytest.mark.parametrize("scale_to", [None, "magnitude", "psd"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_stft_matches_scipy(dtype, geom, phase_shift, scale_to, padding):
    m, hop, mfft, n = geom
    if phase_shift is not None and abs(phase_shift) >= mfft:
        # keep the shift inside (-mfft, mfft) for tiny FFT lengths
        phase_shift = int(np.sign(phase_shift)) * (abs(phase_shift) % mfft)
    win = get_window("hann", m) if m > 1 else np.ones(1)
    x = signal((2, n), dtype)
    ours = STFT(win, hop, fs=10.0, mfft=mfft, scale_to=scale_to, phase_shift=phase_shift)
    theirs = scipy_sft(win, hop, mfft, scale_to=scale_to, phase_shift=phase_shift, fs=10.0)
    S = ours.stft(x, padding=padding)
    S_ref = theirs.stft(x.astype(np.float64), padding=padding)
    assert S.dtype == CDTYPE[dtype]
    assert S.shape == S_ref.shape
    assert rel_err(S, S_ref) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geom", [g for g in GEOMETRIES if g[1] <= g[0]])
@pytest.mark.parametrize("phase_shift", [0, None, -4])
@pytest.mark.parametrize("scale_to", [None, "magnitude", "psd"])
def test_istft_matches_scipy(dtype, geom, phase_shift, scale_to):
    m, hop, mfft, n = geom
    win = get_window("hamming", m)
    if phase_shift is not None and abs(phase_shift) >= mfft:
        # keep the shift inside (-mfft, mfft) for tiny FFT lengths
        phase_shift = int(np.sign(phase_shift)) * (abs(phase_shift) % mfft)
    x = signal((3, n), np.float64, seed=1)
    ours = STFT(win, hop, mfft=mfft, scale_to=scale_to, phase_shift=phase_shift)
    theirs = scipy_sft(win, hop, mfft, scale_to=scale_to, phase_shift=phase_shift)
    S_ref = theirs.stft(x)
    for k0, k1 in [(0, None), (0, n), (min(3, n - (m - m // 2)), n)]:
        x_ref = theirs.istft(S_ref, k0, k1)
        x_ours = ours.istft(S_ref.astype(CDTYPE[dtype]), k0, k1)
        assert x_ours.dtype == dtype
        assert x_ours.shape == x_ref.shape
        assert rel_err(x_ours, x_ref) <= RTOL[dtype]
    # k0 < 0: scipy wraps negative frame indices round to the end of S; we use only the
    # frames in S, as the reference does.
    k0 = ours.k_min
    x_ours = ours.istft(S_ref.astype(CDTYPE[dtype]), k0, n)
    q1 = min(ours.p_max(n), S_ref.shape[-1] + ours.p_min)
    x_ref = ref.istft(S_ref, ours.dual_win, hop, k0=k0, k1=n, mfft=mfft, phase_shift=phase_shift,
                      p_first=ours.p_min, q0=ours.p_min, q1=q1)
    assert rel_err(x_ours, x_ref) <= RTOL[dtype]


# ------------------------------------------------------------------------------ core vs reference
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("phase_shift", [0, None, 5])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_stft_matches_reference(dtype, geom, phase_shift, padding, batch):
    m, hop, mfft, n = geom
    if phase_shift is not None and phase_shift >= mfft:
        # keep the shift inside (-mfft, mfft) for tiny FFT lengths
        phase_shift = int(np.sign(phase_shift)) * (abs(phase_shift) % mfft)
    win = get_window("blackman", m) if m > 2 else np.ones(m)
    sft = STFT(win, hop, mfft=mfft, phase_shift=phase_shift)
    x = signal(batch + (n,), dtype, seed=2)
    p_max = sft.p_max(n)
    # default range, a sub-range, and a single frame at each end (short slices for padding)
    ranges = [(None, None), (sft.p_min + 1, max(sft.p_min + 2, p_max - 1)), (sft.p_min, sft.p_min + 1),
              (p_max - 1, p_max)]
    for p0, p1 in ranges:
        if p0 is not None and not sft.p_min <= p0 < p1 <= p_max:
            continue
        q0, q1 = sft.p_range(n, p0, p1)
        if padding != "zeros" and q0 * hop - m // 2 >= n:
            # the frames lie past the end of x: there is nothing to extend (np.pad fails too)
            with pytest.raises(ValueError, match=r"do not overlap x"):
                sft.stft(x, p0, p1, padding=padding)
            with pytest.raises(ValueError):
                ref.stft(x, sft.win, hop, mfft=mfft, phase_shift=phase_shift, p0=q0, p1=q1, padding=padding)
            continue
        S = sft.stft(x, p0, p1, padding=padding)
        S_ref = ref.stft(x, sft.win, hop, mfft=mfft, phase_shift=phase_shift, p0=q0, p1=q1, padding=padding)
        assert S.shape == batch + (sft.f_pts, q1 - q0)
        assert rel_err(S, S_ref) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geom", [g for g in GEOMETRIES if g[1] <= g[0]])
@pytest.mark.parametrize("phase_shift", [0, None])
def test_istft_core_matches_reference(dtype, geom, phase_shift):
    """Arbitrary frame sub-ranges and output ranges, called on the core directly."""
    m, hop, mfft, n = geom
    sft = STFT(get_window("hamming", m) if m > 1 else np.ones(1), hop, mfft=mfft, phase_shift=phase_shift)
    rng = np.random.default_rng(3)
    n_frames = 7
    S = (rng.standard_normal((2, sft.f_pts, n_frames)) + 1j * rng.standard_normal((2, sft.f_pts, n_frames)))
    S[:, 0, :] = S[:, 0, :].real  # c2r uses only the real part of DC (and Nyquist)
    if mfft % 2 == 0:
        S[:, -1, :] = S[:, -1, :].real
    S = S.astype(CDTYPE[dtype])
    p_first = -2
    dual = sft.dual_win
    for q0, q1, k0, k1 in [(-2, 5, -20, 40), (0, 3, 0, 17), (1, 2, -3, 5), (-1, 4, 7, 8)]:
        out = np.empty((2, k1 - k0), dtype=dtype)
        _core.stft_inverse(S, dual.astype(dtype), out, hop, mfft, phase_shift is not None, phase_shift or 0,
                           p_first, q0, q1, k0)
        x_ref = ref.istft(S, dual, hop, k0=k0, k1=k1, mfft=mfft, phase_shift=phase_shift, p_first=p_first,
                          q0=q0, q1=q1)
        assert rel_err(out, x_ref) <= RTOL[dtype] * max(1.0, np.sqrt(mfft))


# ------------------------------------------------------------------------------ torch mapping
torch_params = pytest.mark.parametrize("n_fft,hop,n", [(16, 4, 100), (15, 5, 37), (64, 16, 257), (20, 3, 41)])


@pytest.mark.parametrize("dtype", DTYPES)
@torch_params
@pytest.mark.parametrize("padding,pad_mode", [("zeros", "constant"), ("even", "reflect"), ("edge", "replicate")])
def test_matches_torch_stft(dtype, n_fft, hop, n, padding, pad_mode):
    """torch.stft(center=True) frame t == our frame p = t (t = 0 .. (n + 2*(n_fft//2) - n_fft)//hop)
    with phase_shift=None (no roll; torch's phase refers to the segment start)."""
    torch = pytest.importorskip("torch")
    x = signal((2, n), dtype, seed=4)
    xt = torch.from_numpy(x)
    window = torch.hann_window(n_fft, dtype=xt.dtype)
    S_t = torch.stft(xt, n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                     pad_mode=pad_mode, return_complex=True).numpy()
    # functional form: these are its defaults
    S_f = stft(x, n_fft, hop, padding=padding)
    # class form with the explicit frame range
    sft = STFT(get_window("hann", n_fft), hop, mfft=n_fft, phase_shift=None)
    S_c = sft.stft(x, 0, 1 + (n + 2 * (n_fft // 2) - n_fft) // hop, padding=padding)
    assert S_f.shape == S_t.shape == S_c.shape
    assert rel_err(S_f, S_t) <= 1e-5
    np.testing.assert_array_equal(S_f, S_c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_center_false_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    n_fft, hop, n = 32, 8, 203  # hop divides n_fft//2, so frames start at sample 0
    x = signal((n,), dtype, seed=5)
    S_t = torch.stft(torch.from_numpy(x), n_fft, hop_length=hop, window=torch.hann_window(n_fft, dtype=torch.float64
                                                                                            if dtype == np.float64
                                                                                            else torch.float32),
                     center=False, return_complex=True).numpy()
    S = stft(x, n_fft, hop, center=False)
    assert S.shape == S_t.shape
    assert rel_err(S, S_t) <= 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_tensor_in_torch_tensor_out(dtype):
    torch = pytest.importorskip("torch")
    x = signal((2, 3, 150), dtype, seed=6)
    sft = STFT.from_window("hann", 100.0, nperseg=32, hop=8, scale_to="psd")
    S_np = sft.stft(x)
    S_t = sft.stft(torch.from_numpy(x))
    assert isinstance(S_t, torch.Tensor)
    assert S_t.dtype == (torch.complex64 if dtype == np.float32 else torch.complex128)
    np.testing.assert_array_equal(S_t.numpy(), S_np)
    P_t = sft.spectrogram(torch.from_numpy(x))
    assert isinstance(P_t, torch.Tensor) and P_t.dtype == torch.from_numpy(x).dtype
    np.testing.assert_array_equal(P_t.numpy(), sft.spectrogram(x))
    x_t = sft.istft(S_t, k1=150)
    assert isinstance(x_t, torch.Tensor)
    np.testing.assert_array_equal(x_t.numpy(), sft.istft(S_np, k1=150))
    # functional form; a tensor that requires grad is detached
    xt = torch.from_numpy(x).requires_grad_(True)
    S_f = stft(xt, 32, 8)
    assert isinstance(S_f, torch.Tensor)
    np.testing.assert_array_equal(S_f.numpy(), stft(x, 32, 8))
    y = istft(S_f, 32, 8, n=150)
    assert isinstance(y, torch.Tensor)
    assert np.max(np.abs(y.numpy() - x)) <= 100 * np.finfo(dtype).eps * np.max(np.abs(x))
    # other torch dtypes are converted to float64
    S_i = stft(torch.arange(100, dtype=torch.int32), 16, 4)
    assert S_i.dtype == torch.complex128


# ------------------------------------------------------------------------------ analytic properties
ROUND_TRIPS = [("hann", 16, 8), ("hann", 16, 4), ("hann", 15, 5), ("hamming", 33, 11), ("blackman", 24, 8),
               ("boxcar", 10, 10), ("hann", 100, 25)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window,m,hop", ROUND_TRIPS)
@pytest.mark.parametrize("scale_to", [None, "psd"])
@pytest.mark.parametrize("phase_shift", [0, None])
def test_istft_inverts_stft(dtype, window, m, hop, scale_to, phase_shift):
    n = 301
    x = signal((2, n), dtype, seed=7)
    sft = STFT.from_window(window, 8.0, nperseg=m, hop=hop, mfft=m + 3, scale_to=scale_to, phase_shift=phase_shift)
    y = sft.istft(sft.stft(x), k1=n)
    # factor 100: a few FFT round-offs times the overlap count
    assert np.max(np.abs(y - x)) <= 100 * np.finfo(dtype).eps * np.max(np.abs(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window,m,hop", ROUND_TRIPS)
@pytest.mark.parametrize("n", [300, 301])
@pytest.mark.parametrize("padding", ["zeros", "even"])
def test_functional_istft_inverts_stft(dtype, window, m, hop, n, padding):
    """center=True: frames left of p=0 are missing, istft renormalises the ends."""
    x = signal((2, n), dtype, seed=8)
    y = istft(stft(x, m, hop, window=window, padding=padding), m, hop, n, window=window)
    assert y.dtype == dtype and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= 100 * np.finfo(dtype).eps * np.max(np.abs(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window,m,hop,n", [("hamming", 32, 8, 232), ("boxcar", 10, 5, 300)])
def test_functional_istft_center_false(dtype, window, m, hop, n):
    """center=False with hop dividing m//2, (n - m) % hop == 0 and a window that is non-zero
    at its ends: every sample is covered, so the round trip is exact."""
    x = signal((n,), dtype, seed=8)
    S = stft(x, m, hop, window=window, center=False)
    assert S.shape[-1] == (n - m) // hop + 1
    y = istft(S, m, hop, n, window=window, center=False)
    assert np.max(np.abs(y - x)) <= 100 * np.finfo(dtype).eps * np.max(np.abs(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mfft_extra", [0, 5])
@pytest.mark.parametrize("scale_to", [None, "psd"])
@pytest.mark.parametrize("phase_shift", [0, None])
def test_parseval_tight_frame(dtype, mfft_extra, scale_to, phase_shift):
    """Periodic hann with hop = m/4: sum_p w[k - p*hop]**2 = sum(w**2)/hop for every k (the cos
    terms of w**2 = 3/8 - cos/2 + cos(2.)/8 cancel over 4 shifts). With all frames that
    touch x and zero padding, Parseval per frame (two-sided sum = mfft * sum seg**2) gives

        sum_p sum_f c_f |S[f, p]|**2 = mfft * sum(w**2) / hop * sum_k x[k]**2,

    c_f = 1 for DC and (even mfft) Nyquist, 2 otherwise (one-sided spectrum)."""
    m, hop, n = 64, 16, 1000
    sft = STFT.from_window("hann", 4.0, nperseg=m, hop=hop, mfft=m + mfft_extra, scale_to=scale_to,
                           phase_shift=phase_shift)
    x = signal((n,), dtype, seed=9)
    P = sft.spectrogram(x).astype(np.float64)
    c = np.full(sft.f_pts, 2.0)
    c[0] = 1.0
    if sft.mfft % 2 == 0:
        c[-1] = 1.0
    lhs = np.sum(c[:, None] * P)
    w = sft.win
    # check the tight-frame identity itself first
    env = sum(np.roll(np.concatenate([w ** 2, np.zeros(3 * m)]), s)[:m] for s in range(0, 4 * m, hop))
    np.testing.assert_allclose(env[3 * m // 4:m], np.sum(w ** 2) / hop, rtol=1e-12)
    rhs = sft.mfft * np.sum(w ** 2) / hop * np.sum(x.astype(np.float64) ** 2)
    assert lhs == pytest.approx(rhs, rel=50 * float(np.finfo(dtype).eps))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("phase_shift", [0, None])
def test_tone_lands_in_its_bin(dtype, phase_shift):
    fs, m, hop, n, bin_, amp = 200.0, 128, 32, 2048, 19, 3.0
    sft = STFT.from_window("hann", fs, nperseg=m, hop=hop, scale_to="magnitude", phase_shift=phase_shift)
    f0 = bin_ * sft.delta_f
    x = (amp * np.cos(2 * np.pi * f0 * np.arange(n) / fs)).astype(dtype)
    A = sft.stft(x, output="magnitude")
    inner = slice(-sft.p_min + 2, A.shape[-1] - 4)  # frames fully inside the signal
    assert np.all(np.argmax(A[:, inner], axis=0) == bin_)
    assert sft.f[bin_] == pytest.approx(f0)
    # magnitude scaling: an on-bin tone of amplitude A has peak A/2 (periodic hann leaks
    # only into the neighbouring bins, so the negative frequency adds nothing here)
    np.testing.assert_allclose(A[bin_, inner], amp / 2, rtol=100 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_fused_outputs_equal_functions_of_complex(dtype, padding):
    x = signal((3, 513), dtype, seed=10)
    sft = STFT.from_window("hann", 1.0, nperseg=60, hop=13, mfft=70, scale_to="magnitude")
    S = sft.stft(x, padding=padding)
    eps = np.finfo(dtype).eps
    mag = sft.stft(x, padding=padding, output="magnitude")
    pw = sft.stft(x, padding=padding, output="power")
    lp = sft.stft(x, padding=padding, output="log_power", log_eps=1e-6)
    assert mag.dtype == pw.dtype == lp.dtype == dtype
    assert mag.shape == pw.shape == lp.shape == S.shape
    np.testing.assert_allclose(mag, np.abs(S), rtol=4 * eps, atol=4 * eps * np.abs(S).max())
    np.testing.assert_allclose(pw, np.abs(S) ** 2, rtol=8 * eps, atol=8 * eps * pw.max())
    np.testing.assert_allclose(lp, np.log(pw.astype(np.float64) + 1e-6), rtol=0, atol=16 * eps * np.abs(lp).max())
    np.testing.assert_array_equal(sft.spectrogram(x, padding=padding), pw)
    P_f = stft(x, 60, 13, nfft=70, scaling="magnitude", output="power")
    S_f = stft(x, 60, 13, nfft=70, scaling="magnitude")
    np.testing.assert_allclose(P_f, np.abs(S_f) ** 2, rtol=8 * eps, atol=8 * eps * P_f.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_in_zero_out(dtype):
    sft = STFT.from_window("hann", 1.0, nperseg=31, hop=7)
    for padding in PADDINGS:
        S = sft.stft(np.zeros((2, 200), dtype), padding=padding)
        assert not np.any(S)
    y = sft.istft(np.zeros((2, sft.f_pts, sft.p_num(200)), CDTYPE[dtype]), k1=200)
    assert y.dtype == dtype and not np.any(y)


def test_empty_batch_and_dtype_conversions():
    sft = STFT.from_window("hann", 1.0, nperseg=16, hop=4)
    S = sft.stft(np.zeros((0, 3, 50)))
    assert S.shape == (0, 3, 9, sft.p_num(50))
    xi = np.arange(50)
    assert sft.stft(xi).dtype == np.complex128
    np.testing.assert_array_equal(sft.stft(xi), sft.stft(xi.astype(np.float64)))
    assert sft.stft(xi.astype(np.float16)).dtype == np.complex128
    assert sft.stft(xi.tolist()).dtype == np.complex128
    # non-contiguous input is copied once and gives the same result
    x = signal((4, 100), np.float32, seed=11)
    np.testing.assert_array_equal(sft.stft(x[:, ::2]), sft.stft(np.ascontiguousarray(x[:, ::2])))
    np.testing.assert_array_equal(sft.stft(x.T.copy().T), sft.stft(x))


# ------------------------------------------------------------------------------ threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_vs_two_threads_bit_identical(dtype):
    x = signal((3, 5000), dtype, seed=12)
    sft = STFT.from_window("hann", 1.0, nperseg=256, hop=64, mfft=300)
    S1 = sft.stft(x, n_threads=1)
    S2 = sft.stft(x, n_threads=2)
    np.testing.assert_array_equal(S1, S2)
    for out in ("magnitude", "log_power"):
        np.testing.assert_array_equal(sft.stft(x, output=out, n_threads=1), sft.stft(x, output=out, n_threads=2))
    np.testing.assert_array_equal(sft.istft(S1, n_threads=1), sft.istft(S1, n_threads=2))
    with scatclust.threads(1):
        a = sft.istft(S1[0])
    with scatclust.threads(2):
        b = sft.istft(S1[0])
    np.testing.assert_array_equal(a, b)


def test_concurrent_python_threads():
    sft = STFT.from_window("hamming", 1.0, nperseg=100, hop=20, mfft=128)
    xs = [signal((2, 3000), np.float64, seed=s) for s in range(8)]
    expected = [(sft.stft(x), sft.istft(sft.stft(x))) for x in xs]
    barrier = threading.Barrier(4)

    def work(i):
        if i < 4:
            barrier.wait()
        S = sft.stft(xs[i])
        return S, sft.istft(S)

    with ThreadPoolExecutor(max_workers=4) as ex:
        got = list(ex.map(work, range(8)))
    for (S, y), (S_e, y_e) in zip(got, expected):
        np.testing.assert_array_equal(S, S_e)
        np.testing.assert_array_equal(y, y_e)


# ------------------------------------------------------------------------------ errors
def test_constructor_errors():
    w = get_window("hann", 16)
    with pytest.raises(ValueError, match=r"hop=0 must be >= 1"):
        STFT(w, 0)
    with pytest.raises(TypeError, match=r"hop=1.5 must be an int"):
        STFT(w, 1.5)
    with pytest.raises(ValueError, match=r"mfft=8 must be >= the window length m_num=16"):
        STFT(w, 4, mfft=8)
    with pytest.raises(ValueError, match=r"scale_to='unit' must be one of"):
        STFT(w, 4, scale_to="unit")
    with pytest.raises(ValueError, match=r"phase_shift=16 must satisfy -mfft < phase_shift < mfft \(mfft=16\)"):
        STFT(w, 4, phase_shift=16)
    with pytest.raises(ValueError, match=r"fs=0 must be a finite number > 0"):
        STFT(w, 4, fs=0)
    with pytest.raises(TypeError, match=r"win has complex dtype complex128"):
        STFT(w + 0j, 4)
    with pytest.raises(ValueError, match=r"win contains NaN or Inf"):
        STFT(np.array([1.0, np.nan]), 1)
    with pytest.raises(ValueError, match=r"win has shape \(2, 2\)"):
        STFT(np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match=r"hop=20 must be <= the window length m_num=16"):
        STFT(w, 20).dual_win
    with pytest.raises(ValueError, match=r"window='nope' is not a known window"):
        STFT.from_window("nope", 1.0, nperseg=16, hop=4)
    with pytest.raises(ValueError, match=r"noverlap=16 must be < nperseg=16"):
        STFT.from_window("hann", 1.0, nperseg=16, noverlap=16)
    with pytest.raises(ValueError, match=r"give exactly one of noverlap=4 and hop=4"):
        STFT.from_window("hann", 1.0, nperseg=16, noverlap=4, hop=4)
    with pytest.raises(ValueError, match=r"window has shape \(5,\); it must be 1-D with nperseg=6"):
        get_window(np.ones(5), 6)


def test_stft_call_errors():
    sft = STFT.from_window("hann", 1.0, nperseg=16, hop=4)
    x = np.zeros(40)
    with pytest.raises(ValueError, match=r"padding='wrap' must be one of"):
        sft.stft(x, padding="wrap")
    with pytest.raises(ValueError, match=r"output='db' must be one of"):
        sft.stft(x, output="db")
    with pytest.raises(TypeError, match=r"x has complex dtype complex128"):
        sft.stft(x + 1j)
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match=r"x contains a non-finite value \((nan|inf)\) at flat index 3"):
        sft.stft(bad)
    bad[3] = np.inf
    with pytest.raises(ValueError, match=r"x contains a non-finite value \((nan|inf)\) at flat index 3"):
        sft.stft(bad.astype(np.float32))
    with pytest.raises(ValueError, match=r"x is empty \(shape \(2, 0\)\)"):
        sft.stft(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"x is a scalar"):
        sft.stft(np.float64(1.0))
    with pytest.raises(ValueError, match=r"n=7 must be >= ceil\(m_num/2\)=8"):
        sft.stft(np.zeros(7))
    with pytest.raises(ValueError, match=r"frame range p0=5, p1=5 must satisfy p_min=-1 <= p0 < p1 <= p_max\(n\)=12 for a signal of n=40"):
        sft.stft(x, 5, 5)
    with pytest.raises(ValueError, match=r"frame range p0=-4, p1=2"):
        sft.stft(x, -4, 2)
    with pytest.raises(ValueError, match=r"n_threads=0 must be >= 1"):
        sft.stft(x, n_threads=0)
    with pytest.raises(ValueError, match=r"log_eps=0 must be a finite number > 0"):
        sft.stft(x, output="log_power", log_eps=0)


def test_functional_errors():
    x = np.zeros(100)
    with pytest.raises(ValueError, match=r"nperseg=128 must be <= the signal length n=100"):
        stft(x, 128, 32)
    with pytest.raises(ValueError, match=r"hop=0 must be >= 1"):
        stft(x, 16, 0)
    with pytest.raises(ValueError, match=r"nperseg=0 must be >= 1"):
        stft(x, 0, 1)
    with pytest.raises(ValueError, match=r"nfft=8 must be >= nperseg=16"):
        stft(x, 16, 4, nfft=8)
    with pytest.raises(ValueError, match=r"scaling='unitary' must be one of"):
        stft(x, 16, 4, scaling="unitary")
    with pytest.raises(ValueError, match=r"window='kaiserr' is not a known window"):
        stft(x, 16, 4, window="kaiserr")
    with pytest.raises(ValueError, match=r"x has shape \(0,\)"):
        stft(np.zeros(0), 16, 4)
    with pytest.raises(ValueError, match=r"too short for center=False"):
        stft(np.zeros(18), 16, 12, center=False)
    S = stft(x, 16, 4)
    with pytest.raises(ValueError, match=r"S has shape \(9, 26\); for n=90.*it must end in \(9, 23\)"):
        istft(S, 16, 4, n=90)
    with pytest.raises(ValueError, match=r"nperseg=16 must be <= the signal length n=10"):
        istft(S, 16, 4, n=10)
    with pytest.raises(ValueError, match=r"sample 0 is covered by no window weight \(center=False"):
        istft(stft(x, 16, 4, center=False), 16, 4, n=100, center=False)


def test_istft_errors():
    sft = STFT.from_window("hann", 1.0, nperseg=16, hop=4)
    S = sft.stft(np.ones(60))
    with pytest.raises(ValueError, match=r"S.shape\[-2\]=8 must equal f_pts=9 \(mfft=16\)"):
        sft.istft(S[:-1])
    with pytest.raises(ValueError, match=r"S has shape \(9,\); it must be \(\.\.\., f_pts=9, n_frames\)"):
        sft.istft(S[:, 0])
    with pytest.raises(ValueError, match=r"S.shape\[-1\]=2 must be >= 5 frames"):
        sft.istft(S[:, :2])
    with pytest.raises(ValueError, match=r"k0=10, k1=5 must satisfy k_min=-12 <= k0 < k1 <= k_max=72"):
        sft.istft(S, 10, 5)
    with pytest.raises(ValueError, match=r"k1 - k0 = 3 \(k0=0, k1=3\) must be >= ceil\(m_num/2\)=8"):
        sft.istft(S, 0, 3)
    bad = S.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"S contains a non-finite value \(nan\)"):
        sft.istft(bad)
    with pytest.raises(ValueError, match=r"not invertible"):
        STFT(np.array([1.0, 0.0, 0.0, 0.0]), 2).dual_win


def test_core_validation_messages():
    """The C++ kernels validate on their own (the front end is not the only caller)."""
    w = get_window("hann", 16)
    x = np.zeros((1, 50))
    out = np.empty((1, 9, 5), np.complex128)
    with pytest.raises(ValueError, match=r"hop=0 must be >= 1"):
        _core.stft_forward(x, w, out, 0, 16, True, 0, 0, 5, 0)
    with pytest.raises(ValueError, match=r"mfft=8 must be >= the window length m_num=16"):
        _core.stft_forward(x, w, np.empty((1, 5, 5), np.complex128), 4, 8, True, 0, 0, 5, 0)
    with pytest.raises(ValueError, match=r"frame range p0=5, p1=5 must satisfy p0 < p1"):
        _core.stft_forward(x, w, out, 4, 16, True, 0, 5, 5, 0)
    with pytest.raises(ValueError, match=r"out shape \(1, 9, 5\) must be \(1, 9, 4\)"):
        _core.stft_forward(x, w, out, 4, 16, True, 0, 0, 4, 0)
    with pytest.raises(ValueError, match=r"padding=7 must be 0 \(zeros\)"):
        _core.stft_forward(x, w, out, 4, 16, True, 0, 0, 5, 7)
    with pytest.raises(ValueError, match=r"phase_shift=16 must satisfy -mfft < phase_shift < mfft"):
        _core.stft_forward(x, w, out, 4, 16, True, 16, 0, 5, 0)
    bad = x.copy()
    bad[0, 7] = np.inf
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(inf\) at flat index 7"):
        _core.stft_forward(bad, w, out, 4, 16, True, 0, 0, 5, 0)
    with pytest.raises(ValueError, match=r"output=0 must be 1 \(magnitude\)"):
        _core.stft_forward_real(x, w, np.empty((1, 9, 5)), 4, 16, True, 0, 0, 5, 0, 0)
    with pytest.raises(ValueError, match=r"do not overlap x \(n=50\), so padding mode 2"):
        _core.stft_forward(x, w, out, 4, 16, True, 0, -20, -15, 2)
    with pytest.raises(TypeError):  # dtype mismatch is not converted silently (noconvert)
        _core.stft_forward(x.astype(np.float32), w, out, 4, 16, True, 0, 0, 5, 0)
    S = np.zeros((1, 9, 5), np.complex128)
    y = np.empty((1, 20))
    with pytest.raises(ValueError, match=r"frame range q0=-1, q1=3 must lie within the frames of S \[0, 5\)"):
        _core.stft_inverse(S, w, y, 4, 16, True, 0, 0, -1, 3, 0)
    with pytest.raises(ValueError, match=r"S has 9 frequency bins; mfft=20 needs 11"):
        _core.stft_inverse(S, w, y, 4, 20, True, 0, 0, 0, 3, 0)
    S[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"S contains a non-finite value"):
        _core.stft_inverse(S, w, y, 4, 16, True, 0, 0, 0, 3, 0)


# ------------------------------------------------------------------------------ memory layouts
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mfft", [64, 65])  # even: half-length complex FFT path; odd: real FFT path
def test_layouts_agree(dtype, mfft):
    """The kernel writes bin-major (C order (..., f, t), what stft() returns) or frame-major
    memory (torch.stft's layout); istft reads either in place. All give identical numbers."""
    from scatclust import _core

    win = get_window("hann", 48).astype(dtype)
    sft = STFT(win, 12, mfft=mfft)
    x = signal((3, 400), dtype, seed=5)
    S = sft.stft(x)
    assert S.shape == (3, sft.f_pts, sft.p_num(400)) and S.flags.c_contiguous
    fm = np.empty((3, S.shape[2], S.shape[1]), dtype=S.dtype)  # frame-major
    _core.stft_forward(x, win, fm, 12, mfft, True, 0, sft.p_min, sft.p_max(400), 0, 1.0, 0, True)
    np.testing.assert_array_equal(fm.swapaxes(-1, -2), S)
    a = sft.istft(fm.swapaxes(-1, -2), k1=400)  # frame-major view, read in place
    b = sft.istft(S, k1=400)
    np.testing.assert_array_equal(a, b)
    assert rel_err(a, x) < RTOL[dtype] * 10


def test_istft_of_torch_stft():
    """torch.stft returns a frame-major view; our inverse reads it without a copy."""
    torch = pytest.importorskip("torch")
    x = signal((2, 1000), np.float64, seed=9)
    n_fft, hop = 128, 32
    St = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                    center=True, pad_mode="constant", return_complex=True)
    assert not St.is_contiguous() and St.transpose(-1, -2).is_contiguous()
    xr = istft(St, n_fft, hop, 1000)
    assert isinstance(xr, torch.Tensor)
    assert rel_err(xr.numpy(), x) < 1e-12


_STFT_ISA_SCRIPT = """
import sys
import numpy as np
from scatclust import STFT, get_window
rng = np.random.default_rng(3)
out = {}
for dtype in (np.float32, np.float64):
    x = rng.standard_normal((3, 5000)).astype(dtype)
    for mfft, output in ((256, "complex"), (256, "power"), (64, "complex")):
        sft = STFT(get_window("hann", 200 if mfft == 256 else 64).astype(dtype), 50, mfft=mfft)
        out[(np.dtype(dtype).name, mfft, output)] = sft.stft(x, output=output)
np.save(sys.argv[1], np.array([out], dtype=object), allow_pickle=True)
"""


@pytest.mark.parametrize("isa", ["baseline", "x86-64-v3"])
def test_every_stft_build_agrees(isa, tmp_path):
    # Windowing and the real-FFT split are compiled for several instruction sets and one is
    # picked per process; SCATCLUST_STFT_ISA lowers the pick so each build is tested here
    # against the numpy reference (float32: 1e-5, float64: 1e-12 of the spectrum's maximum).
    import os
    import subprocess
    import sys

    env = dict(os.environ, SCATCLUST_STFT_ISA=isa, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    f = tmp_path / "out.npy"
    res = subprocess.run([sys.executable, "-c", _STFT_ISA_SCRIPT, str(f)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = np.load(f, allow_pickle=True)[0]
    assert len(got) == 6
    rng = np.random.default_rng(3)  # regenerates the script's inputs in the same order
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((3, 5000)).astype(dtype)
        for mfft, output in ((256, "complex"), (256, "power"), (64, "complex")):
            win = get_window("hann", 200 if mfft == 256 else 64)
            sft = STFT(win.astype(dtype), 50, mfft=mfft)
            S = ref.stft(x.astype(np.float64), win, 50, mfft=mfft, p0=sft.p_min, p1=sft.p_max(5000))
            expected = np.abs(S) ** 2 if output == "power" else S
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got[(np.dtype(dtype).name, mfft, output)], expected,
                                       rtol=0, atol=RTOL[dtype] * scale)
