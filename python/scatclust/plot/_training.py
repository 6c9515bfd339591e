"""Training curves of any model from its recorded history."""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from ._common import finish, new_figure

__all__ = ["history_series", "training_curves"]

# x-axis of the series that are not recorded per epoch (DEC: once per target update)
_X_LABELS = {"kl_loss": "target update", "delta_label": "target update"}
# series that are x positions or bookkeeping, not curves
_SKIP = ("target_updates",)


def _numeric_list(v):
    if isinstance(v, (str, bytes)) or isinstance(v, Mapping):
        return None
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a if a.ndim == 1 and a.size >= 1 else None


def history_series(history):
    """The curves of a training history, as ``{name: float64 array}``.

    Parameters
    ----------
    history : list of float, dict, or a fitted model
        A list/array of per-epoch losses (``FVAEClustering.history_``) is named 'loss'; a
        dict keeps its 1-D numeric entries (``DEC.history_``: 'pretrain_loss', 'val_loss',
        'kl_loss', 'delta_label'; ``CubeSegmentation.history``: 'recon', 'cluster'),
        leaving out bookkeeping ('target_updates') and scalars ('best_epoch'); an object
        with ``history_`` or ``history`` is read through it.

    Returns
    -------
    dict str -> ndarray

    Examples
    --------
    >>> from scatclust.plot import history_series
    >>> sorted(history_series({"pretrain_loss": [3, 2], "val_loss": [3.5, 2.5], "target_updates": [0, 140],
    ...                        "best_epoch": 2}))
    ['pretrain_loss', 'val_loss']
    """
    for attr in ("history_", "history"):
        if not isinstance(history, (Mapping, list, tuple, np.ndarray)) and hasattr(history, attr):
            history = getattr(history, attr)
            break
    if isinstance(history, Mapping):
        out = {}
        for k, v in history.items():
            if k in _SKIP:
                continue
            a = _numeric_list(v)
            if a is not None:
                out[str(k)] = a
        return out
    a = _numeric_list(history)
    if a is None:
        raise ValueError(f"history of type {type(history).__name__} is neither a list of per-epoch losses, a dict "
                         f"of lists, nor a model with history_/history")
    return {"loss": a}


def training_curves(history, *, logy="auto", title=None, path=None):
    """Training curves, one panel per recorded series ('val_loss' shares the panel of
    'pretrain_loss' / 'loss'; DEC's best pretraining epoch is marked).

    Parameters
    ----------
    history : list of float, dict or fitted model
        See :func:`history_series`.
    logy : {'auto', True, False}
        Logarithmic y axis; 'auto' when a series is positive and spans more than a factor 20.
    title : str, optional
    path : str, os.PathLike or sequence, optional

    Returns
    -------
    matplotlib.figure.Figure
        Lines hold (index + 1, value) of every series (NaN entries, e.g. the cluster loss
        during pretraining, leave gaps).

    Examples
    --------
    >>> from scatclust.plot import training_curves
    >>> fig = training_curves({"recon": [1.0, 0.5, 0.4], "cluster": [float("nan"), 0.3, 0.2]})
    >>> [ax.get_title() for ax in fig.axes]
    ['recon', 'cluster']
    """
    from matplotlib.ticker import MaxNLocator

    series = history_series(history)
    if not series:
        raise ValueError("history holds no numeric series to draw")
    raw = history
    for attr in ("history_", "history"):
        if not isinstance(raw, (Mapping, list, tuple, np.ndarray)) and hasattr(raw, attr):
            raw = getattr(raw, attr)
    panels = []
    for name in series:
        if name.startswith("val_") or name.endswith("_val"):
            base = next((p for p in panels if p[0] in ("pretrain_loss", "loss", name[4:], name[:-4])
                         and len(series[p[0]]) == len(series[name])), None)
            if base is not None:
                base.append(name)
                continue
        panels.append([name])
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure((3.2 * ncols, 2.4 * nrows), nrows, ncols)
    for i in range(nrows * ncols):
        ax = axes.flat[i]
        if i >= len(panels):
            ax.set_visible(False)
            continue
        names = panels[i]
        for j, name in enumerate(names):
            y = series[name]
            ax.plot(np.arange(1, len(y) + 1), y, marker="o" if len(y) < 30 else None, markersize=2.5,
                    linewidth=1.0, color=f"C{j}", label=name)
        ally = np.concatenate([series[n] for n in names])
        fin = ally[np.isfinite(ally)]
        use_log = logy if logy != "auto" else bool(fin.size and fin.min() > 0 and fin.max() > 20 * fin.min())
        if use_log:
            ax.set_yscale("log")
        best = raw.get("best_epoch") if isinstance(raw, Mapping) else None
        if "pretrain_loss" in names and isinstance(best, numbers.Real) and 1 <= best <= len(series["pretrain_loss"]):
            ax.axvline(best, color="0.5", linestyle="--", linewidth=0.8, label="best epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(names[0], fontsize="medium")
        ax.set_xlabel(_X_LABELS.get(names[0], "epoch"))
        if len(names) > 1 or (best is not None and "pretrain_loss" in names):
            ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return finish(fig, path)
