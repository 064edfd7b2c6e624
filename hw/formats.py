"""Number formats shared by the hardware generators and the numpy golden model.

One description per format. The hardware reads widths, biases and special values from here;
the golden model and the host read the numpy dtype and the conversions (:meth:`cast`,
:meth:`exact`, :meth:`to_bits`, :meth:`from_bits`). Nothing else in the project hard-codes a
format's layout.

Float formats follow Berkeley HardFloat's convention: ``sig_width`` **counts the hidden bit**,
so IEEE binary32 is ``(exp_width=8, sig_width=24)`` and its stored fraction is 23 bits wide.

Input formats
-------------
======== ========================= ============================= =============================
name     layout                    numpy                         specials
======== ========================= ============================= =============================
int8     signed 8 bits             ``np.int8``
int4     signed 4 bits, two to a   ``ml_dtypes.int4``
         byte in memory (lane 0 in
         the low nibble)
bf16     1+8+7                     ``ml_dtypes.bfloat16``        IEEE
fp16     1+5+10 (IEEE half)        ``np.float16``                IEEE
fp8e5m2  1+5+2 (OCP E5M2)          ``ml_dtypes.float8_e5m2``     IEEE
fp8e4m3  1+4+3 (OCP E4M3)          ``ml_dtypes.float8_e4m3fn``   no Inf; NaN is S.1111.111
tf32     1+8+10 (19 bits)          ``np.float32`` holding TF32   IEEE
                                   values (low 13 fraction bits
                                   zero)
======== ========================= ============================= =============================

What a format "holds exactly" (:meth:`FloatFormat.exact`, :meth:`IntFormat.exact`, the rule the
host API applies to every operand): an integer format takes arrays of an integer dtype whose
every value lies in its range, and refuses float arrays whatever their values (quantise them
first); a float format takes arrays of any float or integer dtype whose every value converts to
the format and back unchanged (NaN to NaN; ±Inf only where the format has infinities), so
float32 values that are exact in BF16 are accepted and 0.1 is not.
"""

from dataclasses import dataclass

from ._deferred import deferred_import

# Imported on first use: generating Verilog needs the formats' widths, not their arrays.
ml_dtypes = deferred_import("ml_dtypes")
np = deferred_import("numpy")

__all__ = [
    "IntFormat", "FloatFormat",
    "INT8", "INT4", "INT32", "BF16", "FP16", "FP8E4M3", "FP8E5M2", "TF32", "FP32",
    "INPUT_FORMATS", "ACC_FORMATS", "by_name",
]


def _uint_dtype(width):
    """The narrowest unsigned numpy dtype holding ``width`` bits."""
    for bits in (8, 16, 32, 64):
        if width <= bits:
            return np.dtype(f"uint{bits}")
    raise ValueError(f"width must be at most 64, not {width!r}")


def _refuse(name, fmt, why):
    raise ValueError(f"{name} must hold values that {fmt.name} represents exactly, but {why}")


