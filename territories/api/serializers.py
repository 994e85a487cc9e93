"""Serializers of the territories API: they shape data; the services decide."""

from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from core.api.serializers import NoGeometryField, SparseGeoFieldsMixin
from territories.models import AssignmentRule, GeoUnit, GeoUnitLayer, Scenario, ScenarioEvent, Territory, TerritoryType


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scenario
        fields = ["id", "name", "description", "status", "cloned_from", "previous_active", "scheduled_activation_at",
                  "activated_at", "archived_at", "version", "created_at", "updated_at"]
        read_only_fields = ["status", "cloned_from", "previous_active", "scheduled_activation_at", "activated_at",
                            "archived_at", "version", "created_at", "updated_at"]


class ScenarioEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScenarioEvent
        fields = ["id", "action", "detail", "actor", "created_at"]


class ScenarioCloneSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ScenarioScheduleSerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True, help_text="When to activate; null cancels the schedule.")


class ScenarioCompareSerializer(serializers.Serializer):
    other = serializers.PrimaryKeyRelatedField(queryset=Scenario.objects.all(),
                                               help_text="The scenario to compare with (B); this one is A.")


class CompareRowSerializer(serializers.Serializer):
    accounts_a = serializers.IntegerField()
    revenue_a = serializers.DecimalField(max_digits=16, decimal_places=2)
    accounts_b = serializers.IntegerField()
    revenue_b = serializers.DecimalField(max_digits=16, decimal_places=2)
    accounts_in = serializers.IntegerField()
    revenue_in = serializers.DecimalField(max_digits=16, decimal_places=2)
    accounts_out = serializers.IntegerField()
    revenue_out = serializers.DecimalField(max_digits=16, decimal_places=2)
    accounts_change = serializers.IntegerField()
    revenue_change = serializers.DecimalField(max_digits=16, decimal_places=2)


class CompareTerritorySerializer(CompareRowSerializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CompareRepSerializer(CompareRowSerializer):
    rep_id = serializers.IntegerField(allow_null=True)
    rep = serializers.CharField()


class ScenarioComparisonSerializer(serializers.Serializer):
    scenario_a = serializers.DictField()
    scenario_b = serializers.DictField()
    totals = serializers.DictField()
    territories = CompareTerritorySerializer(many=True)
    reps = CompareRepSerializer(many=True)


class TerritoryTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TerritoryType
        fields = ["id", "name", "kind", "priority", "description"]


class TerritorySerializer(SparseGeoFieldsMixin, GeoFeatureModelSerializer):
    """A territory as a GeoJSON feature; boundary edits are validated and repaired by the geography service.

    Reads take `?fields=` (the boundary is then null unless named) and `?simplify=<tolerance>` (the view annotates
    `boundary_simplified`, sent in place of the full boundary)."""

    # declared writable-but-ignored so the GeoJSON request schema has an id (drf-spectacular needs one)
    id = serializers.IntegerField(required=False)
    repair = serializers.BooleanField(write_only=True, required=False, default=True)
    # allow_null, not default=None: on a PATCH a default makes DRF raise SkipField, which rest_framework_gis does not
    # catch (every partial update of a territory without a type answered 500)
    territory_type_name = serializers.CharField(source="territory_type.name", read_only=True, allow_null=True)

    class Meta:
        model = Territory
        geo_field = "boundary"
        fields = ["id", "scenario", "parent", "depth", "level_name", "name", "code", "territory_type",
                  "territory_type_name", "boundary", "built_from_units", "is_locked", "color", "version", "repair"]
        read_only_fields = ["depth", "built_from_units", "version"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.context.get("simplify") is not None and not isinstance(self.fields.get("boundary"), NoGeometryField):
            self.fields["boundary"] = GeometryField(source="boundary_simplified", read_only=True)


class TerritoryMoveSerializer(serializers.Serializer):
    parent = serializers.PrimaryKeyRelatedField(queryset=Territory.objects.all(), allow_null=True)


class TerritoryUnitsSerializer(serializers.Serializer):
    unit_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)
    mode = serializers.ChoiceField(choices=["replace", "add", "remove"], default="replace")


class GeoUnitLayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = GeoUnitLayer
        fields = ["id", "name", "kind", "source", "created_at"]


class GeoUnitSerializer(GeoFeatureModelSerializer):
    id = serializers.IntegerField(required=False)

    class Meta:
        model = GeoUnit
        geo_field = "geometry"
        fields = ["id", "layer", "code", "name", "geometry", "attributes"]


class GeoUnitImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .geojson file or a .zip holding a shapefile.")
    layer_name = serializers.CharField(max_length=100)
    code_field = serializers.CharField(max_length=100)
    name_field = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    repair = serializers.BooleanField(default=True)
    skip_bad_features = serializers.BooleanField(default=True)


class AssignmentRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssignmentRule
        fields = ["id", "territory", "name", "priority", "logic", "criteria", "within_boundary",
                  "applies_to_children", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
