"""Calibration: the clipping threshold (``amax``) of an activation tensor, by three methods.

* ``max``: the largest ``|x|`` seen.
* ``percentile``: the ``percentile``-th percentile of ``|x|`` (99.99 by default), so a few
  outliers do not set the range.
* ``entropy``: TensorRT's KL-divergence method. Histogram ``|x|`` into ``bins`` bins (2048)
  over ``[0, max]``; for every candidate threshold ``i`` bins wide (``levels`` ≤ i ≤ bins),
  the reference ``P`` is the first ``i`` bins with everything beyond folded into the last,
  and the candidate ``Q`` is those ``i`` bins merged into ``levels`` quantization bins and
  expanded back (each merged bin's count spread evenly over its non-empty source bins). The
  threshold is the upper edge of the ``i`` whose ``KL(P || Q)`` is least.

:class:`Calibrator` collects the histogram over several tensors (batches) first, as TensorRT
does: the histogram's range grows to the largest ``|x|`` seen, re-binning what it holds.

Nothing here depends on a format but ``levels``: the number of quantization bins, 128 for
INT8 (the non-negative half of its range, as TensorRT), 8 for INT4.
"""

import numpy as np

__all__ = ["METHODS", "Calibrator", "calibrate", "amax_max", "amax_percentile",
           "amax_entropy", "entropy_threshold", "kl_divergence"]

#: The calibration methods by name.
METHODS = ("max", "percentile", "entropy")


def _check_positive_int(name, value, least=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer of at least {least}, not {value!r}")


def _abs_values(name, x):
    x = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    if x.size == 0:
        raise ValueError(f"{name} must hold at least one value, not an empty array")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must hold finite values only, not NaN or ±Inf")
    return x


def amax_max(x):
    """The largest ``|x|``."""
    return float(_abs_values("x", x).max())


def amax_percentile(x, percentile=99.99):
    """The ``percentile``-th percentile of ``|x|`` (numpy's linear interpolation)."""
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or \
            not 0 < percentile <= 100:
        raise ValueError(f"percentile must be a number above 0 and at most 100, "
                         f"not {percentile!r}")
    return float(np.percentile(_abs_values("x", x), percentile))


def kl_divergence(p, q):
    """``KL(p || q)`` of two histograms (normalised here); bins where ``p`` is 0 add
    nothing, and a bin where ``p`` > 0 and ``q`` = 0 makes it infinite."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    nz = p > 0
    if (q[nz] == 0).any():
        return np.inf
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def _candidate(hist, i, levels):
    """The reference ``P`` and the quantized ``Q`` for a threshold ``i`` bins wide."""
    p = hist[:i].astype(np.float64)
    p[i - 1] += hist[i:].sum()
    src = hist[:i].astype(np.float64)
    # Bin j of the i source bins merges into quantization bin floor(j * levels / i).
    group = (np.arange(i) * levels) // i
    total = np.bincount(group, weights=src, minlength=levels)
    nonempty = np.bincount(group, weights=(src > 0).astype(np.float64), minlength=levels)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(nonempty > 0, total / nonempty, 0.0)
    q = np.where(src > 0, share[group], 0.0)
    return p, q


def entropy_threshold(hist, edges, levels=128):
    """The KL-divergence threshold of a histogram of ``|x|`` (``edges``: its ``bins + 1`` bin
    edges from 0): the upper edge of the best candidate (see the module's docstring)."""
    hist = np.asarray(hist)
    _check_positive_int("levels", levels, 2)
    if len(hist) < levels:
        return float(edges[-1])
    best_i, best_kl = len(hist), np.inf
    for i in range(levels, len(hist) + 1):
        p, q = _candidate(hist, i, levels)
        kl = kl_divergence(p, q)
        if kl < best_kl:
            best_i, best_kl = i, kl
    return float(edges[best_i])


class Calibrator:
    """Collects ``|x|`` over several tensors and gives the threshold by ``method``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    percentile : float
        ``percentile`` method: the percentile of ``|x|`` (above 0, at most 100).
    bins : int
        ``entropy`` method: histogram bins (at least ``levels``).
    levels : int
        ``entropy`` method: quantization bins (128 for INT8, 8 for INT4).
    """

    def __init__(self, method="entropy", *, percentile=99.99, bins=2048, levels=128):
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, "
                             f"not {method!r}")
        amax_percentile([1.0], percentile)        # checks it
        _check_positive_int("levels", levels, 2)
        _check_positive_int("bins", bins, levels)
        self.method, self.percentile, self.bins, self.levels = method, percentile, bins, levels
        self._max = 0.0
        self._hist = np.zeros(bins, dtype=np.int64)
        self._values = []
        self._seen = False

    def collect(self, x):
        """Add one tensor (any shape) to the statistics."""
        x = _abs_values("x", x)
        self._seen = True
        if self.method == "percentile":
            self._values.append(x)
        top = float(x.max())
        if self.method == "entropy" and top > self._max and self._hist.any():
            # Re-bin what we hold onto the wider range: each old bin's count goes to the new
            # bin holding its centre.
            centres = (np.arange(self.bins) + 0.5) * (self._max / self.bins)
            self._hist = np.bincount(np.minimum((centres / top * self.bins).astype(int),
                                                self.bins - 1),
                                     weights=self._hist, minlength=self.bins).astype(np.int64)
        self._max = max(self._max, top)
        if self.method == "entropy" and self._max > 0:
            hist, _ = np.histogram(x, bins=self.bins, range=(0.0, self._max))
            self._hist += hist
        return self

    @property
    def histogram(self):
        """The histogram of ``|x|`` and its edges (``entropy`` method)."""
        return self._hist.copy(), np.linspace(0.0, self._max, self.bins + 1)

    def amax(self):
        """The clipping threshold (0.0 if every value seen was 0).

        Raises
        ------
        ValueError
            Before any tensor was collected.
        """
        if not self._seen:
            raise ValueError("collect at least one tensor before asking for amax")
        if self.method == "max":
            return self._max
        if self.method == "percentile":
            return amax_percentile(np.concatenate(self._values), self.percentile)
        if self._max == 0.0:
            return 0.0
        hist, edges = self.histogram
        return entropy_threshold(hist, edges, self.levels)


def calibrate(tensors, method="entropy", **options):
    """The clipping threshold of ``tensors`` (one array or a list of them) by ``method``;
    ``options`` go to :class:`Calibrator`."""
    if isinstance(tensors, np.ndarray):
        tensors = [tensors]
    tensors = list(tensors)
    if not tensors:
        raise ValueError("tensors must hold at least one array, not an empty list")
    cal = Calibrator(method, **options)
    for t in tensors:
        cal.collect(t)
    return cal.amax()


def amax_entropy(x, *, bins=2048, levels=128):
    """The KL-divergence threshold of one tensor."""
    return calibrate(x, "entropy", bins=bins, levels=levels)
