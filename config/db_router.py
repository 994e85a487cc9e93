"""Read-heavy selectors may read from a PostgreSQL replica (DATABASE_REPLICA_URL); everything else uses the primary.

Reading from a replica is opt-in, per call site, because a replica lags behind the primary: a page that has just
written something must read it back from the primary. Wrap the read in `using_replica()`:

    with using_replica():
        accounts = list(rep_book(rep=rep)[:100])          # ORM reads go through ReadReplicaRouter

    with using_replica(), read_connection().cursor() as cursor:   # raw SQL asks for the connection itself
        cursor.execute(TILE_SQL, params)

or decorate a view or selector with `@using_replica()`. Without a replica configured, or inside a transaction on
the primary (which may hold writes the replica has not seen), reads stay on the primary. Writes always go to
the primary, and only the primary is migrated.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"
_replica_wanted: ContextVar[bool] = ContextVar("replica_wanted", default=False)


@contextmanager
def using_replica():
    """Reads inside this block (this thread or task only) may go to the replica. Usable as a decorator."""
    token = _replica_wanted.set(True)
    try:
        yield
    finally:
        _replica_wanted.reset(token)


def read_alias() -> str:
    """The database alias a read should use right now: the replica only when asked for, configured, and safe."""
    if not _replica_wanted.get() or REPLICA_ALIAS not in settings.DATABASES:
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:  # read your own uncommitted writes from the primary
        return DEFAULT_DB_ALIAS
    return REPLICA_ALIAS


def read_connection():
    """The connection for a raw-SQL read (see read_alias)."""
    return connections[read_alias()]


class ReadReplicaRouter:
    """Reads go where read_alias() says (the primary unless a caller opted in); writes and migrations to the
    primary."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, copied: an object read from the replica is the primary's object

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
