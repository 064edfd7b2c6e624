"""The USB DFU file suffix (DFU 1.1, appendix B), written the way ``dfu-suffix`` writes it.

A DFU bootloader (the OrangeCrab's) takes a file whose last 16 bytes name the USB device it is
for: ``bcdDevice``, ``idProduct``, ``idVendor``, ``bcdDFU`` (0x0100), the signature ``"UFD"``,
the suffix length (16), then a CRC-32 of everything before the CRC. All fields are
little-endian; the CRC is the reflected CRC-32 (polynomial 0xEDB88320) started from 0xFFFFFFFF
without the final inversion, which is ``zlib.crc32`` inverted. Writing it here spares the
board build a tool that is not on PyPI.
"""

import struct
import zlib

__all__ = ["SUFFIX_LENGTH", "dfu_suffix", "add_dfu_suffix"]

#: Bytes of the suffix.
SUFFIX_LENGTH = 16
_DFU_VERSION = 0x0100


def dfu_suffix(data, *, vendor, product, device=0xFFFF):
    """The 16-byte suffix for a file whose contents are ``data``.

    Parameters
    ----------
    data : bytes
        The file before the suffix.
    vendor, product : int
        The USB vendor and product IDs the file is for.
    device : int
        ``bcdDevice`` (0xFFFF: any release, as ``dfu-suffix`` writes by default).
    """
    for name, value in (("vendor", vendor), ("product", product), ("device", device)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise ValueError(f"{name} must be an integer from 0 to 0xFFFF, not {value!r}")
    head = struct.pack("<HHHH3sB", device, product, vendor, _DFU_VERSION, b"UFD",
                       SUFFIX_LENGTH)
    crc = zlib.crc32(head, zlib.crc32(data)) ^ 0xFFFFFFFF
    return head + struct.pack("<I", crc)


def add_dfu_suffix(path, *, vendor, product, device=0xFFFF):
    """Append :func:`dfu_suffix` to the file at ``path`` (as ``dfu-suffix -a`` does)."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "ab") as f:
        f.write(dfu_suffix(data, vendor=vendor, product=product, device=device))
