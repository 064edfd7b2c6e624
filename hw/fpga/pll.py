"""PLL divider solvers: the parameters of an iCE40, ECP5 or Gowin PLL that make a clock.

Each family's PLL multiplies its input by a ratio of small integers through a voltage-
controlled oscillator (VCO) that must run within a fixed range, behind a phase-frequency
detector (PFD) that also has one. A solver tries every divider setting, as ``icepll`` and
``ecppll`` do, keeps those whose PFD, VCO and output frequencies lie in the family's ranges,
and picks the output nearest the request (the lower one on a tie). The ranges are the
vendors' data sheets' (iCE40: Lattice TN1251 and ``icepll``; ECP5: TN1263 and ``ecppll``;
Gowin GW1NR-9 C6/I5: DS117 and Apicula's ``gowin_pll``).

:func:`solve` returns a :class:`PllSetting`: the achieved frequency, the VCO and PFD
frequencies (to check against the ranges), and the primitive's parameters as Amaranth
``Instance`` keywords. A request no setting reaches within :data:`MAX_ERROR` is a
:class:`~hw.config.ConfigError` naming ``freq`` and the range the PLL can make.
"""

from dataclasses import dataclass

from ..config import ConfigError

__all__ = ["MAX_ERROR", "PllRanges", "PllSetting", "RANGES", "FAMILIES", "solve"]

#: Largest relative difference between the requested and the achieved clock.
MAX_ERROR = 0.02


@dataclass(frozen=True)
class PllRanges:
    """The frequency ranges (MHz, inclusive) one family's PLL works in.

    Parameters
    ----------
    input : tuple of float
        Reference clock.
    pfd : tuple of float
        Phase-frequency detector: the reference after the input divider.
    vco : tuple of float
        Voltage-controlled oscillator.
    output : tuple of float
        The output clock.
    """
    input: tuple
    pfd: tuple
    vco: tuple
    output: tuple


#: Each family's PLL ranges, MHz.
RANGES = {
    # SB_PLL40 (TN1251; icepll's limits).
    "ice40": PllRanges(input=(10, 133), pfd=(10, 133), vco=(533, 1066), output=(16, 275)),
    # EHXPLLL (TN1263, ecppll).
    "ecp5": PllRanges(input=(8, 400), pfd=(3.125, 400), vco=(400, 800), output=(3.125, 400)),
    # rPLL of the GW1NR-9 C6/I5 (DS117; Apicula's gowin_pll and gowin_pack check the same).
    "gowin": PllRanges(input=(3, 400), pfd=(3, 400), vco=(400, 1200), output=(3.125, 600)),
}

#: The families :func:`solve` knows.
FAMILIES = tuple(RANGES)


@dataclass(frozen=True)
class PllSetting:
    """One solved PLL.

    Parameters
    ----------
    family : str
        A key of :data:`RANGES`.
    primitive : str
        The vendor cell (``SB_PLL40_PAD``, ``EHXPLLL``, ``rPLL``).
    input_mhz, output_mhz, pfd_mhz, vco_mhz : float
        The reference, the achieved output, and the PFD and VCO frequencies.
    params : dict
        The primitive's parameters, as ``Instance`` keyword arguments (``p_DIVF=...``).
    """
    family: str
    primitive: str
    input_mhz: float
    output_mhz: float
    pfd_mhz: float
    vco_mhz: float
    params: dict

    def as_dict(self):
        """The setting for a report: frequencies and the parameters without ``p_``."""
        return {"primitive": self.primitive, "input_mhz": self.input_mhz,
                "output_mhz": round(self.output_mhz, 6), "pfd_mhz": round(self.pfd_mhz, 6),
                "vco_mhz": round(self.vco_mhz, 6),
                "params": {k.removeprefix("p_"): v for k, v in self.params.items()}}


def _within(value, bounds):
    low, high = bounds
    return low <= value <= high


def _ice40_filter_range(pfd):
    # The loop filter setting for the PFD frequency, as icepll chooses it.
    for bound, setting in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if pfd < bound:
            return setting
    return 6


