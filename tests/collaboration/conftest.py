"""A small alignment for collaboration tests: one manager's team (two reps) and another manager's rep.

Region R holds leaves T1 (rep A, the `rep_user`), T2 (rep B) and T3 (rep C, another manager's team).
T1: a1..a4 with revenue 10k/20k/30k/40k, potential 50k/60k/70k/80k, workload 10/20/30/40 hours.
T2: b1 (50k, 100k, 50 h) and b2 (10k, 20k, 10 h). T3: c1 (25k, 50k, 25 h).
"""

from decimal import Decimal

import pytest

import core.roles
from collaboration.permissions import REP_PERMISSIONS


@pytest.fixture(autouse=True)
def rep_collaboration_permissions(monkeypatch):
    """Until core.roles grants them, give reps the collaboration permissions they need (idempotent after)."""
    monkeypatch.setitem(core.roles._REP_PERMISSIONS, "collaboration", REP_PERMISSIONS)


def _account(name, revenue, potential, workload, territory):
    from tests.factories import AccountAssignmentFactory, AccountFactory

    account = AccountFactory(name=name, annual_revenue=Decimal(revenue), potential=Decimal(potential),
                             workload_hours=workload)
    AccountAssignmentFactory(account=account, territory=territory)
    return account


@pytest.fixture
def world(db, manager_user, rep_user):
    from tests.factories import (
        RepAssignmentFactory,
        RepFactory,
        ScenarioFactory,
        TeamFactory,
        TerritoryFactory,
        UserFactory,
    )

    scenario = ScenarioFactory(name="FY27 plan")
    region = TerritoryFactory(scenario=scenario, code="R", name="Region", level_name="region", boundary=None)
    t1 = TerritoryFactory(scenario=scenario, parent=region, code="T1", name="North")
    t2 = TerritoryFactory(scenario=scenario, parent=region, code="T2", name="South")
    t3 = TerritoryFactory(scenario=scenario, parent=region, code="T3", name="West")
    other_rep_user = UserFactory(username="rep-b", role="sales rep")
    outsider_user = UserFactory(username="rep-c", role="sales rep")
    other_manager = UserFactory(username="manager-two", role="sales manager")
    team = TeamFactory(name="North team", manager=manager_user)
    other_team = TeamFactory(name="West team", manager=other_manager)
    rep_a = RepFactory(name="Ann Rep", user=rep_user, team=team)
    rep_b = RepFactory(name="Bob Rep", user=other_rep_user, team=team)
    rep_c = RepFactory(name="Cid Rep", user=outsider_user, team=other_team)
    for rep, territory in ((rep_a, t1), (rep_b, t2), (rep_c, t3)):
        RepAssignmentFactory(rep=rep, territory=territory)
    a = [_account(f"a{i}", 10000 * i, 40000 + 10000 * i, 10 * i, t1) for i in range(1, 5)]
    b = [_account("b1", 50000, 100000, 50, t2), _account("b2", 10000, 20000, 10, t2)]
    c = [_account("c1", 25000, 50000, 25, t3)]
    return {
        "scenario": scenario, "region": region, "t1": t1, "t2": t2, "t3": t3, "team": team,
        "rep_a": rep_a, "rep_b": rep_b, "rep_c": rep_c, "a": a, "b": b, "c": c,
        "manager": manager_user, "rep_user": rep_user, "other_rep_user": other_rep_user,
        "outsider_user": outsider_user, "other_manager": other_manager,
    }
