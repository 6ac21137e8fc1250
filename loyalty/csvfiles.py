"""Reading the CSV files staff upload: size limit, UTF-8 (with or without BOM), and the
delimiter Excel or another tool chose (comma, semicolon or tab)."""

import csv
import io
from typing import Any

from django.utils.translation import gettext as _

from loyalty.errors import InvalidInput


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
