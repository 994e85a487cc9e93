"""The read replica is opt-in: only reads inside using_replica() go there, never writes, never inside a transaction."""

import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from accounts.models import Account
from config.db_router import REPLICA_ALIAS, ReadReplicaRouter, read_alias, using_replica

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
router = ReadReplicaRouter()


@pytest.fixture
def with_replica(settings):
    settings.DATABASES = {**settings.DATABASES, REPLICA_ALIAS: {**settings.DATABASES[DEFAULT_DB_ALIAS]}}
    return settings


def test_reads_stay_on_the_primary_unless_a_caller_opts_in(with_replica):
    assert router.db_for_read(Account) == DEFAULT_DB_ALIAS
    with using_replica():
        assert router.db_for_read(Account) == REPLICA_ALIAS
        assert read_alias() == REPLICA_ALIAS
        assert router.db_for_write(Account) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Account) == DEFAULT_DB_ALIAS


def test_using_replica_works_as_a_decorator_and_nests(with_replica):
    @using_replica()
    def selector():
        with using_replica():
            inner = read_alias()
        return inner, read_alias()

    assert selector() == (REPLICA_ALIAS, REPLICA_ALIAS)
    assert read_alias() == DEFAULT_DB_ALIAS


def test_without_a_replica_configured_everything_reads_the_primary(settings):
    settings.DATABASES = {DEFAULT_DB_ALIAS: settings.DATABASES[DEFAULT_DB_ALIAS]}
    with using_replica():
        assert router.db_for_read(Account) == DEFAULT_DB_ALIAS


def test_the_choice_does_not_leak_into_other_threads(with_replica):
    seen = []
    with using_replica():
        thread = threading.Thread(target=lambda: seen.append(read_alias()))
        thread.start()
        thread.join()
    assert seen == [DEFAULT_DB_ALIAS]


@pytest.mark.django_db
def test_inside_a_transaction_reads_see_its_own_writes_on_the_primary(with_replica):
    assert connections[DEFAULT_DB_ALIAS].in_atomic_block  # the test's transaction
    with using_replica():
        assert router.db_for_read(Account) == DEFAULT_DB_ALIAS


def test_only_the_primary_is_migrated():
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "accounts")
    assert not router.allow_migrate(REPLICA_ALIAS, "accounts")


@pytest.mark.django_db
def test_the_book_page_reads_through_the_replica_context(api_client, rep_user, monkeypatch):
    import reps.api.views as views

    entered = []

    class Recording:
        def __enter__(self):
            entered.append(read_alias())

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(views, "using_replica", Recording)
    api_client.force_authenticate(rep_user)
    assert api_client.get("/api/v1/me/accounts/").status_code == 200
    assert entered == [DEFAULT_DB_ALIAS]
