"""sim.quant.calibrate: the three calibration methods on distributions whose answer is known,
and their argument errors."""

import numpy as np
import pytest

from sim.quant.calibrate import Calibrator, calibrate, entropy_threshold


def test_max_is_the_max():
    x = np.array([[0.5, -3.25], [2.0, 1.0]])
    assert calibrate(x, "max") == 3.25
    assert calibrate([x, np.array([4.5])], "max") == 4.5


def test_percentile_on_a_known_sample():
    x = np.arange(1, 101, dtype=np.float64) * np.where(np.arange(100) % 2, -1, 1)
    assert calibrate(x, "percentile", percentile=50) == pytest.approx(50.5)
    assert calibrate(x, "percentile", percentile=100) == 100.0
    assert calibrate([x[:50], x[50:]], "percentile", percentile=90) == \
        pytest.approx(np.percentile(np.arange(1, 101), 90))


def _brute_force_kl(hist, edges, levels):
    """An independent KL search: every candidate built bin by bin in plain Python."""
    best, best_i = np.inf, None
    n = len(hist)
    for i in range(levels, n + 1):
        p = [float(h) for h in hist[:i]]
        p[-1] += float(sum(hist[i:]))
        q = [0.0] * i
        for g in range(levels):
            members = [j for j in range(i) if (j * levels) // i == g]
            nonzero = [j for j in members if hist[j] > 0]
            for j in nonzero:
                q[j] = sum(float(hist[m]) for m in members) / len(nonzero)
        ps, qs = sum(p), sum(q)
        kl = 0.0
        for pj, qj in zip(p, q, strict=True):
            if pj > 0:
                kl = np.inf if qj == 0 else kl + pj / ps * np.log((pj / ps) / (qj / qs))
        if kl < best:
            best, best_i = kl, i
    return edges[best_i]


def test_entropy_clips_far_outliers():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 20000), [40.0, -35.0, 38.0]])
    cal = Calibrator("entropy", bins=256, levels=16).collect(x)
    got = cal.amax()
    assert got < 0.25 * 40.0 and got > 2.0
    hist, edges = cal.histogram
    want = _brute_force_kl(hist, edges, 16)
    assert abs(got - want) <= 2 * (edges[1] - edges[0])


def test_entropy_histogram_grows_over_batches():
    rng = np.random.default_rng(1)
    cal = Calibrator("entropy", bins=128, levels=8)
    cal.collect(rng.normal(0, 1, 1000)).collect(rng.normal(0, 2, 1000))
    hist, edges = cal.histogram
    assert hist.sum() == 2000 and edges[-1] == cal._max
    assert 0 < cal.amax() <= edges[-1]


def test_entropy_threshold_narrow_histogram():
    assert entropy_threshold(np.ones(4), np.linspace(0, 4, 5), levels=8) == 4.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="mean"), "method must be one of 'max', 'percentile', 'entropy', not 'mean'"),
    (dict(method="percentile", percentile=0), "percentile must be .* not 0"),
    (dict(method="percentile", percentile=101), "percentile must be .* not 101"),
    (dict(method="entropy", levels=1), "levels must be an integer of at least 2, not 1"),
    (dict(method="entropy", bins=64, levels=128),
     "bins must be an integer of at least 128, not 64"),
])
def test_calibrator_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Calibrator(**kwargs)


def test_data_errors():
    with pytest.raises(ValueError, match="x must hold finite values"):
        calibrate(np.array([1.0, np.nan]), "max")
    with pytest.raises(ValueError, match="x must hold at least one value"):
        calibrate(np.array([]), "max")
    with pytest.raises(ValueError, match="tensors must hold at least one array"):
        calibrate([], "max")
    with pytest.raises(ValueError, match="collect at least one tensor"):
        Calibrator("max").amax()
