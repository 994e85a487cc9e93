"""seed_demo: deterministic, every account in one leaf, leaves tile the counties, one login per role."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from accounts.models import Account, AccountAssignment
from core import roles
from core.demo.cells import CELL_LAYER_NAME
from core.demo.constants import COUNTY_LAYER_NAME
from core.demo.seed import demo_wipe
from performance.models import Activity, Opportunity, Quota
from reps.models import Rep, RepAssignment, Team
from territories.models import GeoUnit, GeoUnitLayer, Scenario, Territory

SIZE = {"accounts": 2000, "reps": 8, "seed": 7}


def _fingerprint() -> dict:
    """What must come out identical for one seed: counts, sums and the first names."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(potential), sum(annual_revenue), sum(employees), sum(workload_hours) "
                       "FROM accounts_account")
        sums = [str(value) for value in cursor.fetchone()]
    return {
        "sums": sums,
        "names": list(Account.objects.order_by("external_id").values_list("name", "tier", "industry")[:20]),
        "territories": sorted(Territory.objects.values_list("code", "name")),
        "units": sorted(
            Territory.objects.filter(depth=2).annotate(n=Count("territory_units")).values_list("code", "n")
        ),
        "placement": sorted(AccountAssignment.objects.values_list("account__external_id", "territory__code")),
        "reps": sorted(Rep.objects.values_list("name", "home_city", "seniority")),
        "owners": sorted(RepAssignment.objects.values_list("territory__code", "rep__name")),
        "activities": Activity.objects.count(),
        "opportunities": sorted(Opportunity.objects.values_list("external_id", "amount", "stage"))[:50],
        "quotas": Quota.objects.count(),
    }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module (committed), and leave the test database empty afterwards."""
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("seed_demo", force=True, stdout=out, **SIZE)
        yield {"output": out.getvalue(), "fingerprint": _fingerprint()}
        demo_wipe()
        GeoUnitLayer.objects.filter(name__in=[COUNTY_LAYER_NAME, CELL_LAYER_NAME]).delete()


@pytest.mark.django_db
def test_summary_and_progress_lines(seeded):
    output = seeded["output"]
    assert "accounts 2000/2000" in output
    assert "hierarchy: 9 regions, 51 districts" in output
    assert "Demo data loaded" in output.splitlines()[-1]
    assert Account.objects.count() == 2000
    assert Rep.objects.count() == 8
    assert Scenario.objects.get(status=Scenario.Status.ACTIVE).name == "2026 alignment"


@pytest.mark.django_db
def test_same_seed_gives_same_data(seeded):
    call_command("seed_demo", force=True, stdout=io.StringIO(), **SIZE)
    assert _fingerprint() == seeded["fingerprint"]


@pytest.mark.django_db
def test_every_account_sits_in_exactly_one_leaf_geography_territory(seeded):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n <> 1)
            FROM (
                SELECT a.id, count(x.id) AS n
                FROM accounts_account a
                LEFT JOIN accounts_accountassignment x ON x.account_id = a.id AND x.valid_to IS NULL
                LEFT JOIN territories_territory t ON t.id = x.territory_id
                LEFT JOIN territories_territorytype tt ON tt.id = t.territory_type_id
                WHERE tt.kind = 'geography' AND NOT EXISTS (
                    SELECT 1 FROM territories_territory c WHERE c.parent_id = t.id)
                GROUP BY a.id
            ) per_account
            """
        )
        once, other = cursor.fetchone()
    assert (once, other) == (2000, 0)
    # And each account lies inside (or on the edge of) the territory it was given.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM accounts_accountassignment x
            JOIN accounts_account a ON a.id = x.account_id
            JOIN territories_territory t ON t.id = x.territory_id
            WHERE x.source = 'geography' AND NOT ST_DWithin(t.boundary, a.location, 0.01)
            """
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_leaf_boundaries_tile_the_counties_without_overlaps(seeded):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(sum(ST_Area(ST_Intersection(a.boundary, b.boundary))), 0)
            FROM territories_territory a
            JOIN territories_territory b ON a.id < b.id AND ST_Intersects(a.boundary, b.boundary)
            WHERE a.depth = 2 AND b.depth = 2
            """
        )
        overlap = cursor.fetchone()[0]
        cursor.execute("SELECT ST_Area(ST_Union(boundary)) FROM territories_territory WHERE depth = 2")
        leaves_area = cursor.fetchone()[0]
        cursor.execute("SELECT sum(ST_Area(g.geometry)), count(*) FROM territories_geounit g "
                       "JOIN territories_geounitlayer l ON l.id = g.layer_id WHERE l.name = %s", [COUNTY_LAYER_NAME])
        counties_area, counties = cursor.fetchone()
        # the units the territories are built from: counties, and grid cells where accounts are dense
        cursor.execute("SELECT sum(ST_Area(g.geometry)) FROM territories_geounit g "
                       "WHERE EXISTS (SELECT 1 FROM territories_territoryunit tu WHERE tu.unit_id = g.id)")
        units_area = cursor.fetchone()[0]
        cursor.execute("SELECT depth, sum(ST_Area(boundary)) FROM territories_territory "
                       "WHERE territory_type_id = (SELECT id FROM territories_territorytype WHERE kind = 'geography') "
                       "GROUP BY depth ORDER BY depth")
        by_level = [area for _, area in cursor.fetchall()]
    assert overlap < 1e-6  # square degrees: well under a hectare in all
    assert counties == 3142
    assert leaves_area == pytest.approx(counties_area, rel=1e-6)
    assert by_level == pytest.approx([counties_area] * 3, rel=1e-6)  # regions, districts and leaves each tile
    assert Territory.objects.filter(depth=2, built_from_units=True, territory_units__isnull=True).count() == 0
    assert units_area == pytest.approx(counties_area, rel=1e-6)  # the cells tile the counties they stand for
    cells = GeoUnit.objects.filter(layer__name=CELL_LAYER_NAME)
    assert cells.exists() and not cells.filter(territory_units__isnull=True).exists()
    split = set(cells.values_list("attributes__county_fips", flat=True))
    unused = set(GeoUnit.objects.filter(layer__name=COUNTY_LAYER_NAME, territory_units__isnull=True)
                 .values_list("code", flat=True))
    assert unused == split  # a county is either a unit itself or stands as its cells, never both


