"""The jobs API: poll a command's progress and read its outcome."""

from rest_framework import mixins, viewsets

from core.api.pagination import PagePagination
from core.api.permissions import user_is_manager
from core.api.schema import ErrorDocumentingAutoSchema
from core.api.serializers import JobSerializer
from core.models import Job


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Jobs: managers see all, others only the jobs they started."""

    pagination_class = PagePagination
    schema = ErrorDocumentingAutoSchema()

    serializer_class = JobSerializer
    queryset = Job.objects.none()  # for the schema; get_queryset cuts rows to the user
    filterset_fields = ["kind", "status"]
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        queryset = Job.objects.all().order_by("-created_at")
        if user_is_manager(self.request.user):
            return queryset
        return queryset.filter(created_by=self.request.user)
