"""Number formats shared by the hardware generators and the numpy golden model.

One description per format. The hardware reads widths and biases from here; the golden model
reads the numpy dtype. Nothing else in the project hard-codes a format's layout.

Float formats follow Berkeley HardFloat's convention: ``sig_width`` **counts the hidden bit**,
so IEEE binary32 is ``(exp_width=8, sig_width=24)`` and its stored fraction is 23 bits wide.
"""

from dataclasses import dataclass

__all__ = [
    "IntFormat", "FloatFormat",
    "INT8", "INT32", "BF16", "FP32",
    "INPUT_FORMATS", "ACC_FORMATS", "by_name",
]


def _numpy():
    # numpy (and ml_dtypes) load on first use: the hardware generators read only widths from
    # here, and importing both is a tenth of ``python -m hw.gen``'s start-up.
    import numpy
    return numpy


@dataclass(frozen=True)
class IntFormat:
    """A two's complement integer format.

    Parameters
    ----------
    name : str
        The name used on the command line and in manifests.
    width : int
        Bits, sign included.
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
        """The numpy dtype holding one value."""
        np = _numpy()
        return np.dtype(f"int{self.width}")

    @property
    def bits_dtype(self):
        """The unsigned numpy dtype holding one value's bit pattern."""
        return _numpy().dtype(f"uint{self.width}")


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754-style binary floating-point format.

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

    Special values are IEEE's: an all-ones exponent is Inf (zero fraction) or NaN; an all-zeros
    exponent is zero (zero fraction) or a subnormal.
    """
    name: str
    exp_width: int
    sig_width: int
    numpy_dtype: str

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
        """The all-ones biased exponent that marks Inf and NaN."""
        return (1 << self.exp_width) - 1

    @property
    def qnan(self):
        """The canonical quiet NaN the hardware produces: positive, fraction MSB set."""
        return (self.exp_max << self.frac_width) | (1 << (self.frac_width - 1))

    @property
    def inf(self):
        """Bit pattern of +Inf (OR in ``sign_mask`` for -Inf)."""
        return self.exp_max << self.frac_width

    @property
    def sign_mask(self):
        return 1 << (self.width - 1)

    @property
    def dtype(self):
        """The numpy dtype holding one value (ml_dtypes for the formats numpy lacks)."""
        np = _numpy()
        if self.numpy_dtype == "float32":
            return np.dtype(np.float32)
        import ml_dtypes
        return np.dtype(getattr(ml_dtypes, self.numpy_dtype))

    @property
    def bits_dtype(self):
        return _numpy().dtype(f"uint{self.width}")


INT8 = IntFormat("int8", 8)
INT32 = IntFormat("int32", 32)
BF16 = FloatFormat("bf16", exp_width=8, sig_width=8, numpy_dtype="bfloat16")
FP32 = FloatFormat("fp32", exp_width=8, sig_width=24, numpy_dtype="float32")

INPUT_FORMATS = {f.name: f for f in (INT8, BF16)}
ACC_FORMATS = {f.name: f for f in (INT32, FP32)}


def by_name(name):
    """Return the format called ``name`` (any of :data:`INPUT_FORMATS` or :data:`ACC_FORMATS`)."""
    table = {**INPUT_FORMATS, **ACC_FORMATS}
    if name not in table:
        raise ValueError(f"Format must be one of {', '.join(table)}, not {name!r}")
    return table[name]
