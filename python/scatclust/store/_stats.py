"""Normalisation statistics: count / mean / M2 per (scale, coefficient), merged in parallel.

Algorithm (Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing
sample variances", 1979; "Algorithms for computing the sample variance: analysis and
recommendations", Am. Stat. 1983):

* each partition (one stored day) gives (n, mean, M2) with the two-pass formula
  mean = sum(x) / n, M2 = sum((x - mean)^2);
* two partitions merge with  n = na + nb,  delta = mean_b - mean_a,
  mean = mean_a + delta * nb / n,  M2 = M2a + M2b + delta^2 * na * nb / n;
* partitions are merged pairwise in a balanced tree in a fixed order (the stored day
  order), so the result does not depend on how many workers computed the partitions;
* all data are shifted by a constant K per column (the mean of the first partition) before
  any of this, as the 1983 paper recommends: with a large common offset (features are
  often far from zero relative to their spread) the per-partition means otherwise carry an
  absolute error of eps * |offset| that ``delta^2`` amplifies. The shift is stored.

Missing values: entries that are NaN/Inf or whose window is flagged ``gap`` at that scale
are left out, so counts are per (scale, coefficient). Variances are population variances
(M2 / n, ddof = 0); ``apply`` computes (x - mean) / sqrt(M2 / n).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Moments", "partial_moments", "merge_moments", "merge_all", "NormalizationStats"]


@dataclasses.dataclass
class Moments:
    """Partial statistics of a set of rows, per column: ``count``, ``mean``, ``m2`` (float64,
    same shape), all relative to ``shift`` (the stored mean is ``shift + mean``)."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    shift: np.ndarray


def partial_moments(x, shift, valid=None):
    """Two-pass (count, mean, M2) of the rows of ``x`` (n, ...) about ``shift`` (...).

    Parameters
    ----------
    x : array (n, ...) real
    shift : array (...) float64; the data are shifted by it first (see module notes)
    valid : bool array broadcastable to x, optional; False entries are left out (NaN/Inf
        entries are always left out)
    """
    x = np.asarray(x, dtype=np.float64)
    shift = np.asarray(shift, dtype=np.float64)
    ok = np.isfinite(x)
    if valid is not None:
        ok &= np.broadcast_to(valid, x.shape)
    d = np.where(ok, x - shift, 0.0)
    count = ok.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, d.sum(axis=0) / np.maximum(count, 1), 0.0)
    r = np.where(ok, d - mean, 0.0)
    m2 = (r * r).sum(axis=0)
    return Moments(count, mean, m2, np.broadcast_to(shift, count.shape).copy())


def merge_moments(a, b):
    """Chan et al.'s pairwise merge of two :class:`Moments` with the same shift."""
    if not np.array_equal(a.shift, b.shift):
        raise ValueError("merge_moments: the two partial statistics use different shifts; compute every "
                         "partition with the same shift")
    n = a.count + b.count
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = b.mean - a.mean
        frac = np.where(n > 0, b.count / np.where(n > 0, n, 1), 0.0)
        mean = a.mean + delta * frac
        m2 = a.m2 + b.m2 + delta * delta * a.count * frac
    return Moments(n, mean, m2, a.shift)


def merge_all(parts):
    """Balanced pairwise merge of a list of :class:`Moments`, in list order."""
    parts = list(parts)
    if not parts:
        raise ValueError("merge_all: no partial statistics to merge (no stored days selected?)")
    while len(parts) > 1:
        nxt = [merge_moments(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


@dataclasses.dataclass
class NormalizationStats:
    """Per (scale, coefficient) statistics of stored features, used to standardise them.

    Attributes
    ----------
    count, mean, m2 : ndarray float64, shape (n_scales, n_coefficients)
        Valid entries, mean (shift included) and sum of squared deviations.
    shift : ndarray float64, same shape; the shift the partitions were computed about.
    days : list of str; the stored day groups the statistics were computed from.
    scales : tuple of int; the pyramid scales (samples), to check the layout at apply time.
    """

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    shift: np.ndarray
    days: list
    scales: tuple

    @classmethod
    def from_moments(cls, m, days, scales):
        return cls(m.count, m.shift + m.mean, m.m2, m.shift, list(days), tuple(int(s) for s in scales))

    @property
    def var(self):
        """Population variance M2 / count (NaN where count = 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.m2 / np.where(self.count > 0, self.count, 1), np.nan)

    @property
    def std(self):
        return np.sqrt(self.var)

    def apply(self, features):
        """(features - mean) / std for an array (..., n_scales, n_coefficients); columns with zero
        variance are only centred (divided by 1)."""
        std = self.std
        std = np.where((std > 0) & np.isfinite(std), std, 1.0)
        return (features - self.mean) / std
