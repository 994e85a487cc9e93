"""Two teams in one live alignment and one planning copy, with one object of every kind on each side.

Manager `manager-user` runs the Central team (rep `rep-user`, territory R-C); `other-manager` runs the North team
(rep `other-rep`, territory R-N). Every object the pages and the API can address exists once on the rep's side
("mine") and once on the other rep's side ("theirs"), so a test can ask for each by role and by owner.
"""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

AUSTIN = (-97.74, 30.27)
DALLAS = (-96.80, 32.78)


def _place(territory, *, lon, lat, **fields):
    from tests.factories import AccountAssignmentFactory, AccountFactory

    account = AccountFactory(location=Point(lon, lat, srid=4326), **fields)
    AccountAssignmentFactory(account=account, territory=territory)
    return account


@pytest.fixture
def world(db, manager_user, rep_user, admin_user):
    from accounts.models import AccountOverride, AllocationRun
    from collaboration.models import ChangeRequest, Comment, Notification, SalesPlan
    from collaboration.services.sharing import share_link_create
    from core.models import Job, WebhookDelivery, WebhookSubscription
    from core.tokens import api_token_create
    from performance.models import KpiSnapshot
    from reps.services import rep_assign
    from territories.models import AssignmentRule, Scenario
    from tests.factories import (
        ActivityFactory,
        GeoUnitFactory,
        OpportunityFactory,
        QuotaFactory,
        RepFactory,
        ScenarioFactory,
        TeamFactory,
        TerritoryFactory,
        TerritoryUnitFactory,
        UserFactory,
        square,
    )

    live = ScenarioFactory(name="Live", status=Scenario.Status.ACTIVE)
    region = TerritoryFactory(scenario=live, code="R", name="Texas", level_name="region", boundary=None)
    central = TerritoryFactory(scenario=live, parent=region, code="R-C", name="Central",
                               boundary=square(-98.5, 29.5, 1.5))
    north = TerritoryFactory(scenario=live, parent=region, code="R-N", name="North",
                             boundary=square(-97.5, 32.0, 1.5))
    plan = ScenarioFactory(name="Plan FY27", status=Scenario.Status.PLANNING, cloned_from=live)
    plan_region = TerritoryFactory(scenario=plan, code="R", name="Texas", level_name="region", boundary=None)
    plan_central = TerritoryFactory(scenario=plan, parent=plan_region, code="R-C", name="Central",
                                    boundary=square(-98.5, 29.5, 1.5))
    plan_north = TerritoryFactory(scenario=plan, parent=plan_region, code="R-N", name="North",
                                  boundary=square(-97.5, 32.0, 1.5))
    unit = GeoUnitFactory(code="U-central", geometry=square(-98.5, 29.5, 1.5))
    TerritoryUnitFactory(territory=plan_central, unit=unit)

    other_manager = UserFactory(username="other-manager", role="sales manager")
    other_rep_user = UserFactory(username="other-rep", role="sales rep")
    team = TeamFactory(name="Central team", manager=manager_user)
    other_team = TeamFactory(name="North team", manager=other_manager)
    rep = RepFactory(name="Alice Central", user=rep_user, team=team, home_location=Point(*AUSTIN, srid=4326))
    other_rep = RepFactory(name="Bob North", user=other_rep_user, team=other_team,
                           home_location=Point(*DALLAS, srid=4326))
    start = dt.date.today() - dt.timedelta(days=60)
    rep_assign(territory=central, rep=rep, valid_from=start)
    rep_assign(territory=north, rep=other_rep, valid_from=start)
    from reps.models import RepAssignment

    my_assignment = RepAssignment.objects.get(territory=central, rep=rep)
    their_assignment = RepAssignment.objects.get(territory=north, rep=other_rep)

    mine = _place(central, lon=-97.70, lat=30.30, name="Acme Austin", tier="A")
    theirs = _place(north, lon=-96.80, lat=32.80, name="Delta Dallas", tier="A")
    for account, territory in ((mine, plan_central), (theirs, plan_north)):
        from tests.factories import AccountAssignmentFactory

        AccountAssignmentFactory(account=account, territory=territory)

    from accounts.models import AccountAssignment

    my_account_assignment = AccountAssignment.objects.get(account=mine, territory=central)
    their_account_assignment = AccountAssignment.objects.get(account=theirs, territory=north)
    rule = AssignmentRule.objects.create(territory=plan_central, name="Manufacturing in Central",
                                         criteria=[{"field": "industry", "op": "equals", "value": "manufacturing"}])
    override = AccountOverride.objects.create(scenario=plan, account=theirs, territory=plan_north, reason="Key",
                                              created_by=manager_user)
    job = Job.objects.create(kind=Job.Kind.ALLOCATION, created_by=manager_user, status=Job.Status.SUCCEEDED)
    rep_job = Job.objects.create(kind=Job.Kind.OTHER, created_by=rep_user, status=Job.Status.SUCCEEDED)
    their_job = Job.objects.create(kind=Job.Kind.OTHER, created_by=other_rep_user, status=Job.Status.SUCCEEDED)
    run = AllocationRun.objects.create(scenario=plan, job=job, created_by=manager_user, summary={"moved": 0})

    quarter = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    territory_quota = QuotaFactory(territory=central, period_start=quarter[0], period_end=quarter[1])
    my_quota = QuotaFactory(territory=None, rep=rep, period_start=quarter[0], period_end=quarter[1])
    their_quota = QuotaFactory(territory=None, rep=other_rep, period_start=quarter[0], period_end=quarter[1])
    my_opportunity = OpportunityFactory(account=mine, rep=rep, amount=Decimal("1000"))
    their_opportunity = OpportunityFactory(account=theirs, rep=other_rep, amount=Decimal("2000"),
                                           name="Dallas secret deal")
    my_activity = ActivityFactory(account=mine, rep=rep)
    their_activity = ActivityFactory(account=theirs, rep=other_rep)
    my_snapshot = KpiSnapshot.objects.create(scope=KpiSnapshot.Scope.REP, scenario=live, rep=rep,
                                             period_start=quarter[0], period_end=quarter[1], metrics={"revenue": 1})
    their_snapshot = KpiSnapshot.objects.create(scope=KpiSnapshot.Scope.REP, scenario=live, rep=other_rep,
                                                period_start=quarter[0], period_end=quarter[1], metrics={"revenue": 2})

    def change_request(user, territory, account):
        return ChangeRequest.objects.create(
            scenario=plan, kind=ChangeRequest.Kind.MOVE_ACCOUNTS, title="Move", reason="Closer to home",
            payload={"account_ids": [account.pk], "to_territory_id": territory.pk}, territory_ids=[territory.pk],
            base_scenario_version=plan.version, proposed_by=user)

    my_request = change_request(rep_user, plan_central, mine)
    their_request = change_request(other_rep_user, plan_north, theirs)
    my_plan = SalesPlan.objects.create(territory=central, period_start=quarter[0], period_end=quarter[1],
                                       author=rep_user)
    their_plan = SalesPlan.objects.create(territory=north, period_start=quarter[0], period_end=quarter[1],
                                          author=other_rep_user, status=SalesPlan.Status.SUBMITTED, strategy="Grow")
    Comment.objects.create(target=my_request, author=rep_user, body="See the map")
    Notification.objects.create(recipient=rep_user, kind=Notification.Kind.COMMENT, message="hi")
    link, link_token = share_link_create(user=manager_user, scenario=plan,
                                         expires_at=timezone.now() + dt.timedelta(days=7), label="Finance")
    my_token, _ = api_token_create(user=rep_user, name="rep laptop")
    their_token, _ = api_token_create(user=other_rep_user, name="other laptop")
    webhook = WebhookSubscription.objects.create(owner=manager_user, url="https://example.com/hook",
                                                 events=["job.finished"], secret="s3cret")
    their_webhook = WebhookSubscription.objects.create(owner=other_manager, url="https://example.com/other",
                                                       events=["job.finished"], secret="s3cret")
    delivery = WebhookDelivery.objects.create(subscription=webhook, event="job.finished", payload={})
    their_delivery = WebhookDelivery.objects.create(subscription=their_webhook, event="job.finished", payload={})

    return SimpleNamespace(
        live=live, plan=plan, region=region, central=central, north=north, plan_central=plan_central,
        plan_north=plan_north, unit=unit, layer=unit.layer, team=team, other_team=other_team, rep=rep,
        other_rep=other_rep, my_assignment=my_assignment, their_assignment=their_assignment, mine=mine,
        theirs=theirs, rule=rule, override=override, job=job, rep_job=rep_job, their_job=their_job, run=run,
        territory_quota=territory_quota, my_quota=my_quota, their_quota=their_quota, my_opportunity=my_opportunity,
        their_opportunity=their_opportunity, my_activity=my_activity, their_activity=their_activity,
        my_snapshot=my_snapshot, their_snapshot=their_snapshot, my_request=my_request, their_request=their_request,
        my_plan=my_plan, their_plan=their_plan, link=link, link_token=link_token, my_token=my_token,
        their_token=their_token, webhook=webhook, their_webhook=their_webhook, delivery=delivery,
        their_delivery=their_delivery, my_account_assignment=my_account_assignment,
        their_account_assignment=their_account_assignment,
        users={"anonymous": None, "rep": rep_user, "other_rep": other_rep_user, "other_manager": other_manager,
               "manager": manager_user, "admin": admin_user},
    )
