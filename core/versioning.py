"""API versions come from the /api/v1/ namespace; DRF views mounted elsewhere (page helpers) get the default."""

from rest_framework.versioning import NamespaceVersioning


class ApiNamespaceVersioning(NamespaceVersioning):
    def determine_version(self, request, *args, **kwargs):
        resolver_match = getattr(request, "resolver_match", None)
        namespaces = resolver_match.namespaces if resolver_match else []
        if not any(namespace in self.allowed_versions for namespace in namespaces):
            return self.default_version
        return super().determine_version(request, *args, **kwargs)
