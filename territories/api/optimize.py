"""Input of the optimise command: k, the measures to balance with weight and tolerance, mode, seed, time limit."""

from rest_framework import serializers

from territories.models import Territory
from territories.services.optimizer_runs import MEASURES, MODES


class BalanceTargetSerializer(serializers.Serializer):
    weight = serializers.FloatField(min_value=0, default=1.0)
    tolerance = serializers.FloatField(min_value=0.001, max_value=0.9, default=0.05,
                                       help_text="Largest relative deviation from the mean, e.g. 0.05 for 5%.")


class ScenarioOptimizeSerializer(serializers.Serializer):
    """Parameters of an optimiser run over a scenario's leaf territories (the result is a new scenario)."""

    k = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                 help_text="Number of territories (design); empty keeps the number of leaves.")
    balance = serializers.DictField(
        child=BalanceTargetSerializer(), required=False,
        help_text=f"Measure → {{weight, tolerance}}; measures: {', '.join(MEASURES)}. Default: potential within 5%.",
    )
    mode = serializers.ChoiceField(choices=MODES, default="design")
    compact = serializers.BooleanField(
        default=False,
        help_text="Realign only: keep territories compact at the cost of more moves (on the benchmark mean "
        "Polsby-Popper 0.11-0.16 -> 0.19-0.27 for up to 12% more revenue moved). A design is always compact.",
    )
    relocate = serializers.BooleanField(
        default=True,
        help_text="Realign only: where it moves less, close a territory whose neighbours have room and reopen it in "
        "half of the most overloaded one (the report's `relocation` names both); false keeps every territory in "
        "place and moves boundary units only.",
    )
    seed = serializers.IntegerField(min_value=0, default=0)
    time_limit = serializers.FloatField(min_value=5, max_value=600, default=60)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Territory.objects.all(), required=False, allow_null=True,
        help_text="Only the leaves under this region or district; empty: every leaf territory.",
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate_balance(self, value):
        unknown = sorted(set(value) - set(MEASURES))
        if unknown:
            raise serializers.ValidationError(f"Unknown measure “{unknown[0]}”; use one of {', '.join(MEASURES)}.")
        if value and not any(target["weight"] > 0 for target in value.values()):
            raise serializers.ValidationError("At least one measure needs a positive weight.")
        return value

    def validate(self, attrs):
        scenario = self.context["scenario"]
        parent = attrs.get("parent")
        if parent is not None and parent.scenario_id != scenario.pk:
            raise serializers.ValidationError({"parent": f"Territory {parent.code} is not part of this scenario."})
        return attrs

    def job_params(self) -> dict:
        data = self.validated_data
        balance = data.get("balance") or {"potential": {"weight": 1.0, "tolerance": 0.05}}
        return {
            "k": data.get("k"), "mode": data["mode"], "compact": data["compact"], "relocate": data["relocate"],
            "seed": data["seed"],
            "time_limit": data["time_limit"],
            "balance": {name: [target["weight"], target["tolerance"]] for name, target in balance.items()},
            "parent": data["parent"].pk if data.get("parent") else None, "name": data.get("name") or "",
        }


class TradeoffPointSerializer(serializers.Serializer):
    """A realignment's plan or one of its trade-off points, with the figures to choose between them."""

    factor = serializers.FloatField(help_text="Tolerances as a multiple of the plan's (the plan itself: 1).")
    tolerance = serializers.CharField(help_text="Each balanced measure's tolerance at this point.")
    max_rel_dev = serializers.FloatField(help_text="Largest relative deviation from the mean over the measures.")
    within_tolerance = serializers.BooleanField(help_text="Every territory within this point's own tolerance.")
    contiguous = serializers.BooleanField()
    units_moved = serializers.IntegerField()
    accounts_moved = serializers.IntegerField()
    revenue_moved_share = serializers.FloatField(help_text="Share of the annual revenue that changes territory.")
    polsby_popper_mean = serializers.FloatField()
    is_plan = serializers.BooleanField(help_text="The run's plan: this scenario itself.")
    alternative = serializers.IntegerField(allow_null=True, help_text="Id to adopt the point by (null: the plan).")
    adopted_as = serializers.IntegerField(source="adopted_as_id", allow_null=True,
                                         help_text="Id of the scenario made of this point, if any.")
    same_as_plan = serializers.BooleanField(help_text="The point ended on the plan's own figures: no other choice.")
    dominated_by = serializers.CharField(
        help_text="Another option as balanced that moves less (or better balanced, moving no more); empty if none.")
