"""A signed multiplier built from logic: radix-4 Booth partial products and an adder tree.

Synthesis maps ``a * b`` onto a DSP block wherever it can; an FPGA with fewer DSP blocks than
the array has PEs (256 INT8 PEs on the ECP5-85F's 156 MULT18X18D) builds the rest of its
multipliers from LUTs and carry chains with :func:`booth_product`.
"""

from amaranth import Cat, Const, Mux, Signal, signed

__all__ = ["booth_product"]


def booth_product(m, a, b, *, name="booth"):
    """The exact signed product ``a * b`` as combinational logic, without ``*``.

    Radix-4 Booth recoding turns the ``w``-bit multiplier ``b`` into ``ceil(w / 2)`` digits
    in {-2, -1, 0, 1, 2}; each partial product is ``a``, ``2a`` or zero, complemented for a
    negative digit, with the ``+1`` that completes the two's complement placed in a zero bit
    of the next partial product (the last one is a term of its own). The partial products
    are summed by a tree of two-operand adders, one carry chain each; their sums are kept as
    named wires so synthesis maps each onto a carry chain instead of merging the tree into
    one multi-operand adder built from LUTs (for 8×8 on the ECP5: about 60 LUT4 and 22
    CCU2C, against about 290 LUT4 for synthesis's own logic multiplier).

    Parameters
    ----------
    m : Module
        Where the logic goes (combinational only).
    a, b : Value
        Signed operands.
    name : str
        Prefix of the wires' names.

    Returns
    -------
    Signal
        ``signed(len(a) + len(b))``: the exact product.
    """
    a, b = a.as_signed(), b.as_signed()
    wa, wb = len(a), len(b)
    width = wa + wb
    # Bits b[-1] = 0 below and one sign bit above an odd width give whole digit triples.
    triples = Cat(Const(0, 1), b, b[-1]) if wb % 2 else Cat(Const(0, 1), b)
    digits = (wb + 1) // 2
    terms = []  # (value, bit offset)
    carry = None
    for j in range(digits):
        low, mid, high = triples[2 * j], triples[2 * j + 1], triples[2 * j + 2]
        # Named wires, not expressions: Amaranth writes an expression out again wherever it is
        # used (``neg.replicate(n)``: n copies), which synthesis merges but a simulator
        # evaluates every time (Verilator: a quarter of a logic-multiplier PE's work).
        one = Signal(name=f"{name}_one{j}")
        two = Signal(name=f"{name}_two{j}")
        neg = Signal(name=f"{name}_neg{j}")
        m.d.comb += [
            one.eq(low ^ mid),
            two.eq((high & ~mid & ~low) | (~high & mid & low)),
            neg.eq(high & ~(mid & low)),
        ]
        mag = Mux(two, a << 1, Mux(one, a, 0))
        pp = Signal(signed(wa + 2), name=f"{name}_pp{j}")
        m.d.comb += pp.eq(Mux(neg, ~mag, mag))
        if carry is None:
            terms.append((pp, 0))
        else:
            # The previous digit's +1 sits two places below this partial product.
            terms.append((Cat(carry, Const(0, 1), pp).as_signed(), 2 * j - 2))
        carry = neg
    terms.append((carry.as_unsigned(), 2 * digits - 2))

    level = 0
    while len(terms) > 1:
        pairs = []
        for n in range(0, len(terms) - 1, 2):
            (x, ox), (y, oy) = terms[n], terms[n + 1]
            low = min(ox, oy)
            total = Signal(signed(width - low), name=f"{name}_sum{level}_{n // 2}",
                           attrs={"keep": 1})
            # Bits above the product's width only wrap: the exact product fits.
            m.d.comb += total.eq((x << (ox - low)) + (y << (oy - low)))
            pairs.append((total, low))
        if len(terms) % 2:
            pairs.append(terms[-1])
        terms = pairs
        level += 1
    (value, offset), = terms
    product = Signal(signed(width), name=f"{name}_product")
    m.d.comb += product.eq(value << offset)
    return product
