"""Modules imported on first use, so that a command which never needs them never pays for them.

``python -m hw.gen`` writes Verilog without touching numpy or ml_dtypes, which :mod:`hw.formats`
uses for its arrays: importing both took 0.15 s of the 2 s generation of a 16×16 engine.
"""

import importlib

__all__ = ["deferred_import"]


class _Deferred:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        # Called only for attributes this object lacks: each of the module's, the first time
        # it is read; kept here after that, so later reads cost what a module's do.
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self):
        return f"<module {self._name!r}, imported on first use>"


def deferred_import(name):
    """An object whose attributes are those of module ``name``, imported the first time one
    is read (``np = deferred_import("numpy")``; ``np.asarray`` imports numpy)."""
    return _Deferred(name)
