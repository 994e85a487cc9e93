"""Pagination that answers a page past the end with an empty page (the count still says how many there are),
rather than an undocumented 404."""

from django.core.paginator import InvalidPage
from rest_framework.pagination import PageNumberPagination
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
