from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    # Permissions are created app by app after migrate; wait for the last app so every one exists.
    if sender is list(apps.get_app_configs())[-1]:
        from core.roles import roles_sync

        roles_sync()


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Operations"

    def ready(self):
        from django.contrib.gis.db.models import PointField
        from rest_framework.serializers import ModelSerializer

        from core import schema  # noqa: F401  (registers the OpenAPI description of token auth)
        from core.api.fields import GeometryField

        # rest_framework_gis (ready before us) maps model geometry fields to its field; points get ours.
        ModelSerializer.serializer_field_mapping[PointField] = GeometryField

        post_migrate.connect(_sync_roles, dispatch_uid="core.roles_sync")
