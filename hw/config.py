"""The one configuration object: every parameter of a generated design, validated once."""

from dataclasses import asdict, dataclass, field, fields, replace

from . import latency as lat
from .dsp import DSP_CHOICES
from .formats import ACC_FORMATS, INPUT_FORMATS
from .isa import ADDR_WIDTH

__all__ = ["ConfigError", "Config", "Pipeline", "check_config", "DATAFLOWS", "SUBNORMALS",
           "MAX_DIM", "ALLOWED_ACC", "format_set", "MAX_KIB", "MAX_LINES", "POST_DEFAULTS",
           "DSP_CHOICES", "DEFAULT_DSP_MULS", "RESTARTS", "DRAINS", "INT_ADDERS",
           "POST_DELAYS", "DISPATCHES", "divisors"]

MAX_DIM = 256
#: Largest scratchpad or accumulator memory, in KiB.
MAX_KIB = 16384
#: Largest number of lines (rows) one memory may have: the ISA's addresses are
#: :data:`~hw.isa.ADDR_WIDTH` bits.
MAX_LINES = 1 << ADDR_WIDTH
DATAFLOWS = ("os", "ws")
#: How an output-stationary PE's float accumulator starts a sum afresh (``Config.restart``).
RESTARTS = ("reset", "mux")
#: How an output-stationary array takes finished sums out of its PEs (``Config.drain``).
DRAINS = ("chain", "bus")
#: How an integer accumulator adds a product to a sum (``Config.int_adder``).
INT_ADDERS = ("full", "split")
#: How the controller decides to hand the held command to its unit (``Config.dispatch``).
DISPATCHES = ("direct", "registered")
#: Where post-processing's delay lines hold their values (``Config.post_delay``).
POST_DELAYS = ("ff", "ram")
SUBNORMALS = ("ieee", "ftz")
#: The accumulator formats each input format may use.
ALLOWED_ACC = {"int8": ("int32", "fp32"), "int4": ("int32",), "bf16": ("fp32",),
               "fp16": ("fp32",), "fp8e4m3": ("fp32",), "fp8e5m2": ("fp32",), "tf32": ("fp32",)}


