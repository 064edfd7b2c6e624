"""Components that check their constructor arguments before they exist.

Amaranth warns about an elaboratable that is created but never elaborated, and a constructor
that raises on a bad argument would otherwise leave such a half-built object behind. A
:class:`CheckedComponent` runs its ``check`` before the object is made, so a bad argument
raises its clear error and nothing else.
"""

import inspect

from amaranth.lib import wiring

__all__ = ["CheckedComponent"]


class CheckedComponent(wiring.Component):
    """A ``wiring.Component`` whose ``check`` static method sees the constructor's arguments
    (by name, defaults filled in) before the object exists, and raises for a bad one.

    Subclasses define ``check`` with the constructor's parameter names (without ``self``).
    """

    @staticmethod
    def check(**arguments):
        """Raise ``TypeError`` or ``ValueError`` for a bad constructor argument."""

    def __new__(cls, *args, **kwargs):
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        bound.apply_defaults()
        arguments = list(bound.arguments.items())[1:]     # without self
        cls.check(**dict(arguments))
        # Amaranth records where the object was made (for its never-elaborated warning and
        # the per-file switch that silences it): the caller, one frame above this one.
        return super().__new__(cls, src_loc_at=1)