@pytest.mark.django_db
def test_one_login_per_role(seeded):
    users = get_user_model().objects
    admin, manager, rep_user = users.get(username="admin"), users.get(username="manager"), users.get(username="rep")
    assert admin.is_superuser and admin.groups.filter(name=roles.ADMIN).exists()
    assert manager.groups.filter(name=roles.SALES_MANAGER).exists()
    assert rep_user.groups.filter(name=roles.SALES_REP).exists()
    for user in (admin, manager, rep_user):
        assert user.check_password("demo-password")
    assert Team.objects.filter(manager=manager).exists()
    assert rep_user.rep.team.manager == manager
    assert RepAssignment.objects.filter(rep=rep_user.rep, role=RepAssignment.Role.OWNER, valid_to__isnull=True,
                                        territory__depth=2).exists()
    assert 1 <= RepAssignment.objects.filter(rep__isnull=True).count() <= 2


@pytest.mark.django_db
def test_distributions_look_like_a_real_book(seeded):
    accounts = Account.objects
    assert accounts.filter(segment="small_business").count() > accounts.filter(segment="mid_market").count() \
        > accounts.filter(segment="enterprise").count() > 0
    assert accounts.filter(customer_type="b2b").count() > 0.85 * 2000
    assert accounts.values("industry").distinct().count() == 10
    assert accounts.filter(tier="A").count() == 100
    assert accounts.filter(location__isnull=True).count() == 0
    # Activities are logged by the rep who owns the account's territory (or an overlay rep).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM performance_activity act
            JOIN reps_rep r ON r.id = act.rep_id AND r.role = 'field'
            WHERE NOT EXISTS (
                SELECT 1 FROM accounts_accountassignment x
                JOIN reps_repassignment ra ON ra.territory_id = x.territory_id AND ra.rep_id = act.rep_id
                WHERE x.account_id = act.account_id AND x.valid_to IS NULL)
            """
        )
        assert cursor.fetchone()[0] == 0
    assert Activity.objects.filter(kind="visit").exists() and Opportunity.objects.filter(stage="won").exists()


@pytest.mark.django_db
def test_if_empty_skips_when_accounts_exist(seeded):
    out = io.StringIO()
    call_command("seed_demo", if_empty=True, stdout=out)
    assert "skipping" in out.getvalue()
    assert len(out.getvalue().splitlines()) == 1
    assert Account.objects.count() == 2000