def _ice40(fin):
    """SB_PLL40 in SIMPLE feedback: out = fin / (DIVR+1) * (DIVF+1) / 2**DIVQ."""
    r = RANGES["ice40"]
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not _within(pfd, r.pfd):
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not _within(vco, r.vco):
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if _within(out, r.output):
                    yield out, pfd, vco, {
                        "p_FEEDBACK_PATH": "SIMPLE", "p_DIVR": divr, "p_DIVF": divf,
                        "p_DIVQ": divq, "p_FILTER_RANGE": _ice40_filter_range(pfd)}


def _ecp5(fin):
    """EHXPLLL with CLKOP fed back: out = fin * CLKFB_DIV / CLKI_DIV, VCO = out * CLKOP_DIV."""
    r = RANGES["ecp5"]
    for clki_div in range(1, 129):
        pfd = fin / clki_div
        if not _within(pfd, r.pfd):
            continue
        for clkfb_div in range(1, 129):
            out = pfd * clkfb_div
            if not _within(out, r.output):
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if _within(vco, r.vco):
                    yield out, pfd, vco, {
                        "p_CLKI_DIV": clki_div, "p_CLKFB_DIV": clkfb_div,
                        "p_CLKOP_DIV": clkop_div, "p_CLKOP_CPHASE": clkop_div - 1,
                        "p_CLKOP_FPHASE": 0, "p_FEEDBK_PATH": "CLKOP",
                        "p_CLKOP_ENABLE": "ENABLED"}


_GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)


def _gowin(fin):
    """rPLL with internal feedback: out = fin * (FBDIV_SEL+1) / (IDIV_SEL+1),
    VCO = out * ODIV_SEL."""
    r = RANGES["gowin"]
    for idiv in range(64):
        pfd = fin / (idiv + 1)
        if not _within(pfd, r.pfd):
            continue
        for fbdiv in range(64):
            out = pfd * (fbdiv + 1)
            if not _within(out, r.output):
                continue
            for odiv in _GOWIN_ODIV:
                vco = out * odiv
                if _within(vco, r.vco):
                    yield out, pfd, vco, {
                        "p_FCLKIN": f"{fin:g}", "p_IDIV_SEL": idiv, "p_FBDIV_SEL": fbdiv,
                        "p_ODIV_SEL": odiv, "p_DYN_IDIV_SEL": "false",
                        "p_DYN_FBDIV_SEL": "false", "p_DYN_ODIV_SEL": "false",
                        "p_CLKFB_SEL": "internal"}


_SOLVERS = {"ice40": (_ice40, "SB_PLL40_PAD"), "ecp5": (_ecp5, "EHXPLLL"),
            "gowin": (_gowin, "rPLL")}


def solve(family, input_mhz, output_mhz):
    """The setting of ``family``'s PLL nearest ``output_mhz`` from an ``input_mhz`` reference.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    input_mhz : float
        The reference clock (the board's oscillator), MHz.
    output_mhz : float
        The wanted clock, MHz.

    Returns
    -------
    PllSetting
        Its ``output_mhz`` is within :data:`MAX_ERROR` of the request; among equally near
        settings, the lower output, then the lower VCO frequency (less power).

    Raises
    ------
    ConfigError
        ``family`` is unknown (parameter ``family``), the reference is outside the PLL's input
        range (``input_mhz``), or no setting comes within :data:`MAX_ERROR` of ``output_mhz``
        (parameter ``freq``, naming the range the PLL makes from this reference).
    """
    if family not in _SOLVERS:
        raise ConfigError("family", family, "one of " + ", ".join(map(repr, FAMILIES)))
    r = RANGES[family]
    if not _within(input_mhz, r.input):
        raise ConfigError("input_mhz", input_mhz,
                          f"from {r.input[0]:g} to {r.input[1]:g} MHz (the PLL's input)",
                          when={"family": family})
    solver, primitive = _SOLVERS[family]
    best = None
    for out, pfd, vco, params in solver(input_mhz):
        key = (abs(out - output_mhz), out, vco)
        if best is None or key < best[0]:
            best = (key, PllSetting(family, primitive, input_mhz, out, pfd, vco, params))
    if best is None or best[0][0] > MAX_ERROR * output_mhz:
        low, high = r.output
        raise ConfigError("freq", output_mhz,
                          f"a clock the {family} PLL makes from {input_mhz:g} MHz "
                          f"(from {low:g} to {high:g} MHz, within {MAX_ERROR:.0%})")
    return best[1]
