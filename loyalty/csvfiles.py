"""CSV files: reading the ones staff upload, and writing every one the app hands to people.

Reading: size limit, UTF-8 (with or without BOM), and the delimiter Excel or another tool
chose (comma, semicolon or tab).

Writing (``csv_lines``, ``csv_text``: the only CSV writer of the app) keeps one invariant:
no cell can be taken for a formula by a spreadsheet. Text that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return (a member's name, a reason, an external id...) is
written with a single quote before it (OWASP's rule against CSV injection), so
``=HYPERLINK(...)`` shows as text and runs nothing. Numbers (int, Decimal, float) are
written as numbers: ``-500`` points stay a number a spreadsheet adds up.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from loyalty.errors import InvalidInput

# The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_reader(data: bytes, *, max_bytes: int) -> Any:
    """A ``csv.reader`` over the file, or InvalidInput (on ``file``) saying what to fix."""
    if len(data) > max_bytes:
        raise InvalidInput(
            {"file": [_("The file is larger than %(size)s MB.") % {"size": max_bytes // 10**6}]}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            {"file": [_("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")]}
        ) from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text), dialect)


def csv_cell(value: Any) -> Any:
    """A value as a safe cell: numbers as they are, None as empty, any other value as text,
    quoted with ``'`` when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    """A file whose ``write`` hands the line back (the csv module's streaming idiom)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one CSV line of safe cells, one at a time (for streaming responses)."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """The rows as one CSV text of safe cells."""
    return "".join(csv_lines(rows))
