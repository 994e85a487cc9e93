"""Per-territory digests of the assignments in force: the triggers keep them equal to a recomputation after every
kind of write (allocation by either path, overrides, manual rows, clones, deletes, truncation), and a full
allocation joins only the territories whose digests differ from its result, with the same outcome as joining all.
"""

import datetime as dt

import pytest
from django.contrib.gis.geos import MultiPolygon, Point
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountAssignment, TerritoryAssignmentDigest
from accounts.services import allocation, assignment_digests
from accounts.services.allocation import allocation_preview, allocation_run
from accounts.services.allocation_matching import source_sql
from accounts.services.overrides import override_create
from territories.services import territory_boundary_set
from territories.services.hierarchy import territory_delete
from territories.services.scenarios import scenario_clone
from tests.factories import AccountFactory, square

pytestmark = pytest.mark.django_db


def recomputed() -> dict[int, tuple[int, int, int]]:
    """territory id -> (scenario id, rows, digest), straight from the assignments in force."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT territory_id, min(scenario_id), count(*), bit_xor(accounts_assignment_key_hash(
                account_id, accounts_assignment_source_code(source, rule_id, override_id), rule_id, override_id))
            FROM accounts_accountassignment WHERE valid_to IS NULL GROUP BY territory_id
            """
        )
        return {territory: (scenario, rows, digest) for territory, scenario, rows, digest in cursor.fetchall()}


def kept() -> dict[int, tuple[int, int, int]]:
    """The same, from the rows the triggers appended (each territory's sum of counts and XOR of digests)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT territory_id, min(scenario_id), sum(rows), bit_xor(digest)
            FROM accounts_territoryassignmentdigest GROUP BY territory_id
            HAVING sum(rows) <> 0 OR bit_xor(digest) <> 0
            """
        )
        return {territory: (scenario, rows, digest) for territory, scenario, rows, digest in cursor.fetchall()}


def assert_digests_exact():
    assert kept() == recomputed()


def diff_statement(queries) -> str:
    [statement] = [query["sql"] for query in queries if "CREATE TEMP TABLE _alloc_diff" in query["sql"]]
    return statement


@pytest.mark.parametrize("bulk", [False, True], ids=["ordinary-insert", "own-partition"])
def test_digests_follow_every_kind_of_assignment_write(grid, settings, bulk):
    settings.ASSIGNMENT_OWN_PARTITION_MIN_ROWS = 1 if bulk else 50_000
    scenario, _region, west, east, accounts = grid

    allocation_run(scenario=scenario)
    assert kept()[west.pk][1] == 1 and kept()[east.pk][1] == 2
    assert_digests_exact()

    # a boundary change moves A4 into W: one row opens (INSERT through the parent)
    territory_boundary_set(territory=west, boundary=MultiPolygon(*square(0, 0), *square(4.5, 4.5), srid=4326))
    allocation_run(scenario=scenario)
    assert kept()[west.pk][1] == 2
    assert_digests_exact()

    # an override changes A2's source and territory: a row closes (UPDATE) and one opens
    override_create(scenario=scenario, account=accounts["A2"], territory=west)
    assert AccountAssignment.objects.get(account=accounts["A2"], valid_to__isnull=True).source == "override"
    assert_digests_exact()

    # rows written and closed by the ORM, one at a time
    manual = AccountAssignment.objects.create(
        scenario=scenario, account=accounts["A5"], territory=east, source="manual", valid_from=timezone.now()
    )
    assert_digests_exact()
    manual.valid_to = manual.valid_from + dt.timedelta(seconds=1)
    manual.save()
    assert_digests_exact()

    clone = scenario_clone(scenario=scenario, name="Copy")
    assert {scenario_id for scenario_id, _rows, _digest in kept().values()} == {scenario.pk, clone.pk}
    assert_digests_exact()

    accounts["A1"].delete()  # cascades to its assignments in both scenarios
    assert_digests_exact()

    territory_delete(territory=east)
    assert east.pk not in kept()
    assert_digests_exact()

    clone.delete()
    assert {scenario_id for scenario_id, _rows, _digest in kept().values()} == {scenario.pk}
    assert_digests_exact()

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_accountassignment")
    assert kept() == {}


