"""Tests of the forward STFT's own SIMD real FFT (power-of-two mfft 16..4096, AVX2 CPUs),
against the numpy reference (float64 DFT), the FFTW path of the same kernel and scipy.

The kernel is chosen per process by ``_core.stft_kernel('auto' | 'fftw')`` (default from the
environment variable SCATCLUST_STFT_KERNEL); each test here runs both and restores 'auto'.
Tolerances as in test_stft.py: max error relative to max|S|, 1e-5 (float32) and 1e-12
(float64); log-power and overflow checks use np.finfo(dtype).eps times a stated factor.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scatclust import STFT, _core, get_window
from scatclust.reference import stft as ref

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
OUTPUTS = ["complex", "magnitude", "power", "log_power"]
MFFTS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]


def rel_err(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    scale = np.max(np.abs(b))
    return np.max(np.abs(a - b)) / (scale if scale > 0 else 1.0)


def signal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def needs_simd(mfft, dtype):
    if not _core.stft_simd_applies(mfft, np.dtype(dtype) == np.float64):
        pytest.skip(f"the SIMD STFT kernel does not run here for mfft={mfft} (needs x86-64 with AVX2+FMA, "
                    "SCATCLUST_STFT_KERNEL unset or 'auto')")


@pytest.fixture
def kernel():
    """Runs a callable under a given kernel ('auto' or 'fftw') and restores 'auto'."""
    before = _core.stft_kernel()

    def run(name, fn):
        _core.stft_kernel(name)
        try:
            return fn()
        finally:
            _core.stft_kernel(before)

    yield run
    _core.stft_kernel(before)


def expected(S_ref, output, log_eps=1e-10):
    if output == "complex":
        return S_ref
    P = np.abs(S_ref) ** 2
    return {"magnitude": np.abs(S_ref), "power": P, "log_power": np.log(P + log_eps)}[output]


def check_output(got, S_ref, output, dtype, log_eps=1e-10):
    """got (any output kind) against the float64 reference spectrum S_ref."""
    if output != "log_power":
        assert rel_err(got, expected(S_ref, output)) <= RTOL[dtype]
    else:
        # log(P + eps) amplifies the relative error of small P; compare P back instead, with
        # the error bound of P (2 RTOL of max P) plus the rounding of log/exp (8 eps relative).
        P = np.abs(S_ref) ** 2
        back = np.exp(got.astype(np.float64)) - log_eps
        eps = np.finfo(dtype).eps
        assert np.all(np.abs(back - P) <= 2 * RTOL[dtype] * P.max() + 8 * eps * (P + log_eps))


# ------------------------------------------------------------------------------ every size
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mfft", MFFTS)
def test_power_of_two_sizes_match_reference_and_fftw(dtype, mfft, kernel):
    """Each mfft with a full window, a shorter odd window (zero-padded FFT) and a phase
    shift; odd batch and frame counts (not a multiple of the 8 or 4 SIMD lanes)."""
    needs_simd(mfft, dtype)
    rng = np.random.default_rng(mfft)
    for m, phase_shift in ((mfft, 0), (mfft - 3 if mfft > 16 else 13, None), (mfft // 2 + 1, 3)):
        hop = max(1, m // 4 + 1)
        win = get_window("hann", m)
        sft = STFT(win.astype(dtype), hop, mfft=mfft, phase_shift=phase_shift)
        n = 3 * mfft + int(rng.integers(1, 50))
        while sft.p_num(n) % 2 == 0:  # odd frame counts exercise the partial last group
            n += 1
        x = signal((3, n), dtype, seed=mfft + m)
        p0, p1 = sft.p_min, sft.p_max(n)
        S_ref = ref.stft(x.astype(np.float64), win, hop, mfft=mfft, phase_shift=phase_shift, p0=p0, p1=p1)
        for output in OUTPUTS:
            simd = kernel("auto", lambda: sft.stft(x, output=output))
            fftw = kernel("fftw", lambda: sft.stft(x, output=output))
            check_output(simd, S_ref, output, dtype)
            if output != "log_power":
                assert rel_err(simd, fftw) <= 2 * RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", ["zeros", "edge", "even", "odd"])
@pytest.mark.parametrize("geom", [(64, 16, 64, 37), (48, 5, 64, 700), (256, 64, 256, 1000), (16, 1, 16, 21)])
def test_paddings_and_frame_ranges(dtype, padding, geom, kernel):
    """Every padding mode over the default frame range and sub-ranges that start or end in the
    padding (edge groups take the lane-by-lane gather), signals shorter than the window."""
    m, hop, mfft, n = geom
    needs_simd(mfft, dtype)
    win = get_window("blackman", m)
    sft = STFT(win.astype(dtype), hop, mfft=mfft)
    x = signal((2, 3, n), dtype, seed=m + n)
    p_max = sft.p_max(n)
    ranges = [(None, None), (sft.p_min, min(sft.p_min + 9, p_max)), (max(sft.p_min, p_max - 11), p_max)]
    if sft.p_min + 3 < p_max - 2:
        ranges.append((sft.p_min + 3, p_max - 2))
    for p0, p1 in ranges:
        q0, q1 = sft.p_range(n, p0, p1)
        S_ref = ref.stft(x.astype(np.float64), win, hop, mfft=mfft, p0=q0, p1=q1, padding=padding)
        got = kernel("auto", lambda: sft.stft(x, p0, p1, padding=padding))
        assert got.shape == (2, 3, sft.f_pts, q1 - q0)
        assert rel_err(got, S_ref) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_scipy(dtype, kernel):
    signal_mod = pytest.importorskip("scipy.signal")
    needs_simd(256, dtype)
    x = signal((5, 4099), dtype, seed=3)
    win = get_window("hamming", 200)
    sft = STFT(win.astype(dtype), 50, mfft=256, scale_to="magnitude")
    S_sc = signal_mod.ShortTimeFFT(win, 50, 1.0, mfft=256, scale_to="magnitude").stft(x.astype(np.float64))
    assert rel_err(kernel("auto", lambda: sft.stft(x)), S_sc) <= RTOL[dtype]


# ------------------------------------------------------------------------------ properties
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_vs_two_threads_bit_identical(dtype, kernel):
    """Several blocks per row (more than 256 frames) and a partial last group."""
    needs_simd(128, dtype)
    x = signal((3, 20011), dtype, seed=12)
    sft = STFT.from_window("hann", 1.0, nperseg=128, hop=32)
    for output in OUTPUTS:
        a = kernel("auto", lambda: sft.stft(x, output=output, padding="odd", n_threads=1))
        b = kernel("auto", lambda: sft.stft(x, output=output, padding="odd", n_threads=2))
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_frame_major_equals_bin_major(dtype, kernel):
    """The kernel's frame-major layout (torch's) holds the same bits as the bin-major one."""
    needs_simd(64, dtype)
    win = get_window("hann", 64).astype(dtype)
    sft = STFT(win, 12)
    x = signal((3, 401), dtype, seed=5)
    S = kernel("auto", lambda: sft.stft(x))
    P = kernel("auto", lambda: sft.stft(x, output="power"))
    p0, p1 = sft.p_min, sft.p_max(401)
    fm = np.empty((3, p1 - p0, sft.f_pts), dtype=S.dtype)
    fp = np.empty((3, p1 - p0, sft.f_pts), dtype=dtype)
    kernel("auto", lambda: _core.stft_forward(x, win, fm, 12, 64, True, 0, p0, p1, 0, 1.0, 0, True))
    kernel("auto", lambda: _core.stft_forward_real(x, win, fp, 12, 64, True, 0, p0, p1, 0, 2, 1.0, 1e-10, 0, True))
    np.testing.assert_array_equal(fm.swapaxes(-1, -2), S)
    np.testing.assert_array_equal(fp.swapaxes(-1, -2), P)


@pytest.mark.parametrize("dtype", DTYPES)
def test_magnitude_without_overflow_or_underflow(dtype, kernel):
    """|S| for values whose square overflows or underflows: scaled like hypot, not sqrt(P)."""
    needs_simd(64, dtype)
    fi = np.finfo(dtype)
    sft = STFT(get_window("hann", 64).astype(dtype), 16)
    x = signal((2, 300), np.float64, seed=8)
    S_ref = np.abs(ref.stft(x, get_window("hann", 64), 16, p0=sft.p_min, p1=sft.p_max(300)))
    for scale in (np.sqrt(fi.max) / 4, np.sqrt(fi.tiny) * 4):
        xs = (x * scale).astype(dtype)
        got = kernel("auto", lambda: sft.stft(xs, output="magnitude"))
        assert np.all(np.isfinite(got))
        assert rel_err(got / scale, S_ref) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_in_zero_out(dtype, kernel):
    needs_simd(32, dtype)
    sft = STFT(get_window("hann", 32).astype(dtype), 8)
    x = np.zeros((2, 100), dtype)
    for output in ("complex", "magnitude", "power"):
        assert not np.any(kernel("auto", lambda: sft.stft(x, output=output)))
    np.testing.assert_array_equal(kernel("auto", lambda: sft.stft(x, output="log_power")),
                                  np.full((2, sft.f_pts, sft.p_num(100)), np.log(dtype(1e-10)), dtype))


# ------------------------------------------------------------------------------ fuzz
@settings(max_examples=40, deadline=None)
@given(log2_mfft=st.integers(4, 9), m_frac=st.floats(0.05, 1.0), hop=st.integers(1, 40), n=st.integers(1, 900),
       batch=st.integers(1, 3), shift=st.sampled_from([0, None, 7]),
       padding=st.sampled_from(["zeros", "edge", "even", "odd"]), f64=st.booleans(),
       output=st.sampled_from(OUTPUTS))
def test_fuzz_against_reference(log2_mfft, m_frac, hop, n, batch, shift, padding, f64, output):
    dtype = np.float64 if f64 else np.float32
    mfft = 1 << log2_mfft
    m = max(1, int(round(m_frac * mfft)))
    if not _core.stft_simd_applies(mfft, f64):
        pytest.skip("the SIMD STFT kernel does not run here")
    win = get_window("hann", m) if m > 2 else np.ones(m)
    sft = STFT(win.astype(dtype), hop, mfft=mfft, phase_shift=shift)
    n = max(n, m - m // 2)  # the shortest signal STFT accepts
    x = signal((batch, n), dtype, seed=n)
    p0, p1 = sft.p_min, sft.p_max(n)
    if padding != "zeros" and p0 * hop - m // 2 >= n:
        pytest.skip("frames past the end of x: nothing to pad from (tested in test_stft.py)")
    S_ref = ref.stft(x.astype(np.float64), win, hop, mfft=mfft, phase_shift=shift, p0=p0, p1=p1, padding=padding)
    check_output(sft.stft(x, output=output, padding=padding), S_ref, output, dtype)


# ------------------------------------------------------------------------------ switch
def test_kernel_switch_and_errors(kernel):
    assert _core.stft_kernel() in ("auto", "fftw")
    assert kernel("fftw", lambda: (_core.stft_kernel(), _core.stft_simd_applies(256, False))) == ("fftw", False)
    with pytest.raises(ValueError, match=r"kernel='simd' must be 'auto', 'fftw' or ''"):
        _core.stft_kernel("simd")
    # outside the SIMD range: FFTW whatever the setting
    for mfft in (8, 8192, 48, 100):
        assert not _core.stft_simd_applies(mfft, False)


def test_environment_forces_fftw():
    code = ("from scatclust import _core; "
            "print(_core.stft_kernel(), _core.stft_simd_applies(256, False), _core.stft_simd_applies(256, True))")
    env = dict(os.environ, SCATCLUST_STFT_KERNEL="fftw", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["fftw", "False", "False"]


# ------------------------------------------------------------------------------ AVX2 build
_AVX2_SCRIPT = """
import sys
import numpy as np
from scatclust import STFT, _core, get_window
assert _core.stft_simd_applies(16, False), "SIMD kernel not active"
out = {}
for dtype in (np.float32, np.float64):
    for mfft, m, hop, n, padding, output in ((16, 11, 3, 101, "odd", "complex"), (128, 128, 32, 1001, "even", "power"),
                                            (4096, 3001, 700, 9000, "edge", "magnitude"),
                                            (256, 250, 64, 2049, "zeros", "complex")):
        x = np.random.default_rng(m).standard_normal((3, n)).astype(dtype)
        sft = STFT(get_window("hann", m).astype(dtype), hop, mfft=mfft, phase_shift=None)
        out[(np.dtype(dtype).name, mfft)] = sft.stft(x, padding=padding, output=output)
