"""Paging a rep's book: the ranked book's page brings the book's size with it."""

from django.core.paginator import Paginator

from core.api.pagination import CountWithPagePaginator
from reps.coverage import RankedBook


class BookPaginator(CountWithPagePaginator):
    """Pages a RankedBook with the book's size read with the page's ranking (as CountWithPagePaginator does for a
    queryset); anything else as CountWithPagePaginator."""

    def page(self, number):
        if not isinstance(self.object_list, RankedBook):
            return super().page(number)
        number = self.validate_number_without_count(number)
        rows, total = self.object_list.page((number - 1) * self.per_page, self.per_page)
        if not rows:
            return Paginator.page(self, number)  # past the end (or an empty book): counted, as plain pages are
        self.count = total  # cached_property: the page's figure stands for the count query
        return self._get_page(rows, number, self)
