"""A diverged optimisation stops every trainer of the package with a FloatingPointError that
names the fit, the phase and the step-size settings (``scatclust.nn._guard``), instead of
NaN reaching k-means, the Student-t kernel or the result."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the trainers need torch")

from scatclust.cluster import DEC  # noqa: E402
from scatclust.cube import segment  # noqa: E402
from scatclust.datasets import synthetic_xrf  # noqa: E402
from scatclust.nn._guard import check_finite_loss  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py

HUGE = 1e20  # an Adam step of ~1e20 overflows float32 activations within one or two steps


@pytest.mark.parametrize("value", [0.0, -3.5, 1e38])
def test_finite_values_pass(value):
    check_finite_loss(torch.tensor(value), "fit", lr=1.0)
    check_finite_loss(torch.full((3, 2), value), "fit", "embedding")


@pytest.mark.parametrize("value, shown", [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")])
def test_non_finite_scalar_names_where_value_and_settings(value, shown):
    with pytest.raises(FloatingPointError) as err:
        check_finite_loss(torch.tensor(value, requires_grad=True) * 1.0, "X pretraining, epoch 7", lr=0.5,
                          grad_clip=None)
    assert str(err.value) == (f"training diverged in X pretraining, epoch 7: the loss is {shown}; use a smaller "
                              f"lr (lr=0.5) or grad_clip (grad_clip=None), or check the input for extreme outliers")


def test_one_non_finite_entry_of_a_tensor_is_enough():
    z = torch.zeros(4, 3)
    z[2, 1] = math.nan
    with pytest.raises(FloatingPointError, match="the embedding is not finite; use a smaller dec_lr"):
        check_finite_loss(z, "DEC clustering, iteration 3", "embedding", dec_lr=0.1)


def _dec(**kw):
    return DEC(3, architecture="mlp", hidden=(8,), latent_dim=2, pretrain_epochs=2, max_iter=20,
               update_interval=5, batch_size=32, random_state=0, **kw)


@pytest.mark.parametrize("kw, msg", [
    (dict(lr=HUGE), r"DEC pretraining, epoch 1: the loss is nan; use a smaller lr \(lr=1e\+20\)"),
    (dict(lr=HUGE, gamma=0.1), r"DEC pretraining, epoch 1: the loss is nan; use a smaller lr \(lr=1e\+20\)"),
    (dict(dec_lr=HUGE), r"DEC clustering, iteration \d+: the embedding is not finite; use a smaller dec_lr "
                        r"\(dec_lr=1e\+20\)"),
])
def test_dec_divergence_raises(kw, msg):
    X = np.random.default_rng(0).standard_normal((120, 16)).astype(np.float32)
    with pytest.raises(FloatingPointError, match=msg):
        _dec(**kw).fit(X)
    _dec().fit(X)  # the same data and settings with the default step sizes train


@pytest.fixture(scope="module")
def cube():
    return synthetic_xrf(shape=(12, 12), n_channels=64, random_state=0).cube


@pytest.mark.parametrize("model, n_pretrain, msg", [
    ("ae", 2, r"segment pretraining, epoch 1: the loss is nan"),
    ("vae", 2, r"segment pretraining, epoch 1: the loss is nan"),
    ("ae", 0, r"segment clustering phase, step \d+: the loss is nan"),
    ("unmix", 2, r"segment\(model='unmix'\) training: the loss is nan"),
])
def test_segment_divergence_raises(cube, model, n_pretrain, msg):
    with pytest.raises(FloatingPointError, match=msg + r"; use a smaller lr \(lr=1e\+20\)"):
        segment(cube, n_clusters=3, model=model, n_pretrain=n_pretrain, n_cluster_epochs=2, lr=HUGE,
                random_state=0)
    seg = segment(cube, n_clusters=3, model=model, n_pretrain=n_pretrain, n_cluster_epochs=2, random_state=0)
    assert seg.labels.shape == (12, 12)