@dataclass(frozen=True)
class IntFormat:
    """A two's complement integer format.

    Parameters
    ----------
    name : str
        The name used on the command line and in manifests.
    width : int
        Bits, sign included. Lanes of a buffer line are ``width`` bits each, lane 0 lowest,
        so INT4 sits two to a byte.
    """
    name: str
    width: int

    kind = "int"

    @property
    def min(self):
        return -(1 << (self.width - 1))

    @property
    def max(self):
        return (1 << (self.width - 1)) - 1

    @property
    def dtype(self):
        """The numpy dtype holding one value (``ml_dtypes.int4`` for INT4)."""
        if self.width == 4:
            return np.dtype(ml_dtypes.int4)
        return np.dtype(f"int{self.width}")

    @property
    def bits_dtype(self):
        """The unsigned numpy dtype holding one value's bit pattern."""
        return _uint_dtype(self.width)

    def cast(self, values):
        """``values`` as this format's dtype (numpy's conversion: wraps, truncates)."""
        return np.asarray(values, dtype=self.dtype)

    def exact(self, name, values):
        """``values`` as this format's dtype, or ``ValueError`` naming ``name`` and the format
        unless every value is an integer of this format's range held in an integer dtype."""
        values = np.asarray(values)
        if values.dtype == self.dtype:
            return values
        if values.dtype.kind not in "iu" and values.dtype != np.dtype(ml_dtypes.int4) and \
                values.dtype != np.dtype(ml_dtypes.uint4):
            _refuse(name, self, f"its dtype is {values.dtype} (quantise floats to "
                                f"integers from {self.min} to {self.max} first)")
        wide = values.astype(np.int64)
        bad = (wide < self.min) | (wide > self.max)
        if bad.any():
            _refuse(name, self, f"{int(wide[bad].flat[0])} at index "
                                f"{tuple(int(i) for i in np.argwhere(bad)[0])} is outside "
                                f"{self.min} to {self.max}")
        return wide.astype(self.dtype)

    def to_bits(self, values):
        """The bit patterns (``bits_dtype``) of ``values``, two's complement."""
        wide = np.asarray(values, dtype=self.dtype).astype(np.int64)
        return (wide & ((1 << self.width) - 1)).astype(self.bits_dtype)

    def from_bits(self, bits):
        """The values whose bit patterns are ``bits``."""
        bits = np.asarray(bits).astype(np.int64) & ((1 << self.width) - 1)
        return (bits - ((bits >> (self.width - 1)) << self.width)).astype(self.dtype)


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format.

    Parameters
    ----------
    name : str
        The name used on the command line and in manifests.
    exp_width : int
        Width of the biased exponent field.
    sig_width : int
        Significand precision **including** the hidden bit (HardFloat's convention).
    numpy_dtype : str
        Name of the numpy / ml_dtypes scalar type holding one value.
    has_inf : bool
        IEEE specials (True): an all-ones exponent is Inf (zero fraction) or NaN. OCP E4M3's
        (False): no infinities; an all-ones exponent is a normal number except with an
        all-ones fraction, which is NaN (one pattern per sign). Either way an all-zeros
        exponent is zero (zero fraction) or a subnormal.
    container : bool
        The numpy dtype is wider than the format and holds its values (TF32 in float32, its
        low ``24 - sig_width`` fraction bits zero); :meth:`cast` rounds to nearest even into
        it and :meth:`to_bits` drops the low bits.
    """
    name: str
    exp_width: int
    sig_width: int
    numpy_dtype: str
    has_inf: bool = True
    container: bool = False

    kind = "float"

    @property
    def frac_width(self):
        """Width of the stored fraction (the significand without its hidden bit)."""
        return self.sig_width - 1

    @property
    def width(self):
        return 1 + self.exp_width + self.frac_width

    @property
    def bias(self):
        return (1 << (self.exp_width - 1)) - 1

    @property
    def exp_max(self):
        """The all-ones biased exponent (Inf and NaN, or with ``has_inf`` False the top
        binade of normal numbers and NaN)."""
        return (1 << self.exp_width) - 1

    @property
    def frac_max(self):
        """The all-ones fraction."""
        return (1 << self.frac_width) - 1

    @property
    def qnan(self):
        """The canonical quiet NaN: positive, fraction MSB set (all-ones fraction where
        ``has_inf`` is False, the format's only NaN)."""
        frac = 1 << (self.frac_width - 1) if self.has_inf else self.frac_max
        return (self.exp_max << self.frac_width) | frac

    @property
    def inf(self):
        """Bit pattern of +Inf (OR in ``sign_mask`` for -Inf).

        Raises
        ------
        ValueError
            For a format without infinities.
        """
        if not self.has_inf:
            raise ValueError(f"{self.name} has no infinities")
        return self.exp_max << self.frac_width

    @property
    def max_finite(self):
        """Bit pattern of the largest finite value (OR in ``sign_mask`` for its negative)."""
        return (self.exp_max << self.frac_width) - 1 if self.has_inf else self.qnan - 1

    @property
    def sign_mask(self):
        return 1 << (self.width - 1)

    @property
    def dtype(self):
        """The numpy dtype holding one value (ml_dtypes for the formats numpy lacks)."""
        if self.numpy_dtype in ("float32", "float16"):
            return np.dtype(self.numpy_dtype)
        return np.dtype(getattr(ml_dtypes, self.numpy_dtype))

    @property
    def bits_dtype(self):
        """The unsigned numpy dtype holding one value's bit pattern."""
        return _uint_dtype(self.width)

    @property
    def _drop(self):
        """Low fraction bits of the container that the format does not have."""
        return 8 * self.dtype.itemsize - self.width if self.container else 0

    def cast(self, values, *, saturate=False):
        """``values`` rounded to nearest even into this format, as its dtype.

        The conversion is ml_dtypes' (numpy's for float16 and float32), with values beyond the
        largest finite one going to infinity, or to NaN where there is none (OCP's
        non-saturating mode). ``saturate``: OCP's saturating mode (as NVIDIA's ``satfinite``):
        finite values and infinities beyond the range become the largest finite value of their
        sign; NaN stays NaN. A container format (TF32) rounds the float32 value to nearest even
        at its last fraction bit, overflowing to infinity.
        """
        x = np.asarray(values)
        if saturate:
            top = np.float64(self.from_bits(self.max_finite).astype(np.float64))
            x = np.clip(x.astype(np.float64), -top, top)
        if not self.container:
            with np.errstate(invalid="ignore", over="ignore"):
                return x.astype(self.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        drop = self._drop
        half, lsb = 1 << (drop - 1), (bits >> drop) & 1
        rounded = ((bits + half - 1 + lsb) >> drop) << drop
        # A NaN keeps its top fraction bits, and its quiet bit if they would all be zero.
        nan = (bits & 0x7FFFFFFF) > 0x7F800000
        top = (bits >> drop) << drop
        top = np.where((top & 0x7FFFFFFF) == 0x7F800000, top | (1 << 22), top)
        rounded = np.where(nan, top, rounded)
        return (rounded & 0xFFFFFFFF).astype(np.uint32).view(np.float32)

    def exact(self, name, values):
        """``values`` as this format's dtype, or ``ValueError`` naming ``name`` and the format
        unless every value (of a float or integer dtype) converts to the format and back
        unchanged: NaN stays NaN; ±Inf only where the format has infinities."""
        values = np.asarray(values)
        if values.dtype == self.dtype and not self.container:
            return values
        if values.dtype.kind in "bcOSUaMm":    # bool, complex, objects, strings, times
            _refuse(name, self, f"its dtype is {values.dtype}")
        wide = values.astype(np.float64)
        got = self.cast(wide)
        back = got.astype(np.float64)
        bad = ~((back == wide) | (np.isnan(back) & np.isnan(wide)))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            _refuse(name, self, f"{float(wide[where])!r} at index {where} is not one of its "
                                f"values")
        return got

    def to_bits(self, values):
        """The bit patterns (``bits_dtype``) of ``values`` held in this format (rounded to it
        by :meth:`cast` first if they are not)."""
        x = np.ascontiguousarray(self.cast(values))
        raw = x.view(_uint_dtype(8 * x.dtype.itemsize))
        return (raw >> self._drop).astype(self.bits_dtype) if self._drop else raw

    def from_bits(self, bits):
        """The values whose bit patterns are ``bits``."""
        bits = np.asarray(bits).astype(np.uint64)
        raw = (bits << self._drop).astype(_uint_dtype(8 * self.dtype.itemsize))
        return np.ascontiguousarray(raw).view(self.dtype)


INT8 = IntFormat("int8", 8)
INT4 = IntFormat("int4", 4)
INT32 = IntFormat("int32", 32)
BF16 = FloatFormat("bf16", exp_width=8, sig_width=8, numpy_dtype="bfloat16")
FP16 = FloatFormat("fp16", exp_width=5, sig_width=11, numpy_dtype="float16")
FP8E4M3 = FloatFormat("fp8e4m3", exp_width=4, sig_width=4, numpy_dtype="float8_e4m3fn",
                      has_inf=False)
FP8E5M2 = FloatFormat("fp8e5m2", exp_width=5, sig_width=3, numpy_dtype="float8_e5m2")
#: TF32 has no numpy type: its values live in float32 with the low 13 fraction bits zero.
TF32 = FloatFormat("tf32", exp_width=8, sig_width=11, numpy_dtype="float32", container=True)
FP32 = FloatFormat("fp32", exp_width=8, sig_width=24, numpy_dtype="float32")

INPUT_FORMATS = {f.name: f for f in (INT8, BF16, FP16, FP8E4M3, FP8E5M2, TF32, INT4)}
ACC_FORMATS = {f.name: f for f in (INT32, FP32)}


def by_name(name):
    """Return the format called ``name`` (any of :data:`INPUT_FORMATS` or :data:`ACC_FORMATS`)."""
    table = {**INPUT_FORMATS, **ACC_FORMATS}
    if name not in table:
        raise ValueError(f"Format must be one of {', '.join(table)}, not {name!r}")
    return table[name]
