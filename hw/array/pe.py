"""Processing elements: one multiply-accumulate cell of the systolic array, per dataflow.

Both PEs are built from the configuration's multiplier and accumulator adder
(:mod:`hw.arith`); every register is a plain ``sync`` flip-flop so the array stalls the whole
grid with one ``EnableInserter``. Only the flags take the synchronous reset (the OS PE's
``first``/``last`` pass-through and its ``first``/``done`` delay lines, the WS PE's ``bank``
pass-through); operands, weights, products, sums and drain slots are data, read only under
those flags or the array's valid, so they are reset-less (the rule is in :mod:`hw.delay`).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape, make_adder, make_multiplier, operand_shape
from ..delay import delay, drive_registered
from ..timing import ArrayTiming

__all__ = ["OSPE", "WSPE"]


def _enable_member(cfg):
    """An instantiated DSP block's registers take the grid's stall enable as a port (an
    ``EnableInserter`` does not reach into an instance); an engine with a set of operand
    formats selects the GEMM's with ``fmt`` (static during a GEMM, shared by every PE)."""
    members = {"en": In(1, init=1)} if cfg.dsp != "infer" else {}
    if cfg.is_set:
        members["fmt"] = In(range(len(cfg.in_fmts)))
    return members


class _PE(wiring.Component):
    """What both PEs share: built from ``cfg``'s multiplier (from logic if ``logic_mul``,
    see ``Config.dsp_muls``) and adder, with their latencies."""

    def __init__(self, cfg, *, logic_mul=False):
        self._cfg = cfg
        self._logic_mul = logic_mul
        self._timing = ArrayTiming(cfg)
        super().__init__(self.members(cfg))

    @property
    def logic_mul(self):
        return self._logic_mul

    def _multiplier(self, m):
        mul = make_multiplier(self._cfg, logic=self._logic_mul)
        if "en" in mul.signature.members:
            m.d.comb += mul.en.eq(self.en)
        if "fmt" in mul.signature.members:
            m.d.comb += mul.fmt.eq(self.fmt)
        return mul

    @property
    def mul_latency(self):
        return self._timing.mul_latency

    @property
    def add_latency(self):
        return self._timing.add_latency

    @property
    def latency(self):
        """Cycles from a PE's operands to their multiply-add result."""
        return self._timing.pe_latency


class OSPE(_PE):
    """Output-stationary PE: owns C elements and accumulates ``a * b`` into them.

    **The accumulation loop.** A floating-point adder cannot close ``acc += a * b`` in one short
    cycle. Instead the adder is a plain ``La``-stage pipeline and its own pipeline registers
    hold ``contexts = La`` independent accumulators: a product entering at cycle ``t`` is added
    to the adder's output at ``t``, which is the sum started ``La`` cycles earlier, i.e. the same
    context. Operands therefore arrive context-interleaved (step ``k * La + c`` belongs to
    context ``c``), each context is summed strictly in the order ``k = 0, 1, ...`` (so the golden
    model's sequential sum is bit-exact), and the loop has a full adder pipeline to spend. For
    INT32 accumulation ``La = 1`` and there is one context.

    **Draining** (``cfg.drain``). When a context's last product has been added (``last`` marks
    that step) its sum leaves the PE while the next tile accumulates. Through the ``"chain"``,
    it is copied into this PE's ``contexts`` slots of a column-wide shift chain that moves
    results one slot per cycle towards row 0 (``chain_in`` from the PE below, ``chain_out`` to
    the PE above). On the ``"bus"`` (one context), ``chain_out`` is ``chain_in`` ORed with the
    sum in the cycle it is finished and with 0 otherwise, no register: the column's PEs
    finish one a cycle, so the gates through the column carry one sum at a time to the
    register at the top.

    Ports
    -----
    a_in, b_in : operand lanes; ``first_in`` (step ``k == 0``: start from +0), ``last_in``
    (step ``k == K - 1``). ``a_out``/``first_out``/``last_out`` pass right and ``b_out`` passes
    down, each one register later. ``chain_in``/``chain_out``: the drain chain.

    Latency: ``latency`` = multiplier + adder cycles from a step's operands to its sum. Throughput:
    one multiply-add per cycle.
    """

    #: Lanes passed from PE to PE (``<lane>_out`` to the neighbour's ``<lane>_in``) to the
    #: right, down and up (:class:`~hw.array.tile.PETile`).
    PASS_RIGHT, PASS_DOWN, PASS_UP = ("a", "first", "last"), ("b",), ("chain",)

    @staticmethod
    def members(cfg):
        """The signature members of a ``cfg`` PE (for black-box instances of it)."""
        op, acc = operand_shape(cfg), acc_shape(cfg)
        return {
            "a_in": In(op), "b_in": In(op), "first_in": In(1), "last_in": In(1),
            "a_out": Out(op), "b_out": Out(op), "first_out": Out(1), "last_out": Out(1),
            "chain_in": In(acc), "chain_out": Out(acc), **_enable_member(cfg),
        }


    @property
    def contexts(self):
        """Independent accumulators interleaved in the adder pipeline (= adder latency)."""
        return self.add_latency


    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self._multiplier(m)
        m.submodules.add = add = make_adder(self._cfg, restart=True, product=True)

        drive_registered(m, self.a_out, self.a_in)
        drive_registered(m, self.b_out, self.b_in)
        m.d.sync += [self.first_out.eq(self.first_in), self.last_out.eq(self.last_in)]

        done = delay(m, self.last_in, self.latency, name="done")
        m.d.comb += [
            mul.a.eq(self.a_in),
            mul.b.eq(self.b_in),
            add.a.eq(mul.o),
        ]
        # +0 (all bits clear, in both INT32 and FP32) starts a context's sum afresh: the step
        # with ``first`` reaches the adder ``mul_latency`` cycles after the PE's operands.
        if "restart" in add.signature.members:
            # A float adder's feedback register reads +0 the cycle after ``restart``.
            restart = delay(m, self.first_in, self.mul_latency - 1, name="first")
            m.d.comb += [add.restart.eq(restart), add.b.eq(add.fb)]
        else:
            first = delay(m, self.first_in, self.mul_latency, name="first")
            if "clear" in add.signature.members:
                m.d.comb += [add.b.eq(add.o), add.clear.eq(first)]
            else:
                m.d.comb += add.b.eq(Mux(first, 0, add.o))

        if self._cfg.drain == "bus":
            m.d.comb += self.chain_out.eq(Mux(done, add.o, 0) | self.chain_in)
            return m
        slots = [Signal.like(add.o, name=f"slot{n}", reset_less=True)
                 for n in range(self.contexts)]
        m.d.sync += slots[0].eq(Mux(done, add.o, self.chain_in))
        m.d.sync += [slots[n].eq(slots[n - 1]) for n in range(1, len(slots))]
        m.d.comb += self.chain_out.eq(slots[-1])
        return m


