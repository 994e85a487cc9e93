"""API permissions shared by the apps: managers (and admins) write, everyone signed in reads their scope."""

from rest_framework import permissions


def user_is_manager(user) -> bool:
    from reps.selectors import user_is_manager as is_manager

    return is_manager(user)


class IsManagerOrReadOnly(permissions.IsAuthenticated):
    """Reads for any signed-in user (querysets cut rows to their scope); writes and commands for managers."""

    message = "Only sales managers and admins can change this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in permissions.SAFE_METHODS or user_is_manager(request.user)


class IsManager(permissions.IsAuthenticated):
    message = "Only sales managers and admins can do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and user_is_manager(request.user)
