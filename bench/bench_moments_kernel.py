"""Scattering-spectra moment kernel (_core.ScatteringMomentsF32): forward and forward +
backward against a straightforward pure-torch implementation, at 1 and 2 threads.
Standalone; prints Markdown tables.

    python bench/bench_moments_kernel.py            # B = 64, N = 65536, J = 8, C = 1, float32
    python bench/bench_moments_kernel.py --quick    # B = 8, N = 16384 (smoke run)

Workloads
- "windows": InSight-sized windows (20 Hz, 65536 samples = 55 min), J = 8, one channel,
  a batch of 64, all 210 moments of the spec's families (mean, sparsity, power, envelope,
  phase_env, env_cross), global mean (K = S = N), symmetric padding.
- "pyramid block": what the pyramid asks of the kernel: one long 3-component block
  (B = 1, C = 3, N = 2^20, --quick: 2^18), the 210 x 3 moments plus the cross-channel ones,
  pooled with K = S = 1024 and offset 512. scatclust only (time and extra peak memory).

scatclust: forward = ``forward``; forward + backward = ``forward`` then ``backward`` (which
recomputes the forward series). torch: the spec written with torch.fft and broadcasting over
the (j1, j2) pairs and the moment index lists, in chunks of 4 batch elements (the unchunked
products need > 10 GB), complex64; backward = autograd of sum(Re(conj(G) m)).
Filters: analytic Gaussian band-pass bank (the kernel does not depend on the wavelet family
beyond the number of exactly-zero bins, which these Gaussians have few of in float32).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, measure, table  # noqa: E402

from scatclust import _core  # noqa: E402


def gaussian_bank(J, P):
    w = np.fft.fftfreq(P)
    psi = np.zeros((J, P))
    for j in range(J):
        xi, sigma = 0.35 * 2.0 ** -j, 0.12 * 2.0 ** -j
        psi[j] = np.where(w >= 0, np.exp(-((w - xi) ** 2) / (2 * sigma**2)), 0.0)
    phi = np.exp(-(w**2) / (2 * (0.12 * 2.0**-J) ** 2))
    return psi, phi


def pairs(J):
    return [(a, b) for a in range(J) for b in range(a + 1, J + 1)]


def family_terms(J, C, cross=False):
    pidx = {p: J + 1 + i for i, p in enumerate(pairs(J))}
    rows = []
    for c in range(C):
        rows.append((0, c, J, 0, 0))
        rows += [(1, c, j, 0, 0) for j in range(J)]
        rows += [(2, c, j, c, j) for j in range(J + 1)]
        rows += [(1, c, pidx[p], 0, 0) for p in pairs(J)]
        rows += [(2, c, p[1], c, pidx[p]) for p in pairs(J)]
        rows += [(2, c, pidx[(a, b)], c, pidx[(ap, b)]) for b in range(1, J + 1) for a in range(b)
                 for ap in range(a + 1)]
    if cross:
        for ca in range(C):
            for cb in range(ca + 1, C):
                rows += [(2, ca, j, cb, j) for j in range(J + 1)]
                rows += [(2, ca, pidx[p], cb, pidx[p]) for p in pairs(J)]
    return np.array(rows, dtype=np.int32)


class TorchMoments:
    """All families of the spec for one channel, global mean, written the straightforward way."""

    def __init__(self, torch, psi, phi, N):
        self.t = torch
        J = psi.shape[0]
        self.J, self.N = J, N
        self.filt = torch.as_tensor(np.vstack([psi, phi[None]]).astype(np.float32)).to(torch.complex64)
        pr = pairs(J)
        self.j1 = torch.tensor([a for a, _ in pr])
        self.j2 = torch.tensor([b for _, b in pr])
        pidx = {p: i for i, p in enumerate(pr)}
        tri = [(pidx[(a, b)], pidx[(ap, b)]) for b in range(1, J + 1) for a in range(b) for ap in range(a + 1)]
        self.ia = torch.tensor([a for a, _ in tri])
        self.ib = torch.tensor([b for _, b in tri])

    def conv(self, u, h):  # u (..., N) real, symmetric padding
        t = self.t
        up = t.cat([u, u.flip(-1)], -1)
        return t.fft.ifft(t.fft.fft(up) * h)[..., : self.N]

    def __call__(self, x):  # x (B, N) float32 -> (B, 210) complex64
        t, J = self.t, self.J
        s1 = self.conv(x[:, None, :], self.filt)                        # (B, J+1, N)
        s1 = t.cat([s1[:, :J], s1[:, J:].real.to(s1.dtype)], 1)
        env = s1[:, :J].abs()                                            # (B, J, N)
        s2 = self.conv(env[:, self.j1], self.filt[self.j2])             # (B, 36, N)
        s2 = t.where((self.j2 == J)[None, :, None], s2.real.to(s2.dtype), s2)
        mean = s1[:, J].mean(-1, keepdim=True)
        sparsity = s1[:, :J].abs().mean(-1).to(s1.dtype)
        power = (s1.abs() ** 2).mean(-1).to(s1.dtype)
        envelope = s2.abs().mean(-1).to(s1.dtype)
        phase_env = (s1[:, self.j2] * s2.conj()).mean(-1)
        env_cross = (s2[:, self.ia] * s2[:, self.ib].conj()).mean(-1)
        return t.cat([mean, sparsity, power, envelope, phase_env, env_cross], 1)


def fmt_t(t):
    return f"{t * 1e3:.1f} ms" if t < 10 else f"{t:.1f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--torch-chunk", type=int, default=4)
    args = ap.parse_args()
    import torch

    J = 8
    B, N = (8, 16384) if args.quick else (64, 65536)
    rng = np.random.default_rng(0)
    psi, phi = gaussian_bank(J, 2 * N)
    terms = family_terms(J, 1)
    kern = _core.ScatteringMomentsF32(psi, phi, N, 0, 1, terms)
    x = rng.normal(size=(B, 1, N)).astype(np.float32)
    out = np.empty((B, len(terms), 1), np.complex64)
    G = (rng.normal(size=out.shape) + 1j * rng.normal(size=out.shape)).astype(np.complex64)
    gx = np.empty_like(x)
    tm = TorchMoments(torch, psi, phi, N)
    xt, Gt = torch.from_numpy(x[:, 0]), torch.from_numpy(G[:, :, 0])

    # the torch version computes the same moments (checked once, float32)
    kern.forward(x, out, N, N, 0, 2)
    with torch.no_grad():
        ref = torch.cat([tm(xt[i: i + args.torch_chunk]) for i in range(0, B, args.torch_chunk)]).numpy()
    err = np.abs(out[:, :, 0] - ref).max() / np.abs(ref).max()

    print(f"# Scattering-spectra moments: J={J}, N={N}, B={B}, C=1, {len(terms)} moments, global mean, "
          "symmetric padding, float32\n")
    print(f"Machine: {machine_description()}; numpy {np.__version__}, torch {torch.__version__}; "
          f"max |scatclust - torch| / max |torch| = {err:.1e}\n")

    rows = []
    for nt in args.threads:
        torch.set_num_threads(nt)

        def core_fwd():
            kern.forward(x, out, N, N, 0, nt)

        def core_fb():
            kern.forward(x, out, N, N, 0, nt)
            kern.backward(x, G, gx, N, N, 0, nt)

        def torch_fwd():
            with torch.no_grad():
                for i in range(0, B, args.torch_chunk):
                    tm(xt[i: i + args.torch_chunk])

        def torch_fb():
            for i in range(0, B, args.torch_chunk):
                xx = xt[i: i + args.torch_chunk].detach().requires_grad_()
                m = tm(xx)
                (m.conj() * Gt[i: i + args.torch_chunk]).real.sum().backward()

        res = {}
        for name, fn in [("scatclust forward", core_fwd), ("torch forward", torch_fwd),
                         ("scatclust forward+backward", core_fb), ("torch forward+backward", torch_fb)]:
            res[name] = measure(fn, repeat=args.repeat)
        for kind in ("forward", "forward+backward"):
            base = res[f"scatclust {kind}"][0]
            for impl in ("scatclust", "torch"):
                t, mem = res[f"{impl} {kind}"]
                rows.append((nt, kind, impl, fmt_t(t), f"{t / base:.2f}", f"{mem:.0f}"))
    print(table(rows, ["threads", "pass", "implementation", "median", "time / scatclust", "extra peak MiB"]))

    # ---- pyramid block
    C, Nb = 3, (2**18 if args.quick else 2**20)
    K, S, o = 1024, 1024, 512
    psi_b, phi_b = gaussian_bank(J, 2 * Nb)
    terms_b = family_terms(J, C, cross=True)
    kb = _core.ScatteringMomentsF32(psi_b, phi_b, Nb, 0, C, terms_b)
    xb = rng.normal(size=(1, C, Nb)).astype(np.float32)
    n_o = kb.n_out(K, S, o)
    ob = np.empty((1, len(terms_b), n_o), np.complex64)
    Gb = (rng.normal(size=ob.shape) + 1j * rng.normal(size=ob.shape)).astype(np.complex64)
    gxb = np.empty_like(xb)
    print(f"\n# Pyramid block: B=1, C={C}, N={Nb}, J={J}, {len(terms_b)} moments (with cross-channel), "
          f"K=S={K}, offset={o} ({n_o} windows), float32\n")
    rows = []
    for nt in args.threads:
        def fwd():
            kb.forward(xb, ob, K, S, o, nt)

        def fb():
            kb.forward(xb, ob, K, S, o, nt)
            kb.backward(xb, Gb, gxb, K, S, o, nt)

        for kind, fn in [("forward", fwd), ("forward+backward", fb)]:
            t, mem = measure(fn, repeat=args.repeat)
            rows.append((nt, kind, fmt_t(t), f"{mem:.0f}"))
    print(table(rows, ["threads", "pass", "median", "extra peak MiB"]))


if __name__ == "__main__":
    main()