def _bytes(lanes, width):
    """Bytes of ``lanes`` packed ``width``-bit values, rounded up (INT4: two to a byte; TF32's
    19-bit lanes: a line's bits rounded up to a byte)."""
    return -(-lanes * width // 8)


def format_set(in_fmt):
    """The names in ``in_fmt``: one format name, several joined by commas
    (``"int8,bf16"``), or a tuple or list of names. Only splits; :class:`Config` checks."""
    if isinstance(in_fmt, (tuple, list)):
        return tuple(in_fmt)
    if isinstance(in_fmt, str):
        return tuple(name.strip() for name in in_fmt.split(","))
    return (in_fmt,)


#: The post-processing units' default depths: each unit's least and one register at each of
#: its ``CUTS`` (:class:`~hw.fp.int2float.IntToFloat`, :class:`~hw.fp.mul.FPMul`,
#: :class:`~hw.fp.float2int.FloatToInt`, :class:`~hw.fp.narrow.FloatNarrow`).
POST_DEFAULTS = {"post_convert": 4, "post_mul": 9, "post_round": 4, "post_narrow": 5}
#: Integer PEs that multiply on a DSP block unless ``Config.dsp_muls`` says otherwise: every
#: PE of an 8×8 array; a 16×16 engine then needs 64 of the ECP5-85F's 156 MULT18X18D for its
#: array, leaving room for the post-processing's multipliers.
DEFAULT_DSP_MULS = 64


class ConfigError(ValueError):
    """A parameter is out of range. The message names the parameter, the value and what is
    allowed; command-line front ends print it on one line and exit with status 2, naming
    parameters their own way (:meth:`message`).

    Parameters
    ----------
    param : str
        The parameter (``"rows"``, ``"pipeline.add"``).
    value :
        The value given.
    allowed : str
        What is allowed (``"an integer from 1 to 256"``).
    when : dict or None
        Other parameters the allowed values depend on, and their values.
    """

    def __init__(self, param, value, allowed, *, when=None):
        self.param = param
        self.value = value
        self.allowed = allowed
        self.when = dict(when or {})
        super().__init__(self.message())

    def message(self, name=str):
        """The message, with each parameter written as ``name(param)``."""
        when = " and ".join(f"{name(k)} is {v!r}" for k, v in self.when.items())
        when = f" when {when}" if when else ""
        return f"{name(self.param)} must be {self.allowed}{when}, not {self.value!r}"


def _check_dim(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
        raise ConfigError(name, value, f"an integer from 1 to {MAX_DIM}")


def divisors(n):
    """The divisors of ``n``, ascending (the ``post_lanes`` and ``acc_lanes`` a ``cols``
    takes)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(name, value, "one of " + ", ".join(repr(c) for c in choices))


@dataclass(frozen=True)
class Pipeline:
    """Register stages of each arithmetic unit a design builds (:mod:`hw.latency`).

    Every field is a latency in cycles; ``None`` (for ``mul`` and ``add``) means the least the
    configuration's formats allow, and :class:`Config` fills it in. Deeper stages shorten a
    unit's longest path at the cost of registers; every cycle count (``hw.timing``, the
    golden schedule, the manifest) follows from these numbers.

    The post-processing units default to their full depth (:data:`POST_DEFAULTS`: every
    place a unit has for a register beyond its least, its ``CUTS``, has one), which keeps
    post-processing off an FPGA's critical path for 13 cycles more per STORE (int32
    accumulators; 10 for fp32) than the least depths (1, 2, 1, 1); those give the shortest
    STORE and a slow chip (30 MHz on ECP5, README). The array's ``mul`` and ``add`` default
    to the least.

    Parameters
    ----------
    mul : int or None
        The PE multiplier: least 1 (int8 or int4 → int32), 2 (int8 → fp32: product and
        conversion), 2 (every float format).
    add : int or None
        The accumulator adder (PEs, the context reducer, accumulate-on-write): least 1
        (int32), 3 (fp32). An output-stationary PE keeps one accumulator context per stage.
    post_convert : int
        Post-processing's int32 → fp32 conversion (int32 accumulators), least 1, default 4.
    post_mul : int
        Post-processing's FP32 scale multiply, least 2, default 9.
    post_round : int
        Post-processing's fp32 → int8 conversion, least 1, default 4.
    post_narrow : int
        Post-processing's fp32 → bf16 rounding, least 1, default 5.
    enable : int
        The array's stall enable: register stages (a tree of register copies) from the
        decision to the grid's registers, least 0 (one combinational net to every register
        of the grid); 2 or 3 take that fan-out off the longest path of a fast array. Adds as
        many cycles to the array's latency.
    """
    mul: int = None
    add: int = None
    post_convert: int = POST_DEFAULTS["post_convert"]
    post_mul: int = POST_DEFAULTS["post_mul"]
    post_round: int = POST_DEFAULTS["post_round"]
    post_narrow: int = POST_DEFAULTS["post_narrow"]
    enable: int = 0

    def least(self, in_fmt, acc_fmt):
        """The least latency of each field for these formats (names of ``INPUT_FORMATS`` and
        ``ACC_FORMATS``; ``in_fmt`` may be a set, :func:`format_set`: the multiplier that
        serves every member needs the most any of them does)."""
        int_acc = ACC_FORMATS[acc_fmt].kind == "int"
        mul = 0
        for name in format_set(in_fmt):
            if INPUT_FORMATS[name].kind == "int":
                mul = max(mul, lat.INT_MUL if int_acc else lat.INT_MUL + lat.INT_TO_FLOAT)
            else:
                mul = max(mul, lat.FP_MUL)
        return {"mul": mul, "add": lat.INT_ADD if int_acc else lat.FP_ADD,
                "post_convert": lat.INT_TO_FLOAT, "post_mul": lat.FP_MUL,
                "post_round": lat.FLOAT_TO_INT, "post_narrow": lat.FLOAT_NARROW, "enable": 0}

    def resolved(self, in_fmt, acc_fmt):
        """This pipeline with ``None`` fields filled in and every field checked.

        Raises
        ------
        ConfigError
            Naming the field (``pipeline.add``), the value and what is allowed.
        """
        least = self.least(in_fmt, acc_fmt)
        filled = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                value = least[f.name]
            try:
                lat.check_latency(value, least[f.name])
            except ValueError:
                raise ConfigError(f"pipeline.{f.name}", value,
                                  f"an integer from {least[f.name]} to {lat.MAX_LATENCY}",
                                  when={"in_fmt": in_fmt, "acc_fmt": acc_fmt}) from None
            filled[f.name] = value
        return replace(self, **filled)

    def suffix(self, names, in_fmt, acc_fmt):
        """``_<name><value>`` for each of ``names`` whose depth is not the default (``""`` if
        none): what module names add so that two pipelines never share one."""
        default = Pipeline().resolved(in_fmt, acc_fmt)
        return "".join(f"_{name.replace('_', '')}{getattr(self, name)}" for name in names
                       if getattr(self, name) != getattr(default, name))


@dataclass(frozen=True)
class Config:
    """Every parameter of a generated systolic array.

    Parameters
    ----------
    rows : int
        PE rows, 1 to 256.
    cols : int or None
        PE columns, 1 to 256; ``None`` means square (``cols = rows``).
    in_fmt : str or tuple
        Operand format, one of :data:`~hw.formats.INPUT_FORMATS`: ``"int8"``, ``"int4"``,
        ``"bf16"``, ``"fp16"``, ``"fp8e4m3"``, ``"fp8e5m2"`` or ``"tf32"``; or a **set** of
        them, comma-separated (``"int8,bf16,fp8e4m3"``) or a tuple, each at most once. A set
        engine runs each GEMM in the member its CONFIG names (:attr:`in_fmts`); the first is
        the format after reset. Stored as the names joined by commas.
    acc_fmt : str or None
        Accumulator format (:data:`ALLOWED_ACC`): ``"int32"`` or ``"fp32"`` for int8
        operands, ``"int32"`` for int4, ``"fp32"`` for every float format; every member of a
        set must allow it. ``None`` picks the first the first member allows (``int32`` for
        the integer formats, ``fp32`` for the float ones) if every member allows it.
    dataflow : str
        ``"os"`` (output-stationary) or ``"ws"`` (weight-stationary).
    subnormals : str
        ``"ieee"`` (subnormals handled in full) or ``"ftz"`` (subnormal inputs read as zero,
        subnormal results flush to zero of the same sign). Only float arithmetic reads it.
    spad_kib : int or None
        Operand scratchpad size in KiB (``None``: 128, or the least the shape allows if
        more), split evenly between buffer A (lines of ``rows`` operands) and buffer B (lines
        of ``cols`` operands). Each buffer must hold at least
        ``rows`` lines and at most 65536 (the ISA's addresses are 16 bits).
    acc_kib : int or None
        Accumulator memory size in KiB (``None``: 64, or the least the shape allows if more;
        rows of ``cols`` accumulator values): at least one output tile (``rows`` rows), at
        most 65536 rows.
    pipeline : Pipeline, dict or None
        Register stages of each arithmetic unit (``None``: :class:`Pipeline`'s defaults); a
        dict is read as ``Pipeline(**dict)``.
    dsp : str
        Integer PE multipliers: ``"infer"`` (``a * b``, mapped by synthesis; every tool and
        simulator takes it) or ``"ecp5"`` (an instantiated ECP5 MULT18X18D whose own
        registers hold the multiplier's pipeline stages, :mod:`hw.dsp`; with
        ``pipeline.mul >= 2`` the block is registered on both sides, which is what lets an
        INT8 array run past 100 MHz on the ECP5; the Verilog then needs the ECP5 cell
        library). ``"ecp5"`` also puts post-processing's FP32 multiplier's four partial
        products on instantiated blocks whose own registers are its ``"operands"`` and
        ``"product"`` cuts (:class:`~hw.fp.sigmul.SigMul`; same registers and latency). Float
        PEs take ``"infer"`` only.
    dsp_muls : int or None
        Integer PEs whose multiplier is a DSP block (``dsp``), counted in row-major order;
        the others build theirs from LUTs and carry chains (:mod:`hw.booth`, about 60 LUT4
        and 22 CCU2C each on the ECP5, same latency). ``None``: ``min(rows·cols,
        DEFAULT_DSP_MULS)``. Float PEs put every multiplier on DSP blocks.
    restart : str or None
        How an output-stationary PE with a float accumulator starts a sum at +0 (same
        latency either way): ``"reset"`` (the adder's second output register, its feedback,
        takes a synchronous reset, :meth:`hw.latency.Pipelined.feedback`: free on an FPGA,
        whose flip-flops have a reset input, and off the loop) or ``"mux"`` (a multiplexer in
        front of the adder's first stage, on the loop, and no second register: smaller and
        faster in a standard-cell library, which has no synchronous-reset flip-flop, so the
        reset would be a gate too; one 32-bit register fewer per PE). ``None``: ``"reset"``. An
        integer accumulator always restarts with a multiplexer (``"mux"``, the only value it
        takes); a weight-stationary PE never restarts (``None`` only).
    drain : str or None
        How an output-stationary array takes a finished sum out of its PEs (same bits
        either way): ``"chain"`` (each PE copies it into a slot per context of a column-wide
        shift chain, one register per PE, which drains one row every ``contexts + 1``
        cycles while the next tile accumulates) or ``"bus"`` (one context only: each column's
        PEs put their sums on a column bus in the cycle each finishes, an AND-OR chain of
        gates through the column into one register at the top, one row a cycle: 32 flip-flops
        and a multiplexer fewer per PE, and tiles of ``K >= rows`` steps follow each other
        sooner, but the bus is a path through every PE of a column, so its delay grows with
        ``rows``). ``None``: ``"chain"``. ``"bus"`` needs one accumulator context (an integer
        accumulator with ``pipeline.add == 1``); a weight-stationary array has no drain
        (``None`` only).
    int_adder : str or None
        How an integer accumulator adds a product (``2·width`` bits, sign-extended) to its
        32-bit sum, in the PEs (same bits and latency either way): ``"full"`` (one 32-bit
        adder: one carry chain on an FPGA) or ``"split"`` (an adder as wide as the product,
        and the upper bits as an incrementer/decrementer taking its carry and the product's
        sign: smaller and faster in a standard-cell library, more logic on an FPGA's carry
        chains). ``None``: ``"full"``; a float accumulator takes ``None`` only.
    post_delay : str
        Where post-processing holds a lane's value while its slowest path works (the RAW
        output's 32 bits, and for fp32 accumulators the BF16 output's 16, each delayed to
        :func:`~hw.engine.postproc.postproc_latency`; same bits and cycles either way):
        ``"ff"`` (a chain of registers: 32 flip-flops per cycle of the delay) or ``"ram"``
        (each delay line of 2 cycles or more in a RAM of as many words,
        :class:`~hw.engine.delayram.DelayRam`: block RAM on an FPGA, two EBR per 32-bit line
        on the iCE40, for a pointer's few cells, which frees about 32 logic cells per cycle of
        post-processing's depth where flip-flops are dear). Default ``"ff"``.
    post_lanes : int or None
        Post-processing lanes (each an FP32 scale multiplier, the conversions and the
        narrowing; :class:`~hw.engine.postproc.PostLane`), a divisor of ``cols``: a STORE
        passes each accumulator row through them in ``cols / post_lanes`` cycles, so it sends
        a row every ``cols / post_lanes`` cycles instead of every cycle, for ``cols -
        post_lanes`` lanes fewer (same bits; the STORE's latency grows by ``cols /
        post_lanes``, :func:`~hw.engine.storer.store_latency`). ``None``: ``cols``, a lane per
        column.
    acc_lanes : int or None
        The accumulator memory's accumulate-on-write adders (the array's accumulator adder,
        :class:`~hw.engine.memory.AccumulatorMemory`), a divisor of ``cols``: a row is added
        to the stored one ``acc_lanes`` columns a cycle, so the memory takes a row every ``cols
        / acc_lanes`` cycles instead of every cycle, for ``cols - acc_lanes`` adders fewer
        (same bits; a row's write lands a cycle later). An output-stationary array with FP32
        accumulators sends a row every ``contexts + 1`` cycles at most, so up to that many
        cycles a row cost it nothing while rows are not bunched; other arrays wait for the
        memory. ``None``: ``cols``.
    dispatch : str or None
        How the engine's controller decides that the held command may go to its unit (same
        bits and order either way; :class:`~hw.engine.controller.Controller`): ``"direct"``
        (its ranges compared with the ones the units still use in the cycle it goes: a
        command a cycle) or ``"registered"`` (those checks made a cycle earlier and
        registered, so a LOAD, PRELOAD, COMPUTE or STORE goes from the second cycle it is
        held, and one whose hazard has just ended a cycle later: the decision, which takes the
        next command in the same cycle, starts from registers, the path that limits an
        engine's clock on an FPGA). ``None``: ``"direct"``; the FPGA flows default to
        ``"registered"`` (:data:`hw.fpga.flow.FPGA_DEFAULTS`). The bare array has no
        controller.

    Raises
    ------
    ConfigError
        Naming the parameter, the value and what is allowed.
    """
    rows: int = 4
    cols: int = field(default=None)
    in_fmt: str = "int8"
    acc_fmt: str = field(default=None)
    dataflow: str = "os"
    subnormals: str = "ieee"
    spad_kib: int = field(default=None)
    acc_kib: int = field(default=None)
    pipeline: Pipeline = field(default=None)
    dsp: str = "infer"
    dsp_muls: int = field(default=None)
    restart: str = field(default=None)
    post_delay: str = "ff"
    post_lanes: int = field(default=None)
    acc_lanes: int = field(default=None)
    drain: str = field(default=None)
    int_adder: str = field(default=None)
    dispatch: str = field(default=None)

    def __post_init__(self):
        _check_dim("rows", self.rows)
        if self.cols is None:
            object.__setattr__(self, "cols", self.rows)
        _check_dim("cols", self.cols)
        self._check_formats()
        _check_choice("dataflow", self.dataflow, DATAFLOWS)
        _check_choice("subnormals", self.subnormals, SUBNORMALS)
        self._check_sizes()
        pipeline = self.pipeline
        if pipeline is None:
            pipeline = Pipeline()
        elif isinstance(pipeline, dict):
            names = [f.name for f in fields(Pipeline)]
            for key in pipeline:
                if key not in names:
                    raise ConfigError("pipeline", key, f"a dict with keys from {', '.join(names)}")
            pipeline = Pipeline(**pipeline)
        elif not isinstance(pipeline, Pipeline):
            raise ConfigError("pipeline", pipeline, "a Pipeline, a dict or None")
        object.__setattr__(self, "pipeline", pipeline.resolved(self.in_fmt, self.acc_fmt))
        self._check_dsp()
        self._check_restart()
        _check_choice("post_delay", self.post_delay, POST_DELAYS)
        self._check_lanes("post_lanes")
        self._check_lanes("acc_lanes")
        self._check_drain()
        self._check_int_adder()
        self._choose("dispatch", DISPATCHES, "direct")

    def _choose(self, name, choices, default, *, none_when=None, why=None):
        """Check the choice ``name`` (one of ``choices``; ``None`` reads ``default``), or, where
        ``none_when`` (``{parameter: value}``) says the design has no such choice, that it was
        not given (``why``). Returns whether the design takes it."""
        value = getattr(self, name)
        if none_when:
            if value is not None:
                raise ConfigError(name, value, f"None (not given: {why})", when=none_when)
            return False
        if value is None:
            object.__setattr__(self, name, default)
        _check_choice(name, getattr(self, name), choices)
        return True

    def _check_lanes(self, name):
        """``name`` (``post_lanes``, ``acc_lanes``): lanes shared by the columns, a divisor of
        ``cols``; ``None`` reads ``cols``."""
        if getattr(self, name) is None:
            object.__setattr__(self, name, self.cols)
        lanes = divisors(self.cols)
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value not in lanes:
            raise ConfigError(name, value, f"a divisor of cols ({', '.join(map(str, lanes))})",
                              when={"cols": self.cols})

    @property
    def post_passes(self):
        """Cycles a STORE spends on one accumulator row: ``cols / post_lanes``."""
        return self.cols // self.post_lanes

    @property
    def acc_passes(self):
        """Cycles the accumulator memory spends on one row: ``cols / acc_lanes``."""
        return self.cols // self.acc_lanes

    def _check_drain(self):
        ws = {"dataflow": "ws"} if self.dataflow == "ws" else None
        if not self._choose("drain", DRAINS, "chain", none_when=ws,
                            why="a WS array has no drain"):
            return
        contexts = self.pipeline.add
        if self.drain == "bus" and contexts != 1:
            raise ConfigError("drain", self.drain,
                              "'chain' (a bus drains one accumulator context, which needs "
                              "an integer accumulator with pipeline.add 1)",
                              when={"pipeline.add": contexts})

    def _check_int_adder(self):
        float_acc = {"acc_fmt": self.acc_fmt} if self.is_float else None
        self._choose("int_adder", INT_ADDERS, "full", none_when=float_acc,
                     why="the accumulator is float")

    def _check_restart(self):
        ws = {"dataflow": "ws"} if self.dataflow == "ws" else None
        if not self._choose("restart", RESTARTS, "mux" if not self.is_float else "reset",
                            none_when=ws, why="a WS PE never restarts"):
            return
        if not self.is_float and self.restart != "mux":
            raise ConfigError("restart", self.restart, "'mux' or None (not given)",
                              when={"acc_fmt": self.acc_fmt})

    def _check_formats(self):
        names = format_set(self.in_fmt)
        if len(names) == 1:
            _check_choice("in_fmt", names[0], tuple(INPUT_FORMATS))
        allowed = "one of " + ", ".join(map(repr, INPUT_FORMATS)) + \
            ", or several of them joined by commas, each at most once"
        if not names or any(name not in INPUT_FORMATS for name in names) or \
                len(set(names)) != len(names):
            raise ConfigError("in_fmt", self.in_fmt, allowed)
        object.__setattr__(self, "in_fmt", ",".join(names))
        if self.acc_fmt is None:
            common = [acc for acc in ALLOWED_ACC[names[0]]
                      if all(acc in ALLOWED_ACC[name] for name in names)]
            object.__setattr__(self, "acc_fmt", (common or ALLOWED_ACC[names[0]])[0])
        _check_choice("acc_fmt", self.acc_fmt, tuple(ACC_FORMATS))
        for name in names:
            if self.acc_fmt not in ALLOWED_ACC[name]:
                raise ConfigError("acc_fmt", self.acc_fmt,
                                  f"one of {', '.join(map(repr, ALLOWED_ACC[name]))}",
                                  when={"in_fmt": name})

    def _check_dsp(self):
        _check_choice("dsp", self.dsp, DSP_CHOICES)
        pes = self.rows * self.cols
        if self.mul_kind != "int":
            if self.dsp != "infer":
                raise ConfigError("dsp", self.dsp, "'infer'", when={"in_fmt": self.in_fmt})
            if self.dsp_muls not in (None, pes):
                raise ConfigError("dsp_muls", self.dsp_muls, f"None or {pes}",
                                  when={"in_fmt": self.in_fmt})
            object.__setattr__(self, "dsp_muls", pes)
            return
        if self.dsp_muls is None:
            object.__setattr__(self, "dsp_muls", min(pes, DEFAULT_DSP_MULS))
        value = self.dsp_muls
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= pes:
            raise ConfigError("dsp_muls", value, f"an integer from 0 to {pes} (rows × cols)")

    def logic_mul(self, row, col):
        """Whether PE ``(row, col)`` builds its multiplier from logic (``dsp_muls``)."""
        return row * self.cols + col >= self.dsp_muls

    def _check_sizes(self):
        line_bytes = _bytes(max(self.rows, self.cols), self.lane_width)
        spad_low = -(-2 * self.rows * line_bytes // 1024)
        row_bytes = self.cols * self.acc_format.width // 8
        acc_low = -(-self.rows * row_bytes // 1024)  # one output tile
        if self.spad_kib is None:
            object.__setattr__(self, "spad_kib", max(128, spad_low))
        if self.acc_kib is None:
            object.__setattr__(self, "acc_kib", max(64, acc_low))
        for name in ("spad_kib", "acc_kib"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 1 <= value <= MAX_KIB:
                raise ConfigError(name, value, f"an integer from 1 to {MAX_KIB}")
        low = spad_low
        high = 2 * MAX_LINES * _bytes(min(self.rows, self.cols), self.lane_width) // 1024
        if not low <= self.spad_kib <= high:
            raise ConfigError("spad_kib", self.spad_kib,
                              f"from {low} to {high} for a {self.rows}x{self.cols} "
                              f"{self.in_fmt} array")
        low = acc_low
        high = MAX_LINES * row_bytes // 1024
        if not low <= self.acc_kib <= high:
            raise ConfigError("acc_kib", self.acc_kib,
                              f"from {low} to {high} for a {self.rows}x{self.cols} "
                              f"{self.dataflow} array accumulating in {self.acc_fmt}")

    @property
    def spad_a_lines(self):
        """Lines of scratchpad buffer A (each ``rows`` operands)."""
        return min(MAX_LINES, self.spad_kib * 1024 // 2 // _bytes(self.rows, self.lane_width))

    @property
    def spad_b_lines(self):
        """Lines of scratchpad buffer B (each ``cols`` operands)."""
        return min(MAX_LINES, self.spad_kib * 1024 // 2 // _bytes(self.cols, self.lane_width))

    @property
    def acc_rows(self):
        """Rows of the accumulator memory (each ``cols`` accumulator values)."""
        return min(MAX_LINES, self.acc_kib * 1024 // (self.cols * self.acc_format.width // 8))

    @property
    def in_fmts(self):
        """The operand formats' names, in the order given (one for a single-format engine)."""
        return format_set(self.in_fmt)

    @property
    def in_formats(self):
        """The operand formats (:class:`~hw.formats.IntFormat`, :class:`~hw.formats.FloatFormat`),
        in the order of :attr:`in_fmts`; index ``n`` is CONFIG's ``in_fmt`` value ``n``."""
        return tuple(INPUT_FORMATS[name] for name in self.in_fmts)

    @property
    def in_format(self):
        """The operand format after reset (the only one of a single-format engine)."""
        return self.in_formats[0]

    @property
    def is_set(self):
        """True when the engine has more than one operand format."""
        return len(self.in_fmts) > 1

    @property
    def lane_width(self):
        """Bits of one operand lane in the scratchpad and the array: the widest member's (a
        narrower member's value sits in the low bits of its lane)."""
        return max(fmt.width for fmt in self.in_formats)

    @property
    def mul_kind(self):
        """``"int"`` when every operand format is an integer one (integer multipliers, which
        may be DSP blocks, ``dsp``), else ``"float"``."""
        return "int" if all(f.kind == "int" for f in self.in_formats) else "float"

    def fmt_index(self, fmt):
        """CONFIG's ``in_fmt`` value for operand format ``fmt`` (a name or a format; ``None``:
        the format after reset, 0).

        Raises
        ------
        ConfigError
            Naming ``fmt`` and the engine's formats.
        """
        if fmt is None:
            return 0
        name = getattr(fmt, "name", fmt)
        if name not in self.in_fmts:
            raise ConfigError("fmt", fmt, "one of " + ", ".join(map(repr, self.in_fmts)),
                              when={"in_fmt": self.in_fmt})
        return self.in_fmts.index(name)

    def for_format(self, fmt):
        """The single-format configuration of member ``fmt`` (a name or a format) of this
        one's formats, with the same shape, dataflow, accumulator, subnormals and pipeline
        (buffer sizes and DSP use are that format's defaults): what a GEMM in ``fmt``
        computes on this engine is what it computes on that one, bit for bit, in the same
        order (the golden model reads its formats from it). ``self`` for a single format.

        Raises
        ------
        ConfigError
            If ``fmt`` is not one of :attr:`in_fmts`.
        """
        name = self.in_fmts[self.fmt_index(fmt)]
        if not self.is_set:
            return self
        return replace(self, in_fmt=name, spad_kib=None, acc_kib=None, dsp_muls=None,
                       dsp=self.dsp if INPUT_FORMATS[name].kind == "int" else "infer")

    @property
    def acc_format(self):
        return ACC_FORMATS[self.acc_fmt]

    @property
    def ftz(self):
        return self.subnormals == "ftz"

    @property
    def is_float(self):
        """True when the accumulation is floating point (fp32)."""
        return self.acc_format.kind == "float"

    @property
    def name(self):
        """A short name carrying the key parameters, used for module and file names."""
        fmts = "_".join(self.in_fmts)
        name = f"{self.dataflow}_{self.rows}x{self.cols}_{fmts}_{self.acc_fmt}"
        if self.is_float and self.ftz:
            name += "_ftz"
        if self.dsp != "infer":
            name += f"_{self.dsp}"
        if self.mul_kind == "int" and \
                self.dsp_muls != min(self.rows * self.cols, DEFAULT_DSP_MULS):
            name += f"_dsp{self.dsp_muls}"
        if self.is_float and self.restart == "mux":
            name += "_mux"
        if self.drain == "bus":
            name += "_bus"
        if self.int_adder == "split":
            name += "_split"
        return name + self.pipeline.suffix(("mul", "add", "enable"), self.in_fmt, self.acc_fmt)

    @property
    def engine_name(self):
        """:attr:`name` plus the buffer sizes and the post-processing pipeline, which the
        engine (not the array) depends on."""
        post = self.pipeline.suffix(("post_convert", "post_mul", "post_round", "post_narrow"),
                                    self.in_fmt, self.acc_fmt)
        lanes = "".join(f"_{tag}{n}" for tag, n in (("lanes", self.post_lanes),
                                                     ("acc", self.acc_lanes)) if n != self.cols)
        ram = "_postram" if self.post_delay == "ram" else ""
        dispatch = "_regdispatch" if self.dispatch == "registered" else ""
        return f"{self.name}_s{self.spad_kib}k_a{self.acc_kib}k{post}{lanes}{ram}{dispatch}"

    def as_dict(self):
        return asdict(self)


def check_config(cfg):
    """Raise ``TypeError`` unless ``cfg`` is a :class:`Config` (what every component that
    takes one checks first)."""
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a hw.config.Config, not {cfg!r}")
