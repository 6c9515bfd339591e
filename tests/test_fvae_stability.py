"""F-VAE training stability: gradient-norm clipping (``grad_clip``), the error on a diverged
loss, and checkpoints written before ``grad_clip`` existed."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the F-VAE needs torch")

from scatclust.models import FVAEClustering  # noqa: E402
from conftest import fvae_blobs, small_fvae  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


def _step_grad_norms(monkeypatch, est, X):
    """Fit est on X and return the global gradient norm (float64, computed here from every
    parameter's .grad) seen by each Adam step."""
    norms, step = [], torch.optim.Adam.step

    def spy(self, *a, **k):
        g = [p.grad.detach().double() for grp in self.param_groups for p in grp["params"] if p.grad is not None]
        norms.append(float(torch.sqrt(sum((t ** 2).sum() for t in g))))
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    est.fit(X)
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    return np.array(norms)


@pytest.mark.parametrize("kw", [dict(), dict(pretrain_epochs=2, init="kmeans")])
def test_grad_clip_bounds_the_norm_of_every_step(monkeypatch, kw):
    X = fvae_blobs(0)
    free = _step_grad_norms(monkeypatch, small_fvae(grad_clip=None, **kw), X)
    clip = 0.5 * np.median(free)  # so that clipping is active in at least half of the steps
    assert (free > clip * 1.01).mean() >= 0.5
    clipped = _step_grad_norms(monkeypatch, small_fvae(grad_clip=clip, **kw), X)
    assert len(clipped) == len(free) == 4 * 4  # 4 epochs x 4 batches
    assert clipped.max() <= clip * (1 + 1e-5)  # float32 gradients scaled by clip / norm
    assert clipped.max() >= clip * (1 - 1e-5)  # ... and the clipped steps sit at the bound
    # a bound above every step's norm changes nothing: same weights as no clipping
    a, b = small_fvae(grad_clip=None, **kw).fit(X), small_fvae(grad_clip=10 * free.max(), **kw).fit(X)
    for (n, p), q in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=n)


@pytest.mark.parametrize("pretrain", [0, 3])
def test_diverged_loss_raises_naming_epoch_lr_and_grad_clip(pretrain):
    X = fvae_blobs(2)
    est = small_fvae(lr=100.0, grad_clip=None, pretrain_epochs=pretrain, init="kmeans" if pretrain else "random")
    phase = "pretraining" if pretrain else "mixture phase"
    with pytest.raises(FloatingPointError, match=rf"diverged in FVAEClustering epoch 1 \({phase}, step \d+\): "
                                                 r"the loss is (nan|inf).*lr=100\.0.*grad_clip=None"):
        est.fit(X)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "10"])
def test_grad_clip_validation(bad):
    with pytest.raises(ValueError, match=r"grad_clip=.* must be None \(no clipping\) or a finite number > 0"):
        small_fvae(grad_clip=bad).fit(fvae_blobs(0, n=20))


def test_checkpoint_from_before_grad_clip_keeps_no_clipping(tmp_path):
    X = fvae_blobs(3)
    ck = tmp_path / "old.pt"
    est = small_fvae(epochs=2, grad_clip=None).fit(X, checkpoint=ck)
    state = torch.load(ck, weights_only=True)
    del state["config"]["grad_clip"]  # as written before the option existed (trained without clipping)
    torch.save(state, ck)
    loaded = FVAEClustering.load(ck)
    assert loaded.grad_clip is None
    np.testing.assert_array_equal(loaded.predict(X), est.labels_)
    with pytest.raises(ValueError, match="made with grad_clip=None, this estimator has grad_clip=10.0"):
        small_fvae(epochs=3).fit(X, checkpoint=ck)
    resumed = small_fvae(epochs=3, grad_clip=None).fit(X, checkpoint=ck)
    np.testing.assert_array_equal(resumed.labels_, small_fvae(epochs=3, grad_clip=None).fit(X).labels_)
    # a new checkpoint records the value, so a resume with another one is refused
    ck2 = tmp_path / "new.pt"
    small_fvae(epochs=2, grad_clip=3.0).fit(X, checkpoint=ck2)
    assert FVAEClustering.load(ck2).grad_clip == 3.0
    with pytest.raises(ValueError, match="made with grad_clip=3.0, this estimator has grad_clip=10.0"):
        small_fvae(epochs=3).fit(X, checkpoint=ck2)


def test_non_finite_pretrained_model_is_caught_at_the_initialisation(monkeypatch):
    """A pretrained trunk that overflows on windows no batch loss flagged (simulated: its
    weights set to inf just before the initialisation) stops with the guard's error, not
    inside k-means or the y head's L-BFGS."""
    init = FVAEClustering._init_mixture

    def broken(self, model, Xn, seed, device):
        with torch.no_grad():
            for p in model.trunk.parameters():
                p.fill_(float("inf"))
        return init(self, model, Xn, seed, device)

    monkeypatch.setattr(FVAEClustering, "_init_mixture", broken)
    with pytest.raises(FloatingPointError, match=r"FVAEClustering pretraining \(at the mixture initialisation\): "
                                                 r"the trunk output is not finite; use a smaller lr"):
        small_fvae(epochs=3, pretrain_epochs=2, init="kmeans").fit(fvae_blobs(5))
