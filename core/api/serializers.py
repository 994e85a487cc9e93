from rest_framework import serializers

from core.models import Job


class JobSerializer(serializers.ModelSerializer):
    """A background job's progress and outcome (result holds the run summary or the import report)."""

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "params", "result", "error", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields


class JobAcceptedSerializer(serializers.Serializer):
    """The reply to a command: the job to poll."""

    job = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


FIELDS_PARAMETER_NAME = "fields"


def requested_fields(request) -> list[str] | None:
    """The names in `?fields=id,name` (None when the parameter is absent)."""
    if request is None or request.method not in ("GET", "HEAD"):
        return None
    raw = request.query_params.get(FIELDS_PARAMETER_NAME)
    if raw is None:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


class SparseFieldsMixin:
    """`?fields=id,name,potential` on a read keeps only those fields, to save bandwidth on large lists.

    Unknown names are refused (400) rather than silently ignored, so a typo does not look like missing data.
    `always_fields` (the GeoJSON id, say) are kept whatever is asked."""

    always_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        wanted = requested_fields(self.context.get("request"))
        if wanted is None:
            return
        readable = [name for name, field in self.fields.items() if not field.write_only]
        unknown = sorted(set(wanted) - set(readable))
        if unknown:
            raise serializers.ValidationError({FIELDS_PARAMETER_NAME: f"Unknown field {', '.join(unknown)}; choose "
                                                                      f"from {', '.join(readable)}."})
        for name in readable:
            if name not in wanted and name not in self.always_fields:
                self.drop_field(name)

    def drop_field(self, name: str) -> None:
        self.fields.pop(name)


class NoGeometryField(serializers.Field):
    """Stands in for a GeoJSON feature's geometry left out with ?fields= (GeoJSON keeps the key, as null)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return None

    def to_representation(self, value):
        return None


class SparseGeoFieldsMixin(SparseFieldsMixin):
    """?fields= on GeoJSON features: the id stays; the geometry is sent as null unless it is asked for."""

    always_fields = ("id",)

    def drop_field(self, name: str) -> None:
        if name == self.Meta.geo_field:
            self.fields[name] = NoGeometryField()
        else:
            super().drop_field(name)
