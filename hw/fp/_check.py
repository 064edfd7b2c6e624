"""Constructor argument checks shared by the floating-point operators.

Each operator validates its own arguments at construction, so a bad parameter fails where it is
passed rather than deep inside elaboration. Messages name the parameter, the value and what is
allowed, as the rest of the project's do.
"""

from ..formats import FloatFormat

__all__ = ["check_float_format", "check_bool", "check_width"]


def check_float_format(name, fmt):
    """Raise :class:`TypeError` unless ``fmt`` is a :class:`~hw.formats.FloatFormat`."""
    if not isinstance(fmt, FloatFormat):
        raise TypeError(f"{name} must be a FloatFormat, not {fmt!r}")
    if fmt.exp_width < 2 or fmt.sig_width < 2:
        raise ValueError(f"{name} must have exp_width >= 2 and sig_width >= 2, not {fmt!r}")


def check_bool(name, value):
    """Raise :class:`TypeError` unless ``value`` is a :class:`bool`."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {value!r}")


def check_width(name, value, minimum):
    """Raise :class:`TypeError` / :class:`ValueError` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
