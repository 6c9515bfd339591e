"""k-means benchmark: per-iteration Lloyd time and final inertia, scatclust vs scikit-learn.

    python bench/bench_kmeans.py            # the three workloads below
    python bench/bench_kmeans.py --quick    # 10x fewer rows (smoke run)

Workloads (N, D, K), float32: (1e5, 64, 16) ~ one day of scattering features per station;
(2e5, 256, 32) wide features (first+second layer); (1e6, 32, 10) a long catalogue with few
features, where one iteration should cost about one streaming read of X.

Per-iteration time = (fit with max_iter=M2 - fit with max_iter=M1) / (M2 - M1), from the
same initial centres with tol=0, so validation, centring, seeding and the final inertia
cancel out (minimum over repeats of each fit). "step alone" times one call of the compiled
Lloyd step on preallocated buffers (median). Both libraries run the same number of Lloyd iterations (checked). Floors: one
streaming read of X (X.sum(axis=0)) and the X @ C.T product alone (numpy's BLAS).
scikit-learn's threads are set with threadpoolctl (its OpenMP pool and BLAS).

faiss-cpu (optional peer, skipped with a note when not importable): ``faiss.Kmeans`` from
the same initial centres (``train(..., init_centroids=C0)``), per-iteration time by the same
niter difference, threads set with ``faiss.omp_set_num_threads``. Its defaults differ on
purpose: it subsamples to ``max_points_per_centroid * K`` rows (raised to N here so that all
rows are used, like the others) and splits a large cluster to fill an empty one. Its
assignment is a BLAS GEMM (IndexFlatL2). Its inertia column is computed by our core from its
final centres. To run it without touching the project environment:
``pip install --target /tmp/faiss-pkgs faiss-cpu`` and ``PYTHONPATH=python:/tmp/faiss-pkgs``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _harness import machine_description, table, timeit  # noqa: E402

from scatclust import _core  # noqa: E402
from scatclust.cluster import KMeans  # noqa: E402

try:
    from sklearn.cluster import KMeans as SKKMeans
except ImportError:  # pragma: no cover
    SKKMeans = None
try:
    import faiss
except ImportError:  # optional peer
    faiss = None
try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

WORKLOADS = [(100_000, 64, 16), (200_000, 256, 32), (1_000_000, 32, 10)]
M1, M2 = 1, 11


def data(n, d, k, seed=0):
    # Gaussian mixture with overlapping components: Lloyd keeps moving for many iterations.
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=2.0, size=(k, d))
    X = means[rng.integers(0, k, n)] + rng.normal(size=(n, d))
    return np.ascontiguousarray(X, dtype=np.float32)


def fit_time(make, X, C0, m):
    est = make(m)
    t0 = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - t0, est


def per_iter(make, X, C0, repeat):
    fit_time(make, X, C0, M1)  # warm-up: first-touch allocations, thread pools, plans
    diffs = []
    for _ in range(repeat):
        t1, e1 = fit_time(make, X, C0, M1)
        t2, e2 = fit_time(make, X, C0, M2)
        diffs.append((t2 - t1) / (M2 - M1))
        assert e1.n_iter_ == M1 and e2.n_iter_ == M2, (e1.n_iter_, e2.n_iter_)
    # Median of paired differences; a non-positive estimate means the machine was too noisy
    # for this workload and is reported as such rather than as a number.
    d = float(np.median(diffs))
    return (d if d > 0 else float("nan")), e2.inertia_


class FaissKMeans:
    """faiss.Kmeans behind the fit / n_iter_ / inertia_ interface that per_iter uses."""

    def __init__(self, k, C0, niter):
        self.k, self.C0, self.niter = k, C0, niter

    def fit(self, X):
        n, d = X.shape
        km = faiss.Kmeans(d, self.k, niter=self.niter, max_points_per_centroid=n, seed=1, verbose=False)
        km.train(X, init_centroids=self.C0)
        self.cluster_centers_ = km.centroids
        self.n_iter_ = len(km.iteration_stats) if hasattr(km, "iteration_stats") else self.niter
        self.inertia_ = float("nan")  # computed once, outside the timed fits (faiss_per_iter)
        return self


def inertia(X, C):
    labels = np.empty(X.shape[0], np.int32)
    _core.kmeans_assign(X, np.ascontiguousarray(C, dtype=X.dtype), labels, np.empty(X.shape[0], X.dtype), 0)
    return _core.kmeans_inertia(X, None, np.ascontiguousarray(C, dtype=X.dtype), labels, 0)


def faiss_per_iter(X, C0, k, nt, repeat):
    """(ms/iter, inertia) of faiss.Kmeans with nt threads, or NaNs when faiss is absent."""
    if faiss is None:
        return float("nan"), float("nan")
    faiss.omp_set_num_threads(nt)
    made = []
    t, _ = per_iter(lambda m: made.append(FaissKMeans(k, C0, m)) or made[-1], X, C0, repeat)
    return t, inertia(X, made[-1].cluster_centers_)  # the last fit ran M2 iterations


def limits(n):
    if threadpool_limits is None:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--workloads", default=None, help="indices into WORKLOADS, e.g. 0,2 (default: all)")
    args = ap.parse_args()
    workloads = WORKLOADS if args.workloads is None else [WORKLOADS[int(i)] for i in args.workloads.split(",")]
    print(f"Machine: {machine_description()}")
    if threadpool_limits is None:
        print("threadpoolctl not installed: scikit-learn runs with its default thread count")
    if faiss is None:
        print("faiss not importable: the faiss-cpu column is skipped (pip install faiss-cpu)")
    else:
        print(f"faiss {faiss.__version__}")
    rows = []
    for n, d, k in workloads:
        if args.quick:
            n //= 10
        X = data(n, d, k)
        C0 = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
        for nt in [int(t) for t in args.threads.split(",")]:
            with limits(nt):
                ours, inertia_ours = per_iter(
                    lambda m: KMeans(k, init=C0, n_init=1, max_iter=m, tol=0.0, n_threads=nt), X, C0, args.repeat)
                if SKKMeans is not None:
                    theirs, inertia_sk = per_iter(
                        lambda m: SKKMeans(k, init=C0, n_init=1, max_iter=m, tol=0.0, algorithm="lloyd"), X, C0,
                        args.repeat)
                else:
                    theirs, inertia_sk = float("nan"), float("nan")
                fa, inertia_fa = faiss_per_iter(X, C0, k, nt, args.repeat)
                # Kernel alone: one Lloyd step on preallocated buffers.
                labels = np.full(n, -1, np.int32)
                dist = np.empty(n, np.float32)
                new = np.empty_like(C0)
                wk = np.empty(k, np.float32)
                sh = np.empty(k, np.float32)
                step = timeit(lambda: _core.kmeans_lloyd_step(X, None, C0, labels, dist, new, wk, sh, True, nt),
                              repeat=5)
                read = timeit(lambda: X.sum(axis=0), repeat=5) if nt == 1 else float("nan")
                gemm = timeit(lambda: X @ C0.T, repeat=5)
            rows.append([f"({n:.0e}, {d}, {k})", nt, f"{ours * 1e3:.1f}", f"{step * 1e3:.1f}",
                         f"{theirs * 1e3:.1f}", f"{theirs / ours:.2f}x", f"{gemm * 1e3:.1f}",
                         f"{read * 1e3:.1f}" if read == read else "-",
                         f"{ours / read:.2f}" if read == read else "-",
                         f"{inertia_ours / inertia_sk - 1:+.1e}",
                         f"{fa * 1e3:.1f}" if fa == fa else "-", f"{fa / ours:.2f}x" if fa == fa else "-",
                         f"{inertia_fa / inertia_ours - 1:+.1e}" if fa == fa else "-"])
            print(rows[-1], flush=True)
    print()
    print(table(rows, ["(N, D, K) f32", "threads", "scatclust ms/iter", "step alone ms", "sklearn ms/iter",
                       "speed-up", "X@C.T ms", "X.sum ms (1 thr)", "ours / read", "inertia rel. diff",
                       "faiss ms/iter", "faiss / ours", "faiss inertia rel. diff"]))


if __name__ == "__main__":
    main()
