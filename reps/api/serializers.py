"""Serializers of the reps API: they validate input and shape output; writes go through reps.services."""

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from accounts.models import Account
from performance.models import Activity
from reps.coverage import account_status
from reps.models import Rep, RepAssignment, Team, VisitCadence


class TeamSerializer(serializers.ModelSerializer):
    rep_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Team
        fields = ["id", "name", "manager", "rep_count"]


class RepSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True, default=None)

    class Meta:
        model = Rep
        fields = [
            "id", "name", "email", "user", "team", "team_name", "role", "home_location", "home_city", "industries",
            "products", "seniority", "capacity_hours", "is_active", "start_date", "end_date",
        ]
        # The rep's sign-in is linked in the admin: the rep services take `user` as the acting manager.
        read_only_fields = ["user"]


class RepAssignmentSerializer(serializers.ModelSerializer):
    rep_name = serializers.CharField(source="rep.name", read_only=True, default=None)
    territory_name = serializers.CharField(source="territory.name", read_only=True)
    scenario = serializers.IntegerField(source="territory.scenario_id", read_only=True)
    is_vacancy = serializers.BooleanField(read_only=True)

    class Meta:
        model = RepAssignment
        fields = ["id", "rep", "rep_name", "territory", "territory_name", "scenario", "role", "valid_from",
                  "valid_to", "note", "is_vacancy"]
        read_only_fields = ["valid_to"]
        extra_kwargs = {"rep": {"required": False, "allow_null": True}, "valid_from": {"required": False}}


class RepAssignmentEndSerializer(serializers.Serializer):
    valid_to = serializers.DateField(required=False)


class VacancySerializer(serializers.Serializer):
    territory = serializers.IntegerField(source="territory.pk")
    territory_code = serializers.CharField(source="territory.code")
    territory_name = serializers.CharField(source="territory.name")
    since = serializers.DateField(allow_null=True)
    previous_rep = serializers.IntegerField(source="previous_rep.pk", allow_null=True, default=None)
    previous_rep_name = serializers.CharField(source="previous_rep.name", allow_null=True, default=None)


class VisitCadenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = VisitCadence
        fields = ["id", "tier", "visits_per_year", "minutes_per_visit"]


class ActivitySerializer(serializers.ModelSerializer):
    outcome = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                    help_text="Stored as the first line of the notes ('Outcome: ...').")
    account_name = serializers.CharField(source="account.name", read_only=True)
    rep_name = serializers.CharField(source="rep.name", read_only=True, default=None)

    class Meta:
        model = Activity
        fields = ["id", "account", "account_name", "rep", "rep_name", "kind", "occurred_at", "duration_minutes",
                  "notes", "outcome"]
        extra_kwargs = {"rep": {"required": False, "allow_null": True}, "occurred_at": {"required": False}}


class CoverageRowSerializer(serializers.Serializer):
    key = serializers.IntegerField(help_text="Territory id or rep id.")
    name = serializers.CharField()
    accounts = serializers.IntegerField()
    with_cadence = serializers.IntegerField()
    within_cadence = serializers.IntegerField()
    overdue = serializers.IntegerField()
    never_visited = serializers.IntegerField()
    coverage_percent = serializers.FloatField(allow_null=True)


class CoverageSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    territories = CoverageRowSerializer(many=True)
    reps = CoverageRowSerializer(many=True)


class BookAccountSerializer(GeoFeatureModelSerializer):
    """An account of a book with what says whether it needs attention (a GeoJSON feature)."""

    status = serializers.SerializerMethodField()
    last_visit_at = serializers.DateTimeField(read_only=True, allow_null=True)
    due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    days_overdue = serializers.FloatField(read_only=True, allow_null=True)
    open_opportunities = serializers.IntegerField(read_only=True)
    open_amount = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    attention_rank = serializers.IntegerField(read_only=True)

    class Meta:
        model = Account
        geo_field = "location"
        fields = ["id", "external_id", "name", "city", "postal_code", "industry", "tier", "status", "potential",
                  "last_visit_at", "due_at", "days_overdue", "open_opportunities", "open_amount", "attention_rank"]

    def get_status(self, account) -> str:
        return account_status(account)

    def to_representation(self, account):
        """The feature the declared fields give, written directly: a book page is the API's busiest read, and
        the generic path (an attribute lookup and checks per field and row) cost more than the query. The rows
        come from reps.coverage.account_book_list, with the location as longitude/latitude."""
        fields = self.fields
        if not hasattr(account, "longitude"):  # an account read elsewhere, with its location
            return super().to_representation(account)
        if not hasattr(fields["due_at"], "timezone"):
            # The current time zone, looked up once for the page rather than for each date of each row (DRF's
            # DateTimeField uses `timezone` when it has one; a serializer lives for one request).
            for name in ("last_visit_at", "due_at"):
                fields[name].timezone = fields[name].default_timezone()

        def value(name, raw):
            return None if raw is None else fields[name].to_representation(raw)

        return {
            "id": account.pk,
            "type": "Feature",
            "geometry": None if account.longitude is None else {
                "type": "Point", "coordinates": [account.longitude, account.latitude]},
            "properties": {
                "external_id": account.external_id, "name": account.name, "city": account.city,
                "postal_code": account.postal_code, "industry": account.industry, "tier": account.tier,
                "status": account_status(account), "potential": value("potential", account.potential),
                "last_visit_at": value("last_visit_at", account.last_visit_at),
                "due_at": value("due_at", account.due_at),
                "days_overdue": None if account.days_overdue is None else float(account.days_overdue),
                "open_opportunities": account.open_opportunities,
                "open_amount": value("open_amount", account.open_amount),
                "attention_rank": account.attention_rank,
            },
        }