np.save(sys.argv[1], np.array([out], dtype=object), allow_pickle=True)
"""


def test_avx2_kernel_matches_reference(tmp_path):
    """On AVX-512 CPUs the kernel runs 16/8 frames per register; SCATCLUST_STFT_ISA=x86-64-v3
    selects the AVX2 build (8/4 frames), checked here in a subprocess (the pick is per process).
    Both builds do the same lane-wise arithmetic, so they also agree bit for bit."""
    if not (_core.stft_simd_applies(16, False) and _core.stft_kernel() == "auto"):
        pytest.skip("the SIMD STFT kernel does not run here")
    env = dict(os.environ, SCATCLUST_STFT_ISA="x86-64-v3", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    f = tmp_path / "out.npy"
    res = subprocess.run([sys.executable, "-c", _AVX2_SCRIPT, str(f)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    got = np.load(f, allow_pickle=True)[0]
    assert len(got) == 8
    for dtype in DTYPES:
        for mfft, m, hop, n, padding, output in ((16, 11, 3, 101, "odd", "complex"),
                                                (128, 128, 32, 1001, "even", "power"),
                                                (4096, 3001, 700, 9000, "edge", "magnitude"),
                                                (256, 250, 64, 2049, "zeros", "complex")):
            x = np.random.default_rng(m).standard_normal((3, n)).astype(dtype)
            win = get_window("hann", m)
            sft = STFT(win.astype(dtype), hop, mfft=mfft, phase_shift=None)
            S_ref = ref.stft(x.astype(np.float64), win, hop, mfft=mfft, phase_shift=None, p0=sft.p_min,
                             p1=sft.p_max(n), padding=padding)
            check_output(got[(np.dtype(dtype).name, mfft)], S_ref, output, dtype)
            here = sft.stft(x, padding=padding, output=output)  # this process's build
            np.testing.assert_array_equal(got[(np.dtype(dtype).name, mfft)], here)
