"""Coupon codes: unguessable, easy to read aloud and type, accepted however they are typed.

15 symbols from a 31-character alphabet without 0/O, 1/I/L: 74 bits from
``secrets``, so codes can be neither guessed nor enumerated. Shown in groups of 5.
"""

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 15
GROUP = 5
_SEPARATORS = re.compile(r"[\s\-_.]+")


def code_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def code_normalise(typed: str) -> str:
    """Upper case, separators and spaces dropped: how codes are stored and looked up."""
    return _SEPARATORS.sub("", typed or "").upper()


def code_display(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))
