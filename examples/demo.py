"""scatclust demo (foundation and scattering stages): wavelet, STFT, scattering and
scattering-spectra features of a built-in synthetic seismic record, with shapes and timings.

The record imitates one hour of 20 Hz seismometer data: coloured background noise, a
daily-cycle amplitude drift, a few broadband "glitches" (one-sided steps), and two
emergent events whose energy sits in different frequency bands. The demo builds the
kymatio-compatible Morlet filter bank, computes the first scattering layer |x * psi| on
nested windows, averages it into per-window scalograms, computes a spectrogram, the
second-order scattering transform, and the multi-scale scattering-spectra pyramid of the
InSight method (nested windows of 1024...16384 samples slid by 1024, each coefficient of the
record computed once).

Run:  make demo     (or  python examples/demo.py  inside the venv)
"""
from __future__ import annotations

import time

import numpy as np

import scatclust


def synthetic_record(fs=20.0, seconds=3600, seed=0):
    """One hour of synthetic 20 Hz data with glitches and two band-limited events."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    noise = np.cumsum(rng.standard_normal(n)) * 0.02 + rng.standard_normal(n)
    noise -= np.convolve(noise, np.ones(2001) / 2001, mode="same")  # remove the random walk's drift
    x = noise * (1.0 + 0.5 * np.sin(2 * np.pi * t / seconds))
    for t0 in (600.0, 1900.0, 3100.0):  # glitches: decaying one-sided steps
        i0 = int(t0 * fs)
        x[i0:] += 25.0 * np.exp(-(t[i0:] - t0) / 8.0)
    for t0, f0, dur in ((1200.0, 2.4, 120.0), (2500.0, 0.4, 300.0)):  # emergent events
        env = np.exp(-0.5 * ((t - t0 - dur / 2) / (dur / 4)) ** 2)
        x += 6.0 * env * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
    return x, fs


def main():
    x, fs = synthetic_record()
    print(f"scatclust {scatclust.__version__}: {scatclust.get_num_threads()} threads")
    print(f"record: {x.size} samples at {fs:g} Hz ({x.size / fs / 60:.0f} min)")

    # Nested windows: 4096 samples (~3.4 min) slid by half a window.
    win, hop = 4096, 2048
    starts = np.arange(0, x.size - win + 1, hop)
    windows = np.stack([x[s:s + win] for s in starts]).astype(np.float32)
    print(f"windows: {windows.shape} (float32)")

    t0 = time.perf_counter()
    wt = scatclust.WaveletTransform(N=win, J=8, Q=8)
    t_bank = time.perf_counter() - t0
    fb = wt.filter_bank
    f_hz = fb.frequencies(fs)
    print(f"Morlet bank: {fb.n_filters} wavelets, {f_hz.min():.3f}-{f_hz.max():.2f} Hz, "
          f"padded to {fb.N_padded} samples, built in {t_bank * 1e3:.1f} ms")

    wt.subsampled(windows[:2], modulus=True)  # warm-up (plans)
    t0 = time.perf_counter()
    U1 = wt.subsampled(windows, modulus=True)
    t_wt = time.perf_counter() - t0
    print(f"first layer |x * psi|: {len(U1)} arrays, shapes {U1[0].shape} ... {U1[-1].shape}, "
          f"{t_wt * 1e3:.1f} ms ({t_wt / len(windows) * 1e6:.0f} us per window)")

    # Per-window scalogram (time-averaged first layer), log-scaled.
    scalogram = np.log(np.stack([u.mean(axis=-1) for u in U1], axis=-1) + 1e-6)
    print(f"scalogram features: {scalogram.shape}")
    for label, t_event, f_event in (("event A", 1260.0, 2.4), ("event B", 2650.0, 0.4)):
        w = int(np.argmin(np.abs((starts + win / 2) / fs - t_event)))
        band = int(np.argmax(scalogram[w] - np.median(scalogram, axis=0)))
        print(f"  {label} (window {w}, t={starts[w] / fs:.0f} s): strongest excess at "
              f"{f_hz[band]:.2f} Hz (true {f_event} Hz)")

    # Spectrogram (scipy ShortTimeFFT conventions) and the exact inverse.
    sft = scatclust.STFT.from_window("hann", fs=fs, nperseg=256, noverlap=192)
    x32 = x.astype(np.float32)
    sft.stft(x32[:4096])  # warm-up (plans)
    t0 = time.perf_counter()
    P = sft.stft(x32, output="power")
    t_stft = time.perf_counter() - t0
    print(f"spectrogram (Hann 256 samples = {256 / fs:.1f} s, hop 64): {P.shape} = (frequencies, frames), "
          f"{t_stft * 1e3:.1f} ms; bin width {sft.delta_f:.4f} Hz")
    for label, t_event, f_event in (("event A", 1260.0, 2.4), ("event B", 2650.0, 0.4)):
        frame = int(round(t_event * fs / sft.hop)) - sft.p_min
        excess = np.log(P[:, frame] + 1e-12) - np.median(np.log(P + 1e-12), axis=1)
        print(f"  {label} at t={t_event:.0f} s: strongest excess power at {sft.f[np.argmax(excess)]:.2f} Hz "
              f"(true {f_event} Hz)")
    X = sft.stft(x)
    xr = sft.istft(X, k1=x.size)
    print(f"istft(stft(x)) round trip (float64): max |error| {np.abs(xr - x).max():.1e} "
          f"for max |x| {np.abs(x).max():.1f}")

    # Second-order scattering (kymatio 0.3's Scattering1D, same numbers) of the windows.
    S = scatclust.Scattering1D(J=8, shape=win, Q=(8, 1))
    S(windows[:2])  # warm-up (plans)
    t0 = time.perf_counter()
    Sx = S(windows)
    t_s = time.perf_counter() - t0
    order = S.meta()["order"]
    print(f"scattering (J=8, Q=(8,1)): {Sx.shape} = (windows, paths, time); "
          f"{(order == 1).sum()} first- and {(order == 2).sum()} second-order paths; {t_s * 1e3:.1f} ms")

    # Scattering-spectra pyramid: every window position (hop 1024) at three nested scales.
    pyr = scatclust.ScatteringPyramid(J=8, scales=(1024, 4096, 16384), hop=1024, normalize="correlation")
    t0 = time.perf_counter()
    out = pyr.transform(x32)
    t_p = time.perf_counter() - t0
    print(f"scattering-spectra pyramid: {out.features.shape} = (window positions, scales, moments) "
          f"in {t_p * 1e3:.0f} ms")
    cols = pyr.meta()
    sparsity = [i for i, c in enumerate(cols) if c["family"] == "sparsity"]
    # Normalised sparsity Phi1/sqrt(Phi2) is sqrt(pi)/2 = 0.886 for Gaussian noise and drops
    # for intermittent signals: the glitches show up at the smallest scale.
    sp = out.features[:, 0, sparsity].real.min(axis=1)
    t_end = out.window_end / fs
    print(f"  first window position ends at t={t_end[0]:.0f} s (the largest scale, 16384 samples)")
    for t_g in (1900.0, 3100.0):  # the glitches after the first window end
        w = int(np.argmin(np.abs(t_end - (t_g + 20.0))))
        print(f"  glitch at t={t_g:.0f} s: min normalised sparsity {sp[w]:.2f} "
              f"(median over the record {np.median(sp):.2f}; Gaussian noise {np.sqrt(np.pi) / 2:.3f})")


if __name__ == "__main__":
    main()
