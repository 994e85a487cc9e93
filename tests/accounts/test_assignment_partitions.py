"""Bulk assignment writes into a scenario's own partition: same rows as the ordinary path, history kept, clones,
deletes, and the fallback when the swap cannot have its locks. The row threshold is lowered so a few accounts
take the bulk path."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from accounts.models import AccountAssignment
from accounts.services import assignment_partitions
from accounts.services.allocation import allocation_run
from accounts.services.assignment_partitions import DEFAULT_PARTITION, own_partition_name
from territories.services.scenarios import scenario_clone

pytestmark = pytest.mark.django_db


@pytest.fixture
def bulk(settings):
    settings.ASSIGNMENT_OWN_PARTITION_MIN_ROWS = 1


def partition_rows(scenario) -> dict[str, list[tuple]]:
    """Each partition holding the scenario's rows → (account external id, territory code, current?)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT x.tableoid::regclass::text, a.external_id, t.code, x.valid_to IS NULL
            FROM accounts_accountassignment x
            JOIN accounts_account a ON a.id = x.account_id JOIN territories_territory t ON t.id = x.territory_id
            WHERE x.scenario_id = %s ORDER BY 1, 2, 4
            """,
            [scenario.pk],
        )
        rows = {}
        for partition, *row in cursor.fetchall():
            rows.setdefault(partition, []).append(tuple(row))
        return rows


def partition_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def test_a_first_full_run_writes_the_scenario_partition_and_takes_its_history_along(grid, bulk):
    scenario, _region, west, _east, accounts = grid
    earlier = timezone.now() - dt.timedelta(days=30)
    AccountAssignment.objects.create(scenario=scenario, account=accounts["A4"], territory=west, source="manual",
                                     valid_from=earlier, valid_to=earlier + dt.timedelta(days=1))
    assert set(partition_rows(scenario)) == {DEFAULT_PARTITION}

    run = allocation_run(scenario=scenario)

    assert run.summary["inserted"] == 3
    assert partition_rows(scenario) == {
        own_partition_name(scenario.pk): [("A1", "W", True), ("A2", "E", True), ("A3", "E", True), ("A4", "W", False)]
    }
    # the parent's indexes came along: a current row per account and territory stays unique
    with pytest.raises(IntegrityError, match="duplicate key"), connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            "INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source,"
            " reason) VALUES (%s, %s, %s, now(), 'manual', '')",
            [scenario.pk, accounts["A1"].pk, west.pk],
        )
    # later writes of any kind go to the same partition, through the ordinary path
    second = allocation_run(scenario=scenario, account_ids=[accounts["A1"].pk])
    assert second.summary["changed"] == 0
    assert AccountAssignment.objects.filter(scenario=scenario, valid_to__isnull=True).count() == 3


def test_a_run_into_an_emptied_scenario_replaces_its_partition_and_loses_nothing(grid, bulk):
    scenario, _region, _west, _east, accounts = grid
    allocation_run(scenario=scenario)
    AccountAssignment.objects.filter(scenario=scenario).update(valid_to=timezone.now())  # all closed
    allocation_run(scenario=scenario)
    rows = partition_rows(scenario)
    assert list(rows) == [own_partition_name(scenario.pk)]
    assert rows[own_partition_name(scenario.pk)] == [
        ("A1", "W", False), ("A1", "W", True), ("A2", "E", False), ("A2", "E", True), ("A3", "E", False),
        ("A3", "E", True),
    ]


def test_a_large_clone_gets_its_own_partition_and_a_deleted_scenario_takes_it_away(grid, bulk):
    scenario, *_ = grid
    allocation_run(scenario=scenario)
    clone = scenario_clone(scenario=scenario, name="Copy")
    assert partition_rows(clone) == {
        own_partition_name(clone.pk): [("A1", "W", True), ("A2", "E", True), ("A3", "E", True)]
    }
    clone_partition = own_partition_name(clone.pk)
    clone.delete()
    assert not partition_exists(clone_partition)
    assert partition_exists(own_partition_name(scenario.pk))


def test_small_writes_stay_in_the_shared_partition(grid, settings):
    settings.ASSIGNMENT_OWN_PARTITION_MIN_ROWS = 4
    scenario, *_ = grid
    allocation_run(scenario=scenario)  # three rows
    assert set(partition_rows(scenario)) == {DEFAULT_PARTITION}


def test_when_the_swap_cannot_lock_the_rows_go_in_the_ordinary_way(grid, bulk, monkeypatch):
    monkeypatch.setattr(assignment_partitions, "SWAP_LOCK_TIMEOUT", "200ms")
    scenario, *_ = grid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # a long reader of the shared partition: attaching would have to wait
            cursor.execute("BEGIN")
            cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS SHARE MODE")
            run = allocation_run(scenario=scenario)
    finally:
        other.close()
    assert run.summary["inserted"] == 3
    assert partition_rows(scenario) == {DEFAULT_PARTITION: [("A1", "W", True), ("A2", "E", True), ("A3", "E", True)]}
    assert not partition_exists(own_partition_name(scenario.pk))
    assert not partition_exists(own_partition_name(scenario.pk) + "_new")
