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
