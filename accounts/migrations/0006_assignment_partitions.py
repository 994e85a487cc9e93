"""Assignments partitioned by scenario (LIST on scenario_id) so a scenario written in bulk can have its own partition.

Every scenario starts in the default partition. A write of many rows into a scenario that has none in force (a
first allocation, a clone) builds that scenario's own partition as a plain table, indexes it in bulk, and attaches
it (accounts.services.assignment_partitions): index builds after the rows are in cost a fraction of a million
random btree inserts. Django sees one table; the primary key includes the partition key, as PostgreSQL requires.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE accounts_accountassignment RENAME TO accounts_accountassignment_single;
ALTER SEQUENCE accounts_accountassignment_id_seq RENAME TO accounts_accountassignment_single_id_seq;
ALTER INDEX accounts_accountassignment_pkey RENAME TO accounts_accountassignment_single_pkey;
ALTER INDEX assignment_territory RENAME TO assignment_territory_single;
ALTER INDEX assignment_account_hist RENAME TO assignment_account_hist_single;
ALTER INDEX one_current_assignment_per_account_territory RENAME TO one_current_assignment_single;
ALTER INDEX assignment_rule RENAME TO assignment_rule_single;
ALTER INDEX assignment_override RENAME TO assignment_override_single;

CREATE TABLE accounts_accountassignment (
    LIKE accounts_accountassignment_single INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,
    CONSTRAINT accounts_accountassignment_pkey PRIMARY KEY (id, scenario_id)
) PARTITION BY LIST (scenario_id);
CREATE TABLE accounts_accountassignment_default PARTITION OF accounts_accountassignment DEFAULT;
CREATE INDEX assignment_territory ON accounts_accountassignment (territory_id, valid_to);
CREATE INDEX assignment_account_hist ON accounts_accountassignment (account_id, valid_from);
CREATE UNIQUE INDEX one_current_assignment_per_account_territory
    ON accounts_accountassignment (scenario_id, account_id, territory_id) WHERE valid_to IS NULL;
CREATE INDEX assignment_rule ON accounts_accountassignment (rule_id) WHERE rule_id IS NOT NULL;
CREATE INDEX assignment_override ON accounts_accountassignment (override_id) WHERE override_id IS NOT NULL;

INSERT INTO accounts_accountassignment SELECT * FROM accounts_accountassignment_single;
SELECT setval(pg_get_serial_sequence('accounts_accountassignment', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM accounts_accountassignment), false);
ALTER TABLE accounts_accountassignment ALTER COLUMN id SET CACHE 1000;
DROP TABLE accounts_accountassignment_single;

-- A deleted scenario takes its own partition with it (its rows are gone by then: Django deletes them first).
CREATE FUNCTION accounts_assignment_partition_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', 'accounts_accountassignment_s' || OLD.id);
    RETURN NULL;
END $$;
CREATE TRIGGER scenario_assignment_partition_drop AFTER DELETE ON territories_scenario
    FOR EACH ROW EXECUTE FUNCTION accounts_assignment_partition_drop();
"""

# Going back keeps the partitioned table (Django reads and writes it the same way) and stops dropping partitions.
BACKWARD = """
DROP TRIGGER IF EXISTS scenario_assignment_partition_drop ON territories_scenario;
DROP FUNCTION IF EXISTS accounts_assignment_partition_drop();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_assignment_one_territory_index"),
        ("territories", "0004_scenario_optimizer_report"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
