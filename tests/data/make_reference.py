"""Regenerate tests/data/reference_values.npz from the peer libraries.

The stored values let the suite check the core against kymatio 0.3 and scipy without
importing them (and catch a silent change in either). Run from the repository root:

    python tests/data/make_reference.py

Contents (all float64 / complex128):
- kymatio 0.3.0, Scattering1D(J=4, shape=300, Q=(4, 2), T=None): psi1_f, psi2_f, phi_f
  (level 0), xi1, sigma1, j1, and the first-layer modulus |x * psi1| (oversampling 0) of the
  signal x_wavelet, concatenated over filters (u1_flat) with their lengths (u1_len);
- scipy ShortTimeFFT(hann(64, periodic), hop=16, fs=1.0, mfft=80, phase_shift=0) .stft of
  x_stft with padding='even' (stft_even), and .istft of that result (istft).
"""
import os

import numpy as np


def main():
    from kymatio.scattering1d.backend.numpy_backend import backend as B
    from kymatio.scattering1d.frontend.numpy_frontend import ScatteringNumPy1D
    from scipy.signal import ShortTimeFFT, get_window

    rng = np.random.default_rng(20261125)
    out = {}

    J, N, Q = 4, 300, (4, 2)
    S = ScatteringNumPy1D(J=J, shape=N, Q=Q)
    out["psi1_f"] = np.array([p["levels"][0] for p in S.psi1_f])
    out["psi2_f"] = np.array([p["levels"][0] for p in S.psi2_f])
    out["phi_f"] = np.asarray(S.phi_f["levels"][0])
    out["xi1"] = np.array([p["xi"] for p in S.psi1_f])
    out["sigma1"] = np.array([p["sigma"] for p in S.psi1_f])
    out["j1"] = np.array([p["j"] for p in S.psi1_f])
    x = rng.standard_normal((2, N))
    out["x_wavelet"] = x
    U0_hat = B.rfft(B.pad(x, S.pad_left, S.pad_right))
    u1 = []
    for psi in S.psi1_f:
        k1 = max(min(psi["j"], S.log2_T), 0)
        U1 = B.modulus(B.ifft(B.subsample_fourier(B.cdgmm(U0_hat, psi["levels"][0]), 2**k1)))
        u1.append(B.unpad(U1, S.ind_start[k1], S.ind_end[k1]))
    out["u1_len"] = np.array([u.shape[-1] for u in u1])
    out["u1_flat"] = np.concatenate(u1, axis=-1)

    win = get_window("hann", 64, fftbins=True)
    sft = ShortTimeFFT(win, 16, fs=1.0, mfft=80, phase_shift=0)
    xs = rng.standard_normal((3, 500))
    out["x_stft"] = xs
    out["stft_even"] = sft.stft(xs, padding="even")
    out["istft"] = sft.istft(out["stft_even"], k1=500)

    path = os.path.join(os.path.dirname(__file__), "reference_values.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
