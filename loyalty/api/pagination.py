from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """``{"results": [...], "next": url|null, "previous": url|null}``, newest first.

    A cursor over the primary key: stable while new rows arrive, and each page is
    one index range scan however deep the client pages.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
