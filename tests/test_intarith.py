# amaranth: UnusedElaboratable=no
"""INT8 multiplier (exhaustive) and INT32 adder (wrap-around) on the Amaranth simulator."""

import numpy as np
import pytest

from hw.intarith import IntAdd, IntMul
from sim.pipeline import rtl_pipeline


def _stream(dut, pairs):
    pairs = np.asarray(pairs)
    return rtl_pipeline(dut, {"a": pairs[:, 0], "b": pairs[:, 1]}, dtype=np.int64)


def test_int8_multiply_exhaustive():
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    pairs = np.stack([a.ravel(), b.ravel()], axis=1)
    got = _stream(IntMul(8, 16), pairs)
    assert (got == pairs[:, 0] * pairs[:, 1]).all()


def test_int8_multiply_widened_to_32():
    pairs = np.array([[-128, -128], [-128, 127], [127, 127], [-1, 1], [0, -128]])
    got = _stream(IntMul(8, 32), pairs)
    assert (got == pairs[:, 0] * pairs[:, 1]).all()


def test_int32_add_wraps():
    rng = np.random.default_rng(1)
    edge = [[2**31 - 1, 1], [-2**31, -1], [-2**31, -2**31], [2**31 - 1, 2**31 - 1], [0, 0],
            [-1, 1]]
    pairs = np.concatenate([edge, rng.integers(-2**31, 2**31, (2000, 2))])
    got = _stream(IntAdd(32), pairs)
    want = ((pairs[:, 0] + pairs[:, 1] + 2**31) % 2**32) - 2**31
    assert (got == want).all()


@pytest.mark.parametrize("make, pattern", [
    (lambda: IntMul(0), r"^width must be an integer from 1 to 64, not 0$"),
    (lambda: IntMul(8, 12), r"^out_width must be an integer from 16 to 128, not 12$"),
    (lambda: IntAdd("32"), r"^width must be an integer from 1 to 128, not '32'$"),
])
def test_constructor_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
