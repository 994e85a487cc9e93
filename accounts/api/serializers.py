"""Serializers of the accounts API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, AccountAssignment, AccountOverride, AllocationRun
from accounts.services.allocation import allocation_reason
from core.api.bulk import BULK_MAX_ITEMS, BulkReportBaseSerializer
from core.api.fields import GeometryField
from core.api.serializers import SparseFieldsMixin

NULLABLE = {"read_only": True, "default": None, "allow_null": True}


class AccountSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """An account with its current territory, owner rep and why it is there (in the active scenario)."""

    ALIGNMENT_FIELDS = ("territory_id", "territory_code", "territory_name", "assignment_source", "owner_rep_id",
                        "owner_rep_name")

    location = GeometryField(required=False, allow_null=True)
    territory_id = serializers.IntegerField(source="current_territory_id", **NULLABLE)
    territory_code = serializers.CharField(source="current_territory_code", **NULLABLE)
    territory_name = serializers.CharField(source="current_territory_name", **NULLABLE)
    assignment_source = serializers.CharField(source="current_source", **NULLABLE)
    owner_rep_id = serializers.IntegerField(**NULLABLE)
    owner_rep_name = serializers.CharField(**NULLABLE)

    class Meta:
        model = Account
        fields = ["id", "external_id", "name", "street", "city", "state", "postal_code", "country", "location",
                  "industry", "segment", "customer_type", "products", "employees", "annual_revenue", "potential",
                  "tier", "status", "workload_hours", "territory_id", "territory_code", "territory_name",
                  "assignment_source", "owner_rep_id", "owner_rep_name", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class AssignmentSerializer(serializers.ModelSerializer):
    """One effective-dated assignment of an account to a territory, and why."""

    territory_code = serializers.CharField(source="territory.code", read_only=True)
    territory_name = serializers.CharField(source="territory.name", read_only=True)
    scenario_name = serializers.CharField(source="scenario.name", read_only=True)
    why = serializers.SerializerMethodField()

    class Meta:
        model = AccountAssignment
        fields = ["id", "scenario", "scenario_name", "territory", "territory_code", "territory_name", "valid_from",
                  "valid_to", "source", "rule", "override", "run", "reason", "why"]

    def get_why(self, assignment) -> str:
        return allocation_reason(assignment)


class AlignmentRowSerializer(AssignmentSerializer):
    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    owner_rep_id = serializers.IntegerField(read_only=True, allow_null=True)
    owner_rep_name = serializers.CharField(read_only=True, allow_null=True)

    class Meta(AssignmentSerializer.Meta):
        fields = ["account", "account_external_id", "account_name", *AssignmentSerializer.Meta.fields,
                  "owner_rep_id", "owner_rep_name"]


class AccountHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True)
    scenario = serializers.IntegerField(allow_null=True)
    territory = serializers.DictField(allow_null=True)
    rep = serializers.DictField(allow_null=True)
    reason = serializers.CharField()
    history = AssignmentSerializer(many=True)


class AccountOverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountOverride
        fields = ["id", "scenario", "account", "territory", "kind", "reason", "is_active", "created_by",
                  "created_at"]
        read_only_fields = ["is_active", "created_by", "created_at"]


class AllocationRequestSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    account_ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True,
                                        help_text="Re-allocate only these accounts.")
    territory_ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True,
                                          help_text="Re-allocate only the accounts these territories hold or "
                                                    "would take.")


class AllocationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = AllocationRun
        fields = ["id", "scenario", "job", "is_preview", "summary", "created_by", "created_at", "finished_at"]


class AccountImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .csv or .geojson file.")
    skip_bad_rows = serializers.BooleanField(default=False)
    scenario = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Scenario for a territory_code column.")
    reallocate = serializers.BooleanField(default=True)


class AssignmentListSerializer(AssignmentSerializer):
    """An assignment row for integrations: the account's id and external id with its territory and dates."""

    account_external_id = serializers.CharField(source="account.external_id", read_only=True)

    class Meta(AssignmentSerializer.Meta):
        fields = ["account", "account_external_id", *AssignmentSerializer.Meta.fields]




@extend_schema_field({"type": "object", "nullable": True, "required": ["type", "coordinates"], "properties": {
    "type": {"type": "string", "enum": ["Point"]},
    "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}})
class GeoJsonPointField(serializers.JSONField):
    """A GeoJSON Point as sent in a bulk item (parsed by the import service, not here)."""


class AccountBulkItemSerializer(serializers.Serializer):
    """One account of a bulk upsert (documentation of the item; the import parser validates it, item by item)."""

    external_id = serializers.CharField(max_length=64, help_text="Your id for the account: existing ones update.")
    name = serializers.CharField(max_length=200)
    location = GeoJsonPointField(required=False, allow_null=True, help_text="A GeoJSON Point (or give longitude "
                                                                            "and latitude).")
    longitude = serializers.FloatField(required=False, allow_null=True)
    latitude = serializers.FloatField(required=False, allow_null=True)
    street = serializers.CharField(required=False, allow_blank=True)
    city = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(required=False, allow_blank=True)
    postal_code = serializers.CharField(required=False, allow_blank=True)
    country = serializers.CharField(required=False, allow_blank=True)
    industry = serializers.CharField(required=False, allow_blank=True)
    segment = serializers.CharField(required=False, allow_blank=True)
    customer_type = serializers.CharField(required=False, allow_blank=True)
    products = serializers.ListField(child=serializers.CharField(), required=False)
    employees = serializers.IntegerField(required=False, allow_null=True)
    annual_revenue = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    potential = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    tier = serializers.CharField(required=False, allow_blank=True)
    status = serializers.CharField(required=False, allow_blank=True)
    workload_hours = serializers.FloatField(required=False)


class AccountBulkSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.JSONField(), allow_empty=False,
                                  help_text=f"At most {BULK_MAX_ITEMS:,} accounts; send more as a CSV to "
                                            "/api/v1/accounts/import/.")
    skip_invalid = serializers.BooleanField(default=False, help_text="Save the valid items even if some are not; "
                                                                     "by default one bad item saves nothing.")
    reallocate = serializers.BooleanField(default=True, help_text="Re-allocate the changed accounts in the active "
                                                                  "scenario afterwards.")


class AccountBulkDocumentedSerializer(AccountBulkSerializer):
    items = AccountBulkItemSerializer(many=True)


class BulkReportSerializer(BulkReportBaseSerializer):
    """What an account bulk upsert did, and the re-allocation of the changed accounts."""

    reallocation = serializers.DictField(required=False, allow_null=True)