class WSPE(_PE):
    """Weight-stationary PE: holds one weight and adds ``a * w`` to the partial sum passing down.

    Two weight banks: the array shifts the next tile's weights into one bank (``load``, with
    ``load_bank`` naming it; ``w_in`` from the PE above, ``w_out`` to the PE below) while
    activations use the other. Each activation carries the bank it uses (``bank_in``), so a
    tile switch travels through the grid with the data and needs no global swap.

    ``psum_out`` = ``psum_in + a_in * w`` appears ``latency`` cycles after ``a_in``; ``psum_in``
    must arrive ``mul_latency`` cycles after ``a_in``, so the array skews activations by
    ``add_latency`` per row. Throughput: one multiply-add per cycle.
    """

    #: Lanes passed from PE to PE (``<lane>_out`` to the neighbour's ``<lane>_in``) to the
    #: right, down and up (:class:`~hw.array.tile.PETile`).
    PASS_RIGHT, PASS_DOWN, PASS_UP = ("a", "bank"), ("w", "psum"), ()

    @staticmethod
    def members(cfg):
        """The signature members of a ``cfg`` PE (for black-box instances of it)."""
        op, acc = operand_shape(cfg), acc_shape(cfg)
        return {
            "a_in": In(op), "bank_in": In(1), "a_out": Out(op), "bank_out": Out(1),
            "w_in": In(op), "w_out": Out(op), "load": In(1), "load_bank": In(1),
            "psum_in": In(acc), "psum_out": Out(acc), **_enable_member(cfg),
        }



    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self._multiplier(m)
        m.submodules.add = add = make_adder(self._cfg, product=True)

        banks = [Signal.like(self.w_in, name=f"w{n}", reset_less=True) for n in range(2)]
        with m.If(self.load):
            m.d.sync += banks[0].eq(Mux(self.load_bank, banks[0], self.w_in))
            m.d.sync += banks[1].eq(Mux(self.load_bank, self.w_in, banks[1]))
        m.d.comb += self.w_out.eq(Mux(self.load_bank, banks[1], banks[0]))

        drive_registered(m, self.a_out, self.a_in)
        m.d.sync += self.bank_out.eq(self.bank_in)
        m.d.comb += [
            mul.a.eq(self.a_in),
            mul.b.eq(Mux(self.bank_in, banks[1], banks[0])),
            add.a.eq(mul.o),
            add.b.eq(self.psum_in),
            self.psum_out.eq(add.o),
        ]
        return m
