"""Salesforce record ids: 15 case-sensitive characters plus a 3-character checksum.

The checksum makes an 18-character id safe against case changes: each of the three
5-character chunks of the 15-character id yields one character that encodes which of
its letters are upper case. Salesforce accepts both forms on input and answers with
18 characters, so the stand-in does the same.
"""

from __future__ import annotations

import itertools
import re
import threading

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHAPE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
# "Pod" characters of every generated id; real ids carry the org's instance here.
_POD = "8d0"

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def id_checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-character id into an 18-character one."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        out.append(_SUFFIX[bits])
    return "".join(out)


def id_normalize(value: object) -> str | None:
    """The canonical 18-character form of ``value``, or None when it is not a well-formed id.

    An 18-character id whose letters changed case is repaired from its checksum, as
    Salesforce does; a checksum that cannot belong to the id makes it malformed.
    """
    if not isinstance(value, str) or not _SHAPE.match(value):
        return None
    if len(value) == 15:
        return value + id_checksum(value)
    suffix = value[15:].upper()
    if any(char not in _SUFFIX for char in suffix):
        return None
    repaired = []
    for chunk_index, suffix_char in enumerate(suffix):
        bits = _SUFFIX.index(suffix_char)
        for position in range(5):
            char = value[chunk_index * 5 + position]
            upper = bool(bits & (1 << position))
            if char.isdigit():
                if upper:
                    return None
                repaired.append(char)
            else:
                repaired.append(char.upper() if upper else char.lower())
    return "".join(repaired) + suffix


def id_make(prefix: str) -> str:
    """A new, never reused 18-character id with the given 3-character key prefix."""
    with _counter_lock:
        number = next(_counter)
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    body = "".join(reversed(digits)).rjust(9, "0")
    id15 = f"{prefix}{_POD[:2]}{_POD[2]}{body}"
    return id15 + id_checksum(id15)
