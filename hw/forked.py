"""A computation run in a forked child process while this one goes on.

:mod:`hw.gen` netlists the engine's top level (the longest of its modules, about half of
generating a 16×16 engine) in a child while the parent netlists the modules written once.
Forking shares everything already built (the elaborated design) without pickling it; only the
result, a picklable value, comes back through a pipe. Where forking is unsafe or missing
(Windows, macOS, a process running other threads) or the child fails for any reason,
:meth:`Forked.result` computes the value in this process instead, so the caller sees the same
value or the same exception either way.
"""

import os
import pickle
import sys
import threading

__all__ = ["can_fork", "Forked"]


def can_fork():
    """Whether :class:`Forked` runs its work in a child here: ``os.fork`` exists, the system
    is not macOS (whose libraries are not fork-safe) and no other thread runs (a lock it
    holds would stay locked in the child)."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


class Forked:
    """Start ``work()`` (a callable with no arguments, returning a picklable value) in a
    forked child; :meth:`result` returns its value.

    The child must not need anything the parent does after the fork; it shares the parent's
    open files, so ``work`` must not write to them (the child leaves with ``os._exit``, which
    flushes no buffer of the parent's).
    """

    def __init__(self, work):
        self._work = work
        self._child = None
        if can_fork():
            self._child = self._fork()

    def _fork(self):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:                                  # the child
            status = 1
            try:
                os.close(read)
                data = pickle.dumps(self._work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        return pid, read

    def result(self):
        """``work()``'s value: the child's, or computed here if there is no child or it
        failed."""
        if self._child is not None:
            pid, read = self._child
            self._child = None
            with os.fdopen(read, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                return pickle.loads(data)
        return self._work()
