"""Filter backends that run only when a request asks for filtering."""

# Query parameters that page or shape a response and never filter it.
NOT_FILTER_PARAMETERS = frozenset({"page", "page_size", "cursor", "fields", "format"})


class FilterWhenAskedMixin:
    """Skips the filter backends when the request names none of their parameters and the view has no default
    ordering: they would return the queryset unchanged, after building a FilterSet and its form (about a third of
    the CPU of an account detail). DRF runs them on a detail too, so `/accounts/5/?tier=A` still 404s on a B."""

    def filter_queryset(self, queryset):
        parameters = set(self.request.query_params) - NOT_FILTER_PARAMETERS
        if not parameters and getattr(self, "ordering", None) is None:
            return queryset
        return super().filter_queryset(queryset)
