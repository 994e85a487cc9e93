"""Serializers: validation and shape only; writes go through performance.services."""

from rest_framework import serializers

from core.api.bulk import BULK_MAX_ITEMS, BulkReportBaseSerializer
from performance.models import KpiSnapshot, Opportunity, Quota
from performance.selectors import kpi_flags_with_links


class QuotaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Quota
        fields = ["id", "territory", "rep", "metric", "period_start", "period_end", "target"]

    def validate(self, attrs):
        territory = attrs.get("territory", getattr(self.instance, "territory", None))
        rep = attrs.get("rep", getattr(self.instance, "rep", None))
        if territory is None and rep is None:
            raise serializers.ValidationError("A quota belongs to a territory, a rep, or both.")
        start = attrs.get("period_start", getattr(self.instance, "period_start", None))
        end = attrs.get("period_end", getattr(self.instance, "period_end", None))
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": "The period ends before it starts."})
        return attrs


class QuotaRollupQuerySerializer(serializers.Serializer):
    scenario = serializers.IntegerField(required=False, help_text="Defaults to the active scenario.")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    metric = serializers.ChoiceField(choices=Quota.Metric.choices, default=Quota.Metric.REVENUE)


class OpportunitySerializer(serializers.ModelSerializer):
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Opportunity
        fields = ["id", "external_id", "account", "rep", "name", "product", "stage", "amount", "created_date",
                  "close_date", "is_open"]


class OpportunityImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with external_id, account_external_id, name, stage, amount, "
                                           "close_date and optionally product, created_date, rep_email.")
    skip_bad_rows = serializers.BooleanField(default=False)

    def validate_file(self, file):
        from core.api.uploads import upload_check_size

        try:  # the importer reads the whole file into memory: refuse one over IMPORT_MAX_BYTES first
            upload_check_size(file=file)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(error.detail["file"]) from None
        return file


class ImportReportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    column = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    errors = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    committed = serializers.BooleanField()
    message = serializers.CharField()
    report = ImportReportRowSerializer(many=True)


class KpiFlagSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    reason = serializers.CharField()
    action = serializers.CharField()
    action_label = serializers.CharField()
    link = serializers.CharField()


class KpiSnapshotSerializer(serializers.ModelSerializer):
    flags = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()

    class Meta:
        model = KpiSnapshot
        fields = ["id", "scenario", "scope", "territory", "rep", "level", "subject", "period_start", "period_end",
                  "metrics", "flags", "computed_at", "job"]

    def get_flags(self, snapshot) -> list[dict]:
        return KpiFlagSerializer(kpi_flags_with_links(snapshot), many=True).data

    def get_subject(self, snapshot) -> str:
        if snapshot.territory_id:
            return str(snapshot.territory)
        if snapshot.rep_id:
            return str(snapshot.rep)
        if snapshot.level is not None:
            return f"Level {snapshot.level}"
        return "Whole scenario"


class KpiFlagItemSerializer(KpiFlagSerializer):
    snapshot_id = serializers.IntegerField()
    scope = serializers.CharField()
    territory_id = serializers.IntegerField(allow_null=True)
    rep_id = serializers.IntegerField(allow_null=True)
    subject = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()


class KpiRecomputeSerializer(serializers.Serializer):
    scenario = serializers.IntegerField(required=False, help_text="Defaults to the active scenario.")
    period = serializers.ChoiceField(choices=["month", "quarter", "year"], required=False,
                                     help_text="The period containing `date` (today); or give period_start/end.")
    date = serializers.DateField(required=False)
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False)
    territory_ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    history_months = serializers.IntegerField(required=False, min_value=1, max_value=36,
                                              help_text="Recompute this many past months plus this quarter and year.")

    def validate(self, attrs):
        if attrs.get("history_months"):
            return attrs
        if bool(attrs.get("period_start")) != bool(attrs.get("period_end")):
            raise serializers.ValidationError("Give both period_start and period_end, or neither.")
        if attrs.get("period_start") and attrs["period_end"] < attrs["period_start"]:
            raise serializers.ValidationError({"period_end": "The period ends before it starts."})
        return attrs


class JobReferenceSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


class OpportunityBulkItemSerializer(serializers.Serializer):
    """One opportunity of a bulk upsert (documentation of the item; the import's row validation checks it)."""

    external_id = serializers.CharField(max_length=64, help_text="Your id for the deal: existing ones update.")
    account_external_id = serializers.CharField(max_length=64, help_text="The account's external id.")
    name = serializers.CharField(max_length=200)
    stage = serializers.ChoiceField(choices=Opportunity.Stage.choices, help_text="A stage value or its label.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    close_date = serializers.DateField()
    created_date = serializers.DateField(required=False, allow_null=True, help_text="Default: close_date.")
    product = serializers.CharField(max_length=64, required=False, allow_blank=True)
    rep_email = serializers.EmailField(required=False, allow_blank=True, help_text="The owning rep, by e-mail.")


class OpportunityBulkSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), allow_empty=False,
                                  help_text=f"At most {BULK_MAX_ITEMS:,} opportunities; send more as a CSV to "
                                            "/api/v1/opportunities/import/.")
    skip_invalid = serializers.BooleanField(default=False, help_text="Save the valid items even if some are not; "
                                                                     "by default one bad item saves nothing.")


class OpportunityBulkDocumentedSerializer(OpportunityBulkSerializer):
    items = OpportunityBulkItemSerializer(many=True)


class OpportunityBulkReportSerializer(BulkReportBaseSerializer):
    """What an opportunity bulk upsert did (`unchanged` is always 0: updates are written as given)."""