def test_an_update_that_leaves_the_rows_in_force_as_they_were_appends_nothing(grid):
    scenario, *_ = grid
    allocation_run(scenario=scenario)
    before = TerritoryAssignmentDigest.objects.count()
    AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).update(reason="Checked by hand")
    assert TerritoryAssignmentDigest.objects.count() == before
    assert_digests_exact()


def test_a_full_run_folds_the_appended_rows_into_one_per_territory(grid):
    scenario, _region, west, east, accounts = grid
    allocation_run(scenario=scenario)
    for account in ("A1", "A2"):  # two statements, each appending rows
        AccountAssignment.objects.filter(account=accounts[account], valid_to__isnull=True).update(source="manual")
    assert TerritoryAssignmentDigest.objects.filter(territory=west).count() > 1

    allocation_run(scenario=scenario)  # puts the boundary's source back: its writes append rows after the fold
    run = allocation_run(scenario=scenario)

    assert run.summary["changed"] == 0 and run.summary["unchanged"] == 3
    assert TerritoryAssignmentDigest.objects.filter(territory=west).count() == 1
    assert TerritoryAssignmentDigest.objects.filter(territory=east).count() == 1
    assert_digests_exact()


def test_an_incremental_run_folds_rows_that_edits_have_piled_up(grid, monkeypatch):
    monkeypatch.setattr(assignment_digests, "FOLD_SLACK_ROWS", 0)
    scenario, _region, west, east, accounts = grid
    allocation_run(scenario=scenario)
    for source in ["manual", "import", "manual", "import"]:  # four statements, each appending a row for W
        AccountAssignment.objects.filter(account=accounts["A1"], valid_to__isnull=True).update(source=source)
    assert TerritoryAssignmentDigest.objects.filter(scenario=scenario).count() > 2 * 2

    allocation_run(scenario=scenario, account_ids=[accounts["A2"].pk])  # nothing to change for A2

    assert TerritoryAssignmentDigest.objects.filter(scenario=scenario).count() == 2
    assert_digests_exact()


@pytest.mark.django_db(transaction=True)
def test_two_writers_in_one_territory_do_not_wait_for_each_other(grid):
    scenario, _region, west, _east, accounts = grid
    AccountFactory(external_id="A6", location=Point(0.3, 0.3, srid=4326))
    allocation_run(scenario=scenario)
    other = connections.create_connection("default")
    try:
        with transaction.atomic():  # the first writer has changed W and not committed
            AccountAssignment.objects.filter(account=accounts["A1"], valid_to__isnull=True).update(source="manual")
            with other.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")  # would fail if the second writer had to wait
                cursor.execute(
                    "UPDATE accounts_accountassignment SET source = 'manual' WHERE territory_id = %s"
                    " AND valid_to IS NULL AND account_id <> %s",
                    [west.pk, accounts["A1"].pk],
                )
                assert cursor.rowcount == 1
    finally:
        other.close()
    assert kept()[west.pk][1] == 2
    assert_digests_exact()


def test_a_territory_that_loses_all_its_accounts_loses_its_digest(grid):
    scenario, _region, west, east, _accounts = grid
    allocation_run(scenario=scenario)
    assert west.pk in kept()

    territory_boundary_set(territory=west, boundary=MultiPolygon(*square(10, 10), srid=4326))
    run = allocation_run(scenario=scenario)

    assert run.summary["newly_unassigned"] == 1
    assert west.pk not in kept() and kept()[east.pk][1] == 2
    assert_digests_exact()


