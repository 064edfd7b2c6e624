"""What every test shares: a missing tool skips a test on a developer's machine and fails it
in CI.

A test that needs a simulator or tool asks for it through the ``require_tool`` fixture. When
the ``CI`` environment variable is true (``1``, ``true``, ``yes`` or ``on``; ``.ci/run`` and
most CI services set ``CI=true``), a missing tool fails the test, and so does any other skip:
CI runs every test (STYLE.md, rule 16). Elsewhere the test is skipped with the reason.

One narrow exemption: data the project does not own and may not commit, which the team
provides beside the checkout (the standard-cell library in ``../shared/pdk/`` that the ASIC
flow's tests read). A test that lacks it skips with a reason starting with
:data:`OUTSIDE_PROJECT`, and that skip stays a skip under CI: a CI machine without
``../shared`` must not turn red for it. Missing tools still fail.
"""

import fcntl
import os

import pytest

from sim.tools import ToolMissing

#: The start of a skip reason for team-provided data absent from this machine (not a tool):
#: such a skip stays a skip under CI.
OUTSIDE_PROJECT = "team-provided data absent"


def in_ci():
    """True when the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


@pytest.fixture
def require_tool():
    """A function ``require(what)`` that stops the test when a tool is missing: a skip with
    the reason, or a failure under CI.

    ``what`` is either a reason (a sentence naming what is absent, as
    :func:`sim.backends.cocotb_runner.missing_simulator` returns; ``None`` or ``""`` when
    nothing is) or a finder from :mod:`sim.tools` (``verilator_env``, ``find_yosys``, ...),
    which ``require`` calls and whose result it returns unless it raises
    :class:`~sim.tools.ToolMissing`.
    """
    def require(what):
        result = None
        if callable(what):
            try:
                result = what()
                reason = None
            except ToolMissing as e:
                reason = str(e)
        else:
            reason = what
        if reason:
            if in_ci():
                pytest.fail(f"{reason} (CI is set, and in CI a missing tool fails the run)",
                            pytrace=False)
            pytest.skip(reason)
        return result
    return require


@pytest.fixture
def one_pnr_at_a_time(tmp_path_factory):
    """Runs the test under a lock that every xdist worker of this session shares, so two
    place-and-route runs never compete for the machine's two cores (and the YoWASP cache is
    warmed by one tool at a time)."""
    lock = tmp_path_factory.getbasetemp().parent / "fpga-pnr.lock"
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def pytest_collection_modifyitems(items):
    """Every place-and-route test in one xdist group, so that with ``--dist loadgroup``
    (scripts/test.sh) they queue on one worker while the other runs the rest of the suite,
    instead of a worker idling on :func:`one_pnr_at_a_time`'s lock."""
    for item in items:
        if "one_pnr_at_a_time" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("pnr"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, turn any skip (one that bypassed ``require_tool``, a skip mark) into a
    failure that quotes its reason; expected failures (``xfail``) stay as they are."""
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped and not hasattr(report, "wasxfail")):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    reason = str(reason).removeprefix("Skipped: ")
    if reason.startswith(OUTSIDE_PROJECT):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped under CI ({reason}); CI runs every test, only a developer's " \
                      f"machine may skip"
