import os

import numpy as np
import pytest

# Tests run with the cheap planner so that many sizes plan quickly; kernels are the same.
os.environ.setdefault("SCATCLUST_FFTW_PLANNER", "estimate")

DTYPES = [np.float32, np.float64]


def rel_err(a, b):
    """max |a - b| / max |b| (0 when both vanish)."""
    a = np.asarray(a)
    b = np.asarray(b)
    scale = np.abs(b).max() if b.size else 0.0
    diff = np.abs(a - b).max() if b.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def tol(dtype, factor_f32=1e-5, factor_f64=1e-12):
    """Relative tolerances used across the suite: 1e-5 (float32), 1e-12 (float64)."""
    return factor_f32 if np.dtype(dtype) == np.float32 else factor_f64


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (tiny models: fastest on a shared machine, and the float32
    sums keep one order, so results are reproducible); the previous count is restored."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fvae_blobs(seed, n=200, S=2, F=5):
    """(n, S, F) windows with three well-separated clusters per scale (a different partition at
    each scale): the small data set of the F-VAE option tests."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, S, F))
    for s in range(S):
        lab = rng.integers(0, 3, n)
        X[:, s] = rng.normal(0, 4, (3, F))[lab] + rng.normal(size=(n, F))
    return X


def small_fvae(**kw):
    """A tiny FVAEClustering (3 clusters, latent 2, trunk (8,), 4 epochs of 4 batches of
    ``fvae_blobs``, seed 3); keyword arguments override."""
    from scatclust.models import FVAEClustering

    return FVAEClustering(**{**dict(n_clusters=3, latent_dim=2, hidden=(8,), epochs=4, batch_size=50,
                                    random_state=3), **kw})


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def kymatio_1d():
    """kymatio 0.3's 1-D numpy frontend and backend, imported without its 3-D frontend
    (which needs scipy.special.sph_harm, removed in scipy 1.17)."""
    fe = pytest.importorskip("kymatio.scattering1d.frontend.numpy_frontend",
                             reason="kymatio 0.3 is a test dependency (pip install kymatio==0.3.0)")
    from kymatio.scattering1d.backend.numpy_backend import backend

    return fe.ScatteringNumPy1D, backend