def test_a_full_run_joins_only_the_territories_whose_digests_differ(grid, monkeypatch):
    scenario, _region, west, east, accounts = grid
    AccountFactory(external_id="A6", location=Point(1.5, 0.7, srid=4326))
    AccountFactory(external_id="A7", location=Point(1.2, 0.4, srid=4326))
    allocation_run(scenario=scenario)
    territory_boundary_set(territory=west, boundary=MultiPolygon(*square(0, 0), *square(4.5, 4.5), srid=4326))

    with CaptureQueriesContext(connection) as queries:
        filtered = allocation_preview(scenario=scenario).summary
    # only W changes (it gains A4); E's four accounts stay out of the join
    assert f"c.territory_id = ANY(ARRAY[{west.pk}]::bigint[])" in diff_statement(queries.captured_queries)

    monkeypatch.setattr(allocation, "DIGEST_FILTER_MAX_SHARE", -1)  # every territory counts as changed
    with CaptureQueriesContext(connection) as queries:
        joined_all = allocation_preview(scenario=scenario).summary
    assert "ANY(ARRAY" not in diff_statement(queries.captured_queries)

    ignore = {"timings", "seconds"}
    assert {k: v for k, v in filtered.items() if k not in ignore} == {
        k: v for k, v in joined_all.items() if k not in ignore
    }
    assert filtered["newly_assigned"] == 1 and filtered["unchanged"] == 5
    assert filtered["moves"] == [{"from": None, "to": "W", "accounts": 1}]

    monkeypatch.undo()
    run = allocation_run(scenario=scenario)
    assert run.summary["inserted"] == 1
    assert AccountAssignment.objects.get(account=accounts["A4"], valid_to__isnull=True).territory == west
    assert_digests_exact()


def test_a_full_run_with_nothing_changed_joins_nothing(grid):
    scenario, _region, _west, _east, _accounts = grid
    allocation_run(scenario=scenario)

    with CaptureQueriesContext(connection) as queries:
        run = allocation_run(scenario=scenario)

    assert "c.valid_to IS NULL  AND FALSE" in diff_statement(queries.captured_queries)
    assert run.summary["changed"] == 0 and run.summary["unchanged"] == run.summary["assigned_before"] == 3


def test_the_allocation_hashes_its_result_as_the_triggers_hash_assignments(db):
    """The allocation hashes its rows with source code 0: the code of the source its rule and override give.
    Any other source has a number of its own."""
    with connection.cursor() as cursor:
        for rule_id, override_id in [(None, None), (7, None), (None, 9), (7, 9)]:
            cursor.execute(
                f"SELECT accounts_assignment_source_code({source_sql('x')}, x.rule_id, x.override_id)"
                " FROM (SELECT %s::bigint AS rule_id, %s::bigint AS override_id) x",
                [rule_id, override_id],
            )
            assert cursor.fetchone()[0] == 0
            cursor.execute(
                "SELECT count(DISTINCT code), min(code) FROM ("
                "  SELECT accounts_assignment_source_code(s, %s, %s) AS code FROM unnest(%s::text[]) s) codes",
                [rule_id, override_id, AccountAssignment.Source.values],
            )
            assert cursor.fetchone() == (len(AccountAssignment.Source.values), 0)


def test_a_changed_source_alone_changes_the_digest(grid):
    """A row moved on the map keeps its territory but not its source: the next run puts the boundary's reason
    back, so that territory must count as changed."""
    scenario, _region, west, _east, accounts = grid
    allocation_run(scenario=scenario)
    AccountAssignment.objects.filter(account=accounts["A1"], valid_to__isnull=True).update(source="manual")
    assert_digests_exact()

    with CaptureQueriesContext(connection) as queries:
        run = allocation_run(scenario=scenario)

    assert f"ANY(ARRAY[{west.pk}]::bigint[])" in diff_statement(queries.captured_queries)
    assert run.summary["unchanged"] == 3 and run.summary["inserted"] == 1
    assert AccountAssignment.objects.get(account=accounts["A1"], valid_to__isnull=True).source == "geography"
    assert_digests_exact()
