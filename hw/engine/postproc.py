"""Output post-processing: ReLU, then raw / requantized INT8 / BF16, packed densely.

``cfg.post_lanes`` accumulator values go in per cycle (a row, or with fewer lanes than
columns a part of one) and they come out packed :func:`postproc_latency` cycles later. The mode
and ReLU flag travel down the pipeline with the values they came with, so they may change on any
cycle. With a lane per column each lane's requantization scale is a setting, held while that
lane's values are in flight (the controller changes the scales only while the storer is idle),
so it costs one 32-bit value per lane and no copy per stage; lanes shared by several columns
take each value's scale with it.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ..arith import acc_shape
from ..checked import CheckedComponent
from ..config import Config
from ..delay import delay
from ..export import written_once
from ..formats import BF16, FP32, INT8
from ..fp.float2int import FloatToInt
from ..fp.int2float import IntToFloat
from ..fp.mul import FPMul
from ..fp.narrow import FloatNarrow
from ..isa import OutMode, allowed_modes
from .delayram import MIN_CYCLES, DelayRam

__all__ = ["PostProc", "PostLane", "postproc_latency"]

def _check_cfg(cfg):
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a Config, not {cfg!r}")


def _paths(cfg):
    """Latency of the INT8 path (int32 → fp32 conversion for int32 accumulators, the scale
    multiply, fp32 → int8) and of the BF16 path (fp32 accumulators only; 0 otherwise)."""
    pipe = cfg.pipeline
    convert = 0 if cfg.is_float else pipe.post_convert
    return convert + pipe.post_mul + pipe.post_round, pipe.post_narrow if cfg.is_float else 0


def postproc_latency(cfg):
    """Latency of ``PostProc(cfg)`` in cycles, without building it: that of its slowest path
    with the depths of ``cfg.pipeline`` (17 for int32 accumulators and 13 for fp32 by
    default, the INT8 path's; 4 and 3 with the least depths)."""
    _check_cfg(cfg)
    return max(_paths(cfg))


class PostProc(CheckedComponent):
    """Post-process ``cfg.post_lanes`` accumulator values per cycle: a row of ``cfg.cols``, or
    with shared lanes (:attr:`~hw.config.Config.post_lanes`) one part of a row.

    Per lane ``x``, first ReLU when ``relu`` is set: ``max(x, 0)`` for int32; for fp32 a value
    whose sign bit is set (negative values, -0, -Inf) becomes +0 and a NaN becomes the
    canonical quiet NaN ``FP32.qnan``. Then, by ``mode``:

    * ``RAW``: the value's 32 bits, unchanged (no flushing, NaN payloads kept when ``relu``
      is clear);
    * ``INT8``: ``float32(x) × scale`` as one IEEE binary32 multiply rounded to nearest even
      (:class:`~hw.fp.mul.FPMul`, flushing per ``cfg.ftz``), where ``float32(x)`` is the
      round-to-nearest-even conversion of an int32 (:class:`~hw.fp.int2float.IntToFloat`) or
      the fp32 value itself; then rounded to nearest even and saturated into int8
      (:class:`~hw.fp.float2int.FloatToInt`): infinities give -128 / 127, a NaN gives 0;
    * ``BF16`` (fp32 accumulators only): rounded to nearest even into BF16
      (:class:`~hw.fp.narrow.FloatNarrow`, flushing per ``cfg.ftz``; a NaN gives
      ``BF16.qnan``, overflow an infinity).

    A mode the accumulator cannot produce (``BF16`` with int32 accumulation, and the unused
    encoding 3) gives an all-zero row; the controller rejects such a CONFIG before it reaches
    this unit (:func:`allowed_modes`).

    The output is packed densely: lane ``n`` occupies bits ``[n*w, (n+1)*w)`` of ``o``,
    ``w`` = :func:`~hw.isa.out_width` of the mode (32, 8 or 16); the bits above ``lanes*w``
    are zero.

    Every mode has the same latency, that of the slowest path (:func:`postproc_latency`: 17
    cycles for int32 accumulators and 13 for fp32 by default, 4 and 3 with the least depth
    of each unit; each unit's depth is ``cfg.pipeline``'s); faster paths are delayed with
    registers.
    Throughput ``lanes`` values per cycle. A plain pipeline: ``o`` depends only on ``i``,
    ``relu`` and ``mode`` from :attr:`latency` cycles before and on ``scale``, which must hold
    from a value's ``i`` to its ``o`` with a lane per column, and otherwise comes with ``i``
    (:class:`PostLane`), so the enclosing design may
    stall it with ``EnableInserter`` (in simulation; the exported lanes are instances that
    run freely, as the storer's pipeline does).

    Parameters
    ----------
    cfg : Config
        Accumulator format, ``cols`` and subnormal handling.
    modules : hw.export.ModuleSet or None
        Where a Verilog export records the lane module, written once for all the lanes
        (:class:`PostLane`; ``None`` for simulation).

    Members
    -------
    i : In(data.ArrayLayout(acc_shape(cfg), cfg.post_lanes))
        ``lanes`` accumulator values.
    relu : In(1)
        Apply ReLU first.
    mode : In(OutMode)
        What to send.
    scale : In(data.ArrayLayout(32, cfg.post_lanes))
        FP32 bits of each lane's INT8 requantization scale: held while the lane's values are
        in flight with a lane per column, each value's own (with ``i``) with shared lanes.
    o : Out(cfg.post_lanes * 32)
        The packed output, :attr:`latency` cycles later.

    Raises
    ------
    TypeError
        If ``cfg`` is not a :class:`~hw.config.Config`.
    """

    @staticmethod
    def check(cfg, modules):
        _check_cfg(cfg)

    def __init__(self, cfg, *, modules=None):
        self._cfg = cfg
        self._modules = modules
        super().__init__({
            "i": In(data.ArrayLayout(acc_shape(cfg), cfg.post_lanes)),
            "relu": In(1),
            "mode": In(OutMode),
            "scale": In(data.ArrayLayout(32, cfg.post_lanes)),
            "o": Out(cfg.post_lanes * 32),
        })

    @property
    def cfg(self):
        return self._cfg

    @property
    def latency(self):
        """Register stages from the inputs to ``o``, the same in every mode."""
        return postproc_latency(self._cfg)

    @property
    def modes(self):
        """The out modes this unit produces (:func:`~hw.isa.allowed_modes`)."""
        return allowed_modes(self._cfg)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        is_float = cfg.is_float

        mode = delay(m, self.mode, self.latency, name="mode")

        raw, int8, bf16 = [], [], []
        for n in range(cfg.post_lanes):
            lane = written_once(m, platform, self._modules, f"lane{n}",
                                lambda: PostLane(cfg), "post_lane")
            m.d.comb += [lane.i.eq(self.i[n]), lane.relu.eq(self.relu),
                         lane.scale.eq(self.scale[n])]
            raw.append(lane.raw)
            int8.append(lane.int8)
            if is_float:
                bf16.append(lane.bf16)

        with m.Switch(mode):
            with m.Case(OutMode.RAW):
                m.d.comb += self.o.eq(Cat(*raw))
            with m.Case(OutMode.INT8):
                m.d.comb += self.o.eq(Cat(*int8))
            if is_float:
                with m.Case(OutMode.BF16):
                    m.d.comb += self.o.eq(Cat(*bf16))
            with m.Default():
                m.d.comb += self.o.eq(0)
        return m


class PostLane(CheckedComponent):
    """One lane of :class:`PostProc`: one accumulator value through ReLU and every output
    mode's path, each delayed to :func:`postproc_latency`. :class:`PostProc` has
    ``cfg.post_lanes`` of them (one Verilog module written once for export, :mod:`hw.export`)
    and picks the mode.

    Latency :func:`postproc_latency` from ``i`` and ``relu`` to every output. With a lane per
    column (``cfg.post_lanes == cfg.cols``) ``scale`` must hold from a value's ``i`` to its
    outputs, and the multiplier reads it as it is; with shared lanes each value comes with its
    own ``scale``, which the lane delays to meet the value at the multiplier (for int32
    accumulators ``post_convert`` registers, 32 flip-flops each). Throughput one value per
    cycle; a plain pipeline.

    Parameters
    ----------
    cfg : Config
        Accumulator format and subnormal handling.

    Members
    -------
    i : In(acc_shape(cfg))
        One accumulator value.
    relu : In(1)
        Apply ReLU first.
    scale : In(32)
        FP32 bits of the requantization scale (held, or with ``i``; see above).
    raw : Out(32)
        The value after ReLU, unchanged.
    int8 : Out(8)
        Requantized to INT8.
    bf16 : Out(16)
        Rounded to BF16 (fp32 accumulators only).

    Raises
    ------
    TypeError
        If ``cfg`` is not a :class:`~hw.config.Config`.
    """

    @staticmethod
    def check(cfg):
        _check_cfg(cfg)

    def __init__(self, cfg):
        self._cfg = cfg
        members = {
            "i": In(acc_shape(cfg)), "relu": In(1), "scale": In(32),
            "raw": Out(32), "int8": Out(INT8.width),
        }
        if cfg.is_float:
            members["bf16"] = Out(BF16.width)
        super().__init__(members)

    @property
    def latency(self):
        return postproc_latency(self._cfg)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        pipe = cfg.pipeline
        lat = self.latency
        int8_path, bf16_path = _paths(cfg)
        x = self.i
        r = Signal(32, name="relu")
        if cfg.is_float:
            is_nan = (x[FP32.frac_width:31] == FP32.exp_max) & x[:FP32.frac_width].any()
            m.d.comb += r.eq(Mux(self.relu & is_nan, FP32.qnan,
                                 Mux(self.relu & x[31], 0, x)))
            f = r
        else:
            m.d.comb += r.eq(Mux(self.relu & (x < 0), 0, x))
            m.submodules.cvt = cvt = IntToFloat(32, FP32, latency=pipe.post_convert)
            m.d.comb += cvt.a.eq(r)
            f = cvt.o
        # The lane's registers are data (the storer's valid qualifies them): no reset.
        m.d.comb += self.raw.eq(self._hold(m, r, lat, "raw"))

        m.submodules.mul = mul = FPMul(FP32, FP32, ftz=cfg.ftz, latency=pipe.post_mul,
                                       dsp=cfg.dsp)
        m.submodules.f2i = f2i = FloatToInt(FP32, INT8.width, latency=pipe.post_round)
        scale = self.scale
        if cfg.post_lanes != cfg.cols:
            # Shared lanes: the scale comes with i and meets it again at the multiplier.
            convert = 0 if cfg.is_float else pipe.post_convert
            scale = delay(m, scale, convert, name="scale", reset_less=True)
        m.d.comb += [mul.a.eq(f), mul.b.eq(scale), f2i.a.eq(mul.o),
                     self.int8.eq(delay(m, f2i.o, lat - int8_path, name="int8", reset_less=True))]

        if cfg.is_float:
            m.submodules.narrow = nar = FloatNarrow(FP32, BF16, ftz=cfg.ftz,
                                                    latency=pipe.post_narrow)
            m.d.comb += [nar.a.eq(r),
                         self.bf16.eq(self._hold(m, nar.o, lat - bf16_path, "bf16"))]
        return m

    def _hold(self, m, value, cycles, name):
        """``value`` delayed by ``cycles``: reset-less registers, or a
        :class:`~hw.engine.delayram.DelayRam` named ``<name>_ram`` when ``cfg.post_delay`` is
        ``"ram"`` and the delay is long enough for one."""
        if self._cfg.post_delay == "ram" and cycles >= MIN_CYCLES:
            line = m.submodules[f"{name}_ram"] = DelayRam(len(value), cycles)
            m.d.comb += line.i.eq(value)
            return line.o
        return delay(m, value, cycles, name=name, reset_less=True)
