"""Text patterns the schema states: what DRF's CharField keeps and trims, said the same in
Python's and ECMAScript's regular expressions."""

# A character Python's ``str.strip`` (so DRF's trimming) keeps, as a pattern class that reads
# the same in ECMAScript's regular expressions: its ``\s`` lacks \x1c-\x1f and \x85, which
# Python strips, and has \ufeff, which Python keeps.
NOT_TRIMMED = r"(?:[^\s\x00\x1c-\x1f\x85]|\ufeff)"


# A character Python's ``str.strip`` removes (``str.isspace``), said the same in every engine.
TRIMMED = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


def trimmed_text_pattern(max_length: int, *, blank: bool) -> str:
    """Text DRF's CharField takes: no NUL, at most ``max_length`` characters once trimmed
    (any blanks around them), and not blank unless ``blank``."""
    inner = rf"(?:[^\x00]{{0,{max_length - 2}}}{NOT_TRIMMED})?" if max_length > 1 else ""
    text = f"{NOT_TRIMMED}{inner}"
    return rf"^{TRIMMED}*({text}){'?' if blank else ''}{TRIMMED}*$"
