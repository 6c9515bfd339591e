"""Fuzzing the bindings and front ends with hypothesis: any input either works or raises
ValueError/TypeError/IndexError with a message -- never a crash or a hang."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scatclust import MorletFilterBank, WaveletTransform
from scatclust import _core

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OK_ERRORS = (ValueError, TypeError, IndexError)

numbers = st.one_of(st.integers(-5, 5000), st.floats(allow_nan=True, allow_infinity=True), st.none(),
                    st.text(max_size=3), st.tuples(st.integers(-2, 20), st.integers(-2, 20)))


@FUZZ
@given(N=numbers, J=numbers, Q=numbers, T=numbers)
def test_filter_bank_arguments(N, J, Q, T):
    try:
        fb = MorletFilterBank(N, J, Q, T)
    except OK_ERRORS as e:
        assert str(e)
    else:
        assert fb.N == N and fb.psi1_f.shape[1] == fb.N_padded and np.isfinite(fb.psi1_f).all()


@FUZZ
@given(N=st.integers(-3, 3000), J=st.integers(-2, 30), Q1=st.integers(-2, 70), Q2=st.integers(-2, 70),
       T=st.one_of(st.floats(-10, 1e5), st.just(float("nan"))), kind=st.sampled_from(["kymatio", "spectra", "", "x"]))
def test_core_filter_bank_constructor(N, J, Q1, Q2, T, kind):
    try:
        _core.MorletFilterBankCore(N, J, Q1, Q2, T, kind, 0.7071, 0.1, 5.0)
    except OK_ERRORS as e:
        assert str(e)


arrays = st.one_of(
    st.builds(lambda s, d: np.zeros(s, dtype=d), st.lists(st.integers(0, 5), max_size=3).map(tuple),
              st.sampled_from([np.float32, np.float64, np.int16, np.complex64, np.bool_])),
    st.builds(lambda n, v: np.full(n, v), st.integers(0, 300), st.floats(allow_nan=True, allow_infinity=True)),
)


@FUZZ
@given(x=arrays, padding=st.sampled_from(["reflect", "zero", "periodic"]), modulus=st.booleans(),
       oversampling=st.integers(-2, 10))
def test_wavelet_transform_inputs(x, padding, modulus, oversampling):
    wt = WaveletTransform(256, 4, 2, padding=padding)
    try:
        wt(x, modulus=modulus)
        wt.subsampled(x, oversampling=oversampling, modulus=modulus)
    except OK_ERRORS as e:
        assert str(e)


@FUZZ
@given(rows=st.integers(0, 4), n=st.integers(0, 300), log2_sub=st.lists(st.integers(-3, 12), min_size=0, max_size=4),
       n_input=st.integers(-5, 300), pad_left=st.integers(-5, 300), mode=st.integers(-1, 3),
       out_size=st.integers(0, 4000))
def test_core_wavelet_kernel(rows, n, log2_sub, n_input, pad_left, mode, out_size):
    """Direct calls with inconsistent geometry must be refused, not crash."""
    filters = np.ones((max(len(log2_sub), 0), 256))
    ind = [128 >> k for k in range(10)]
    try:
        k = _core.WaveletTransformF64(filters, log2_sub, n_input, pad_left, ind, [i + n_input for i in ind], mode)
        k.execute_modulus(np.zeros((rows, n)), np.zeros(out_size), False)
    except OK_ERRORS as e:
        assert str(e)


def test_fuzzing_found_the_error_paths():
    """Guard: the fuzzed constructor really raises for some inputs (the tests above can fail)."""
    with pytest.raises(ValueError):
        _core.MorletFilterBankCore(0, 3, 1, 1, 1.0, "kymatio", 0.7, 0.1, 5.0)


# ---------------------------------------------------------------------------- STFT
@FUZZ
@given(x=arrays, nperseg=st.one_of(st.integers(-2, 400), st.floats(allow_nan=True), st.none()),
       hop=st.one_of(st.integers(-2, 300), st.floats(allow_nan=True)), nfft=st.one_of(st.none(), st.integers(-2, 600)),
       window=st.sampled_from(["hann", "hamming", "boxcar", "nope", None]),
       padding=st.sampled_from(["zeros", "edge", "even", "odd", "wrap"]),
       output=st.sampled_from(["complex", "magnitude", "power", "log_power", "db"]), center=st.booleans())
def test_stft_function_inputs(x, nperseg, hop, nfft, window, padding, output, center):
    from scatclust import stft

    try:
        S = stft(x, nperseg, hop, nfft=nfft, window=window, padding=padding, output=output, center=center)
    except OK_ERRORS as e:
        assert str(e)
    else:
        assert np.all(np.isfinite(S)) or output == "log_power"


big = st.integers(-(2**62), 2**62)


@FUZZ
@given(rows=st.integers(0, 3), n=st.integers(0, 50), m=st.integers(0, 40), hop=st.one_of(st.integers(-3, 40), big),
       mfft=st.one_of(st.integers(-3, 64), st.integers(2**30, 2**31 - 1)), has_ps=st.booleans(),
       ps=st.one_of(st.integers(-70, 70), big), p0=st.one_of(st.integers(-20, 20), big),
       p1=st.one_of(st.integers(-20, 20), big), padding=st.integers(-1, 4), out_t=st.integers(0, 30))
def test_core_stft_kernels(rows, n, m, hop, mfft, has_ps, ps, p0, p1, padding, out_t):
    """Direct kernel calls with arbitrary (inconsistent, huge) geometry are refused cleanly."""
    x = np.ones((rows, n))
    win = np.ones(m)
    nf = max(mfft // 2 + 1, 0) if mfft < 1000 else 3
    try:
        _core.stft_forward(x, win, np.zeros((rows, nf, out_t), complex), hop, mfft, has_ps, ps, p0, p1, padding)
    except OK_ERRORS as e:
        assert str(e)
    try:
        _core.stft_inverse(np.zeros((rows, nf, max(out_t, 0)), complex), win, np.zeros((rows, n)), hop, mfft,
                           has_ps, ps, p0, p0, p1, p1)
    except OK_ERRORS as e:
        assert str(e)
