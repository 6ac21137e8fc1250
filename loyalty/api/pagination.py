"""Cursor pages: ``{"results": [...], "next": url|null, "previous": url|null}``."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class InvalidCursor(exceptions.APIException):
    """A cursor the client made up or mangled: its request is wrong, nothing is missing."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_cursor"
    default_detail = _(
        "This cursor is not valid. Use the 'next' or 'previous' link of a page as it is, "
        "or leave the cursor out to start from the newest."
    )


class NewestFirstCursorPagination(CursorPagination):
    """Newest first, ``limit`` items a page (50 by default, at most 200).

    A cursor over the primary key: stable while new rows arrive, and each page is
    one index range scan however deep the client pages.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with 404, which reads as "the member does not exist".
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise InvalidCursor() from exc
        if cursor is not None and cursor.position is not None:
            # The position is a primary key; anything else would reach the database.
            try:
                position = int(cursor.position)
            except ValueError as exc:
                raise InvalidCursor() from exc
            if not -(2**63) <= position < 2**63:
                raise InvalidCursor()
        return cursor