class WorkloadSerializer(serializers.Serializer):
    territory_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    accounts = serializers.IntegerField()
    visits_per_year = serializers.FloatField()
    visit_hours = serializers.FloatField()
    travel_hours = serializers.FloatField()
    hours = serializers.FloatField()
    rep_id = serializers.IntegerField(allow_null=True)
    capacity_hours = serializers.FloatField()
    index = serializers.FloatField(allow_null=True, help_text="Hours over the owner's capacity x 100.")
    relative_index = serializers.FloatField(allow_null=True, help_text="Hours over the average territory x 100.")


class MatchProposalRequestSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    reps = serializers.ListField(child=serializers.IntegerField(), required=False,
                                 help_text="Rep ids to consider; default: your active field reps.")
    territories = serializers.ListField(child=serializers.IntegerField(), required=False,
                                        help_text="Territory ids to staff; default: every leaf you may staff.")
    weights = serializers.DictField(child=serializers.FloatField(min_value=0), required=False,
                                    help_text="travel, expertise and value; default 0.5, 0.3, 0.2.")
    travel_scale_km = serializers.FloatField(required=False, min_value=1)


class MatchProposalSerializer(serializers.Serializer):
    territory_id = serializers.IntegerField()
    territory = serializers.CharField()
    rep_id = serializers.IntegerField(allow_null=True)
    rep = serializers.CharField(allow_null=True)
    score = serializers.FloatField(allow_null=True, help_text="0 to 100")
    travel = serializers.FloatField(allow_null=True)
    expertise = serializers.FloatField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    travel_km = serializers.FloatField(allow_null=True)


class MatchResultSerializer(serializers.Serializer):
    scenario_id = serializers.IntegerField()
    proposals = MatchProposalSerializer(many=True)
    unassigned_rep_ids = serializers.ListField(child=serializers.IntegerField())
    total_score = serializers.FloatField()
    weights = serializers.DictField(child=serializers.FloatField())


class MatchPairSerializer(serializers.Serializer):
    territory = serializers.IntegerField()
    rep = serializers.IntegerField(allow_null=True, help_text="Empty to leave the territory vacant.")


class MatchAcceptSerializer(serializers.Serializer):
    pairs = MatchPairSerializer(many=True, allow_empty=False)
    valid_from = serializers.DateField(required=False)


class CallPlanQuerySerializer(serializers.Serializer):
    rep = serializers.IntegerField(required=False, help_text="Default: your own rep profile.")
    week = serializers.DateField(required=False, help_text="Any day of the week; default: next week.")
    max_stops_per_day = serializers.IntegerField(required=False, min_value=1, max_value=100)


class CallPlanVisitSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    account = serializers.IntegerField(source="account.pk")
    account_name = serializers.CharField(source="account.name")
    tier = serializers.CharField(source="account.tier")
    longitude = serializers.FloatField(source="account.location.x")
    latitude = serializers.FloatField(source="account.location.y")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    drive_km = serializers.FloatField()
    reason = serializers.CharField()
    priority = serializers.FloatField()


class CallPlanDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    km = serializers.FloatField()
    drive_minutes = serializers.FloatField()
    visit_minutes = serializers.FloatField()
    visits = CallPlanVisitSerializer(many=True)
    route = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()),
                                  help_text="[lon, lat] points: home, the stops in order, home.")


class CallPlanSerializer(serializers.Serializer):
    rep = serializers.IntegerField(source="rep.pk")
    rep_name = serializers.CharField(source="rep.name")
    week_start = serializers.DateField()
    day_capacity_minutes = serializers.FloatField()
    candidates = serializers.IntegerField()
    visit_count = serializers.IntegerField()
    km = serializers.FloatField()
    computed_seconds = serializers.FloatField()
    message = serializers.CharField()
    days = CallPlanDaySerializer(many=True)
    unscheduled = serializers.SerializerMethodField()

    def get_unscheduled(self, plan) -> list[int]:
        return [account.pk for account in plan.unscheduled]
