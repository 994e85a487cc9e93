"""Pagination that answers a page past the end with an empty page (the count still says how many there are),
rather than an undocumented 404."""

from django.core.paginator import EmptyPage, InvalidPage, PageNotAnInteger, Paginator
from django.db.models import Count, QuerySet, Window
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework_gis.pagination import GeoJsonPagination


class _ClampedPages:
    def paginate_queryset(self, queryset, request, view=None):
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        paginator = self.django_paginator_class(queryset, page_size)
        number = request.query_params.get(self.page_query_param) or 1
        try:
            self.page = paginator.page(number)
        except InvalidPage:
            self.page = paginator.page(paginator.num_pages)  # the last page (or the only, empty one)
            self.page.object_list = []
        self.request = request
        return list(self.page)


class PagePagination(_ClampedPages, PageNumberPagination):
    pass


class CountWithPagePaginator(Paginator):
    """Reads the total with the page, as COUNT(*) OVER () in the page's own query, instead of counting in a second
    query that finds the same rows again: for lists whose rows cost more to find than to send (a rep's book joins
    and ranks every account of the book for any page). A page past the end is left to the plain paginator."""

    TOTAL = "_paginator_total"

    def page(self, number):
        queryset = self.object_list
        if self.orphans or not isinstance(queryset, QuerySet) or queryset.query.distinct or "count" in self.__dict__:
            return super().page(number)
        number = self.validate_number_without_count(number)
        bottom = (number - 1) * self.per_page
        rows = list(queryset.annotate(**{self.TOTAL: Window(Count("*"))})[bottom:bottom + self.per_page])
        if not rows:
            return super().page(number)
        self.count = getattr(rows[0], self.TOTAL)  # cached_property: the page's figure stands for the count query
        return self._get_page(rows, number, self)

    def validate_number_without_count(self, number) -> int:
        """validate_number's checks that need no count (whether the page is past the end shows once it is read)."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number


class CountWithPagePagination(PagePagination):
    """Numbered pages whose total comes with the page's rows (CountWithPagePaginator)."""

    django_paginator_class = CountWithPagePaginator


class GeoJsonPagePagination(_ClampedPages, GeoJsonPagination):
    def get_paginated_response_schema(self, schema):
        """The page as it is sent: a FeatureCollection with count/next/previous (rest_framework_gis documents
        a "results" key it never sends)."""
        page = PageNumberPagination.get_paginated_response_schema(self, schema)
        page["properties"].pop("results", None)
        page["properties"] = {
            "type": {"type": "string", "enum": ["FeatureCollection"]}, **page["properties"],
            "features": {"type": "array", "items": {"type": "object", "description": "A GeoJSON Feature"}},
        }
        page["required"] = ["type", "count", "features"]
        return page


class IdCursorPagination(CursorPagination):
    """A cursor walk in id order: stable while rows are added, and no COUNT or OFFSET over a large table."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_ordering(self, request, queryset, view):
        return (self.ordering,)  # ?ordering= is for page numbers; a cursor needs a unique, unchanging key

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: "This is not a cursor the API gave out; start again with "
                                                            "an empty ?cursor= and follow the next links."}) from None


class PageOrCursorPagination(PagePagination):
    """Large lists: numbered pages with a count by default; `?cursor=` (empty to start) walks the whole list in id
    order with `next` links instead, up to `page_size` (at most 1000) rows a page, without counting."""

    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.cursor_paginator = None
        if self.cursor_query_param in request.query_params:
            self.cursor_paginator = IdCursorPagination()
            return self.cursor_paginator.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.cursor_paginator is not None:
            return self.cursor_paginator.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["results"]
        page["properties"]["count"]["description"] = "How many rows match (numbered pages only; absent with ?cursor=)."
        page["properties"]["next"]["example"] = "http://api.example.org/accounts/?cursor=cD0xMDA%3D"
        return page

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view), {
            "name": self.cursor_query_param, "required": False, "in": "query",
            "description": "Walk the list in id order: give it empty to start, then follow `next`. Answers have "
                           "no count; `page_size` sets the rows per page (at most 1000).",
            "schema": {"type": "string"},
        }, {
            "name": "page_size", "required": False, "in": "query",
            "description": "Rows per page with ?cursor= (default 100, at most 1000).",
            "schema": {"type": "integer", "minimum": 1},
        }]
