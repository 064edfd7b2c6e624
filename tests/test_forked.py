"""hw.forked: work in a forked child, or here when the child cannot do it."""

import os

import pytest

from hw import forked
from hw.forked import Forked, can_fork


@pytest.mark.skipif(not can_fork(), reason="this system runs Forked's work in-process")
def test_runs_in_a_child():
    parent = os.getpid()
    pid, value = Forked(lambda: (os.getpid(), {"text": "x" * 200_000})).result()
    # A result larger than a pipe's buffer comes back whole, from another process.
    assert pid != parent
    assert value == {"text": "x" * 200_000}


def test_a_failing_child_leaves_the_error_to_this_process():
    with pytest.raises(ZeroDivisionError):
        Forked(lambda: 1 // 0).result()


def test_without_fork_the_work_runs_here(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    assert Forked(os.getpid).result() == os.getpid()


def test_a_child_that_dies_is_replaced_by_this_process():
    parent = os.getpid()
    # In the child, the work kills it before it answers; here it returns.
    work = lambda: os._exit(3) if os.getpid() != parent else "here"    # noqa: E731
    assert Forked(work).result() == "here"
