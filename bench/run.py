"""scatclust benchmarks: median wall times and ratios against the numpy reference and the
tools users would pick instead, at 1 and 2 threads. Not part of the test suite.

    python bench/run.py            # all kernels, prints Markdown tables
    python bench/run.py --quick    # smaller workloads (smoke run)

Workloads (from the InSight method, arXiv 2305.16189): 20 Hz VBB data in 65536-sample
windows (~55 min), J=8 octaves; first-layer Morlet bank with Q=8 (kymatio-style features);
spectrograms with 256-sample Hann windows and hop 64 (DEC-style inputs).
Timings exclude plan/filter construction, which is timed separately.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, measure_interleaved, table, timeit  # noqa: E402

import scatclust  # noqa: E402
from scatclust import _core, reference  # noqa: E402


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def ratio_rows(results, base_key):
    """Rows (threads, implementation, median, ratio to scatclust, peak RSS) for 1 and 2 threads.

    Keys ending in "1T"/"2T" belong to that thread count; other keys (single-threaded
    tools) appear under both, each time divided by the scatclust time at that count.
    """
    rows = []
    for nt in (1, 2):
        base = results[base_key.format(nt=nt)][0]
        for name, (t, mem) in results.items():
            if name.endswith(f"{3 - nt}T"):
                continue
            rows.append((f"{nt} thread{'s' if nt > 1 else ''}", name, fmt_t(t), f"{t / base:.2f}", f"{mem:.0f}"))
    return rows


HEADERS = ["threads", "implementation", "median", "time / scatclust", "extra peak MiB"]


def kymatio_first_layer(S, B, x):
    """kymatio 0.3's first scattering layer |x * psi1| with its own backend ops and filters
    (S: a 1-D frontend, B: the matching backend, numpy or torch)."""
    U0_hat = B.rfft(B.pad(x, S.pad_left, S.pad_right))
    out = []
    for psi in S.psi1_f:
        k1 = max(min(psi["j"], S.log2_T), 0)
        U1 = B.modulus(B.ifft(B.subsample_fourier(B.cdgmm(U0_hat, psi["levels"][0]), 2**k1)))
        out.append(B.unpad(U1, S.ind_start[k1], S.ind_end[k1]))
    return out


def bench_wavelet(quick, repeat):
    N, J, Q = (16384, 6, 8) if quick else (65536, 8, 8)
    batch = 4 if quick else 16
    dtype = np.float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, N)).astype(dtype)
    x64 = x.astype(np.float64)

    t_bank = timeit(lambda: scatclust.MorletFilterBank(N, J, Q), repeat=3, warmup=1)
    wt = scatclust.WaveletTransform(N, J, Q)
    fb = wt.filter_bank
    subs = wt.log2_subsampling(0)

    # The same FFTs through the plan cache alone: one r2c of N_padded per signal, one
    # inverse c2c of N_padded / 2^k per (signal, filter).
    sig = np.ascontiguousarray(np.zeros((batch, fb.N_padded), dtype=dtype))
    spec = np.empty((batch, fb.N_padded // 2 + 1), dtype=np.complex64)
    groups = {}
    for k in subs:
        groups[k] = groups.get(k, 0) + 1
    bufs = {k: (np.zeros((batch * c, fb.N_padded >> k), dtype=np.complex64),
                np.empty((batch * c, fb.N_padded >> k), dtype=np.complex64)) for k, c in groups.items()}

    def fftw_alone(nt):
        _core.fft_r2c(sig, spec, nt)
        for a, b in bufs.values():
            _core.fft_c2c(a, b, False, nt)

    results = {}
    for nt in (1, 2):
        results[f"scatclust {nt}T"] = measure(lambda: wt.subsampled(x, modulus=True, n_threads=nt), repeat)
        results[f"FFTW alone {nt}T"] = measure(lambda: fftw_alone(nt), repeat)
    ref_bank = reference.morlet_filter_bank(N, J, Q)
    results["numpy reference"] = measure(lambda: reference.scattering_first_layer(x64, ref_bank), max(3, repeat // 2))
    try:
        from kymatio.scattering1d.backend.numpy_backend import backend as KB
        from kymatio.scattering1d.frontend.numpy_frontend import ScatteringNumPy1D

        S = ScatteringNumPy1D(J=J, shape=N, Q=Q)
        results["kymatio 0.3 (numpy)"] = measure(lambda: kymatio_first_layer(S, KB, x64), max(3, repeat // 2))
    except ImportError:
        pass
    try:
        import torch
        from kymatio.scattering1d.backend.torch_backend import backend as KT
        from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D

        St = ScatteringTorch1D(J=J, shape=N, Q=Q)
        xt = torch.from_numpy(x)
        for nt in (1, 2):
            torch.set_num_threads(nt)
            with torch.no_grad():
                results[f"kymatio 0.3 (torch) {nt}T"] = measure(lambda: kymatio_first_layer(St, KT, xt),
                                                               max(3, repeat // 2))
    except ImportError:
        pass

    rows = ratio_rows(results, "scatclust {nt}T")
    print(f"\n### Wavelet transform, first layer |x * psi1| (kymatio subsampling), float32\n"
          f"batch={batch}, N={N}, J={J}, Q={Q} ({fb.n_filters} wavelets, N_padded={fb.N_padded}); "
          f"filter bank construction {fmt_t(t_bank)} (once)\n")
    print(table(rows, HEADERS))
    return results


def bench_stft(quick, repeat, dtype=np.float32):
    """Spectrograms: Hann 256, hop 64 (75% overlap), batch of 20 Hz windows."""
    batch, n = (4, 16384) if quick else (16, 65536)
    nperseg, hop = 256, 64
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, n)).astype(dtype)
    win = scatclust.get_window("hann", nperseg).astype(dtype)
    dname = np.dtype(dtype).name
    t_plan = timeit(lambda: scatclust.STFT(win, hop), repeat=3, warmup=1)
    sft = scatclust.STFT(win, hop)  # scipy ShortTimeFFT conventions (phase_shift=0)
    import torch

    xt = torch.from_numpy(x)
    wt = torch.hann_window(nperseg, dtype=xt.dtype)

    def on(kernel, fn):
        """fn under one forward kernel: 'auto' (own SIMD FFT on AVX2 CPUs) or 'fftw'."""
        def run():
            _core.stft_kernel(kernel)
            try:
                return fn()
            finally:
                _core.stft_kernel("auto")
        return run

    simd = _core.stft_simd_applies(nperseg, dtype == np.float64)
    results = {}
    for nt in (1, 2):
        # ours and torch's timed in alternation (one call each per round), so that the load
        # of a shared machine affects both alike
        torch.set_num_threads(nt)
        cases = {
            f"scatclust STFT.stft {nt}T": lambda: sft.stft(x, n_threads=nt),
            f"scatclust power (fused) {nt}T": lambda: sft.stft(x, output="power", n_threads=nt),
            f"scatclust stft(), torch framing {nt}T": lambda: scatclust.stft(x, nperseg, hop, n_threads=nt),
            f"torch.stft {nt}T": lambda: torch.stft(xt, nperseg, hop, window=wt, center=True, pad_mode="constant",
                                                    return_complex=True),
        }
        if simd:  # the same calls on the FFTW kernel, for comparison
            cases[f"scatclust STFT.stft, FFTW kernel {nt}T"] = on("fftw", lambda: sft.stft(x, n_threads=nt))
            cases[f"scatclust power, FFTW kernel {nt}T"] = on(
                "fftw", lambda: sft.stft(x, output="power", n_threads=nt))
        results.update(measure_interleaved(cases, rounds=max(repeat, 15)))
    from scipy.signal import ShortTimeFFT

    ssft = ShortTimeFFT(win, hop, fs=1.0)
    results["scipy ShortTimeFFT.stft"] = measure(lambda: ssft.stft(x), repeat)
    results["numpy reference"] = measure(
        lambda: reference.stft.stft(x.astype(np.float64), win.astype(np.float64), hop, p0=sft.p_min, p1=sft.p_max(n)),
        max(3, repeat // 2))
    rows = ratio_rows(results, "scatclust STFT.stft {nt}T")
    kern = "own SIMD FFT across frames (AVX2 or AVX-512)" if simd else "FFTW"
    print(f"\n### STFT, complex output unless noted, {dname}\n"
          f"batch={batch}, n={n}, Hann nperseg={nperseg}, hop={hop}; forward kernel: {kern}; "
          f"STFT object construction {fmt_t(t_plan)} (once); scatclust and torch rows timed "
          f"in alternation\n")
    print(table(rows, HEADERS))

    # Inverse
    S = sft.stft(x)
    S64 = S.astype(np.complex128)
    St = torch.stft(xt, nperseg, hop, window=wt, center=True, pad_mode="constant", return_complex=True)
    inv = {}
    for nt in (1, 2):
        inv[f"scatclust STFT.istft {nt}T"] = measure(lambda: sft.istft(S, k1=n, n_threads=nt), repeat)
    inv["scipy ShortTimeFFT.istft"] = measure(lambda: ssft.istft(S, k1=n), repeat)
    inv["numpy reference"] = measure(lambda: reference.stft.istft(S64, sft.dual_win.astype(np.float64), hop, k0=0, k1=n, p_first=sft.p_min),
                                     max(3, repeat // 2))
    for nt in (1, 2):
        torch.set_num_threads(nt)
        inv[f"torch.istft {nt}T"] = measure(
            lambda: torch.istft(St, nperseg, hop, window=wt, center=True, length=n), repeat)
    print(f"\n### Inverse STFT (overlap-add with the dual window), {dname}\n")
    print(table(ratio_rows(inv, "scatclust STFT.istft {nt}T"), HEADERS))



def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small workloads, for a smoke run")
    ap.add_argument("--repeat", type=int, default=7, help="timed repetitions per case (median reported)")
    ap.add_argument("--kernels", default="wavelet,stft", help="comma-separated subset of: wavelet, stft")
    args = ap.parse_args(argv)
    print(f"Machine: {machine_description()}")
    print(f"scatclust {scatclust.__version__}, numpy {np.__version__}, FFTW planner '{scatclust.fft.get_planner()}'")
    ap_kernels = args.kernels.split(",")
    if "wavelet" in ap_kernels:
        bench_wavelet(args.quick, args.repeat)
    if "stft" in ap_kernels:
        bench_stft(args.quick, args.repeat, np.float32)
        bench_stft(args.quick, args.repeat, np.float64)


if __name__ == "__main__":
    main()
