"""Where the default MA-XRF cube's segmentation errors lie: mixed vs nearly pure pixels (issue 7 B).

For tuning generator seed 10 (64x64x512) of the two bench cubes (default: blur 1, 500
counts; fair: blur 0.5, 30 counts), at the generator's former 20 keV excitation and at its
40 keV default, prints the ARI of ``segment`` (method seed 10), k-means on Anscombe spectra
and the Poisson-ML oracle with the true spectra (:func:`bench_segment.oracle_unmix`, on the
noisy cube and on the noise-free expected cube), on all pixels, on pixels whose largest
abundance is >= 0.75 and on the rest.

Usage: ``OMP_NUM_THREADS=1 PYTHONPATH=python python bench/diag_segment_mixing.py`` (~5 min
on one core).
"""
import os
import sys

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score as ari

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_segment import oracle_unmix  # noqa: E402

from scatclust.cluster import KMeans  # noqa: E402
from scatclust.cube import segment  # noqa: E402
from scatclust.datasets import synthetic_xrf  # noqa: E402


def main():
    torch.set_num_threads(1)
    for name, cfg in (("default", dict(blur=1.0, counts=500.0)), ("fair", dict(blur=0.5, counts=30.0))):
        for exc, kw in (("20 keV", dict(excitation_energy=20.0, energy_range=(1.0, 20.0))), ("40 keV", {})):
            d = synthetic_xrf(shape=(64, 64), n_channels=512, random_state=10, **cfg, **kw)
            y = d.labels.ravel()
            pure = d.abundances.reshape(-1, d.abundances.shape[-1]).max(1) >= 0.75
            x = d.cube.reshape(-1, d.cube.shape[-1]).astype(np.float64)
            labs = {"segment AE": segment(d.cube, n_clusters=5, random_state=10).labels.ravel(),
                    "k-means Anscombe": KMeans(5, n_init=10, random_state=10).fit(2 * np.sqrt(x + 0.375)).labels_,
                    "oracle": oracle_unmix(d.cube, d.pigment_spectra),
                    "oracle, noise-free cube": oracle_unmix(d.expected, d.pigment_spectra)}
            s = d.pigment_spectra / np.linalg.norm(d.pigment_spectra, axis=1, keepdims=True)
            i, j = d.pigments.index("lead white"), d.pigments.index("lead-tin yellow")
            print(f"{name} {exc}: {pure.sum()} of {pure.size} pixels with max abundance >= 0.75; "
                  f"cos(lead white, lead-tin yellow) = {s[i] @ s[j]:.4f}")
            for k, lab in labs.items():
                print(f"   {k:26s} all {ari(y, lab):.3f}  max abundance >= 0.75: {ari(y[pure], lab[pure]):.3f}"
                      f"  < 0.75: {ari(y[~pure], lab[~pure]):.3f}", flush=True)


if __name__ == "__main__":
    main()
