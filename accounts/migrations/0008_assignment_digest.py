"""Per-territory fingerprints of the assignments in force (accounts.models.TerritoryAssignmentDigest), appended to
by statement-level triggers on the assignment table so that a full allocation can skip the territories whose
assignments it would leave as they are.

accounts_assignment_key_hash() is the one definition of what an assignment's fingerprint covers (the columns the
allocation's diff compares besides the territory); the allocation hashes its result with the same function, with
source code 0: its rows' source follows from their rule and override (accounts_assignment_source_code).
The triggers sit on the partitioned parent: their transition tables hold the rows of every partition a statement
touched.
"""

import django.db.models.deletion
from django.db import migrations, models

DIGEST = "accounts_territoryassignmentdigest"

# {rows} is the transition-table query: (territory_id, scenario_id, sign, key hash) of rows in force. One row per
# territory whose rows in force the statement changed (an UPDATE of the reason alone changes none), appended.
APPLY = f"""
    INSERT INTO {DIGEST} (territory_id, scenario_id, rows, digest)
    SELECT territory_id, min(scenario_id), sum(sign), bit_xor(key_hash)
    FROM ({{rows}}) changed
    GROUP BY territory_id
    HAVING sum(sign) <> 0 OR bit_xor(key_hash) <> 0"""


def _in_force(table: str, sign: int) -> str:
    return (
        f"SELECT territory_id, scenario_id, {sign}::bigint AS sign, accounts_assignment_key_hash(account_id, "
        f"accounts_assignment_source_code(source, rule_id, override_id), rule_id, override_id) AS key_hash "
        f"FROM {table} WHERE valid_to IS NULL"
    )


CREATE_SQL = f"""
-- 0 when the source is the one an allocation gives a row with this rule and override (the override's, else the
-- rule's, else the boundary's), so the allocation hashes its result without a source; a number of its own otherwise.
CREATE FUNCTION accounts_assignment_source_code(source text, rule_id bigint, override_id bigint)
RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE
    WHEN source = CASE WHEN override_id IS NOT NULL THEN 'override' WHEN rule_id IS NULL THEN 'geography' ELSE 'rule' END
    THEN 0
    ELSE CASE source WHEN 'geography' THEN 1 WHEN 'rule' THEN 2 WHEN 'override' THEN 3 WHEN 'optimizer' THEN 4
                     WHEN 'manual' THEN 5 WHEN 'import' THEN 6 ELSE 7 + (hashtext(source) & 127) END
    END $$;

-- Distinct (source, rule, override) give distinct seeds while ids stay below 2^28 (rules) and 2^28 (overrides).
CREATE FUNCTION accounts_assignment_key_hash(account_id bigint, source_code int, rule_id bigint, override_id bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashint8extended(account_id,
                              source_code::bigint # (coalesce(rule_id, 0) << 8) # (coalesce(override_id, 0) << 36)) $$;

CREATE FUNCTION accounts_assignment_digest_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
{APPLY.format(rows=_in_force("new_rows", 1))};
    ELSIF TG_OP = 'UPDATE' THEN
{APPLY.format(rows=_in_force("new_rows", 1) + " UNION ALL " + _in_force("old_rows", -1))};
    ELSE
{APPLY.format(rows=_in_force("old_rows", -1))};
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION accounts_assignment_digest_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {DIGEST};
    RETURN NULL;
END $$;

CREATE TRIGGER accounts_assignment_digest_insert AFTER INSERT ON accounts_accountassignment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_assignment_digest_refresh();
CREATE TRIGGER accounts_assignment_digest_update AFTER UPDATE ON accounts_accountassignment
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_assignment_digest_refresh();
CREATE TRIGGER accounts_assignment_digest_delete AFTER DELETE ON accounts_accountassignment
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_assignment_digest_refresh();
CREATE TRIGGER accounts_assignment_digest_truncate AFTER TRUNCATE ON accounts_accountassignment
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_assignment_digest_truncated();

{APPLY.format(rows=_in_force("accounts_accountassignment", 1))};
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS accounts_assignment_digest_insert ON accounts_accountassignment;
DROP TRIGGER IF EXISTS accounts_assignment_digest_update ON accounts_accountassignment;
DROP TRIGGER IF EXISTS accounts_assignment_digest_delete ON accounts_accountassignment;
DROP TRIGGER IF EXISTS accounts_assignment_digest_truncate ON accounts_accountassignment;
DROP FUNCTION IF EXISTS accounts_assignment_digest_refresh();
DROP FUNCTION IF EXISTS accounts_assignment_digest_truncated();
DROP FUNCTION IF EXISTS accounts_assignment_key_hash(bigint, int, bigint, bigint);
DROP FUNCTION IF EXISTS accounts_assignment_source_code(text, bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_account_external_id_no_like_index"),
        ("territories", "0004_scenario_optimizer_report"),
    ]

    operations = [
        migrations.CreateModel(
            name="TerritoryAssignmentDigest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("rows", models.BigIntegerField()),
                ("digest", models.BigIntegerField()),
                (
                    "scenario",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="territories.scenario",
                    ),
                ),
                (
                    "territory",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="territories.territory",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(CREATE_SQL, DROP_SQL),
    ]
