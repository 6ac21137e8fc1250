"""The API's one body parser: JSON, with exact decimals, and refusals that say where."""

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class DecimalJSONParser(JSONParser):
    """JSON whose numbers with a fraction become Decimal, never float (money stays exact).

    A body that cannot be read answers 400 ``parse_error`` with a translated detail
    that names at most the position of the problem, never the parser's internals.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(
                _("The body is not valid %(encoding)s text.") % {"encoding": encoding}
            ) from exc
        try:
            return json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ParseError(
                _("The body is not valid JSON (line %(line)s, column %(column)s).")
                % {"line": exc.lineno, "column": exc.colno}
            ) from exc
        except RecursionError as exc:
            # The C decoder recurses per nesting level: "[[[[..." deep enough is refused.
            raise ParseError(_("The body is not valid JSON: it is nested too deeply.")) from exc
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            raise ParseError(_("The body is not valid JSON: a value cannot be read.")) from exc
