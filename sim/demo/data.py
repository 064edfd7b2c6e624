"""The data: scikit-learn's bundled 8×8 digits (1797 images, no network needed).

Pixels 0..16 are scaled to ``[0, 1]`` (every value ``j / 16`` is exact in every float input
format); the split is stratified, 30 % test, fixed seed.
"""

import numpy as np

__all__ = ["load"]


def load(test_size=0.3, seed=0):
    """``(x_train, y_train, x_test, y_test)``: images as ``(n, 8, 8, 1)`` float64 in
    ``[0, 1]``, labels as int64."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:    # pragma: no cover - the demo extra installs it
        raise ImportError("the demo needs scikit-learn: pip install -e .[demo]") from exc
    digits = load_digits()
    x = (digits.images / 16.0).reshape(-1, 8, 8, 1)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed,
                                              stratify=y)
    return x_tr, y_tr, x_te, y_te
