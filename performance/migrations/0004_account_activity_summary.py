"""The per-account summary the rep's book sorts by, kept by statement-level triggers (see the model's docstring).

The trigger functions recompute the summary rows of the accounts a statement touched from the source tables, so
inserts, updates, deletes and bulk loads of activities and opportunities all keep it exact; a TRUNCATE of a source
table clears its half of the summary. The visit kinds are reps.coverage.VISIT_KINDS and the closed stages those
Opportunity.is_open excludes (tests/performance/test_account_summary.py checks both against the ORM).
"""

import django.db.models.deletion
from django.db import migrations, models


VISIT_KINDS = "ARRAY['visit', 'meeting']"
CLOSED_STAGES = "ARRAY['won', 'lost']"

# {source} is the transition table(s) naming the touched accounts.
LAST_VISIT_REFRESH = f"""
    INSERT INTO performance_accountactivitysummary
        (account_id, last_visit_at, open_opportunities, open_amount, next_close_date)
    SELECT touched.account_id,
           (SELECT max(act.occurred_at) FROM performance_activity act
             WHERE act.account_id = touched.account_id AND act.kind = ANY({VISIT_KINDS})),
           0, 0, NULL
    FROM (SELECT DISTINCT account_id FROM ({{source}}) s) touched
    JOIN accounts_account account ON account.id = touched.account_id
    ON CONFLICT (account_id) DO UPDATE SET last_visit_at = EXCLUDED.last_visit_at
"""
OPEN_REFRESH = f"""
    INSERT INTO performance_accountactivitysummary
        (account_id, last_visit_at, open_opportunities, open_amount, next_close_date)
    SELECT touched.account_id, NULL, coalesce(open.n, 0), coalesce(open.amount, 0), open.next_close
    FROM (SELECT DISTINCT account_id FROM ({{source}}) s) touched
    JOIN accounts_account account ON account.id = touched.account_id
    LEFT JOIN LATERAL (
        SELECT count(*) AS n, sum(o.amount) AS amount, min(o.close_date) AS next_close
        FROM performance_opportunity o
        WHERE o.account_id = touched.account_id AND NOT (o.stage = ANY({CLOSED_STAGES}))
    ) open ON true
    ON CONFLICT (account_id) DO UPDATE SET open_opportunities = EXCLUDED.open_opportunities,
        open_amount = EXCLUDED.open_amount, next_close_date = EXCLUDED.next_close_date
"""


def _function(name: str, body_by_operation: dict[str, str]) -> str:
    branches = "".join(
        f"    {'IF' if index == 0 else 'ELSIF'} TG_OP = '{operation}' THEN\n{body};\n"
        for index, (operation, body) in enumerate(body_by_operation.items())
    )
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{branches}    END IF;
    RETURN NULL;
END $$;"""


# An insert of activities can only make the last visit later: one grouped pass over the new rows, no lookups.
ACTIVITY_INSERT = f"""
    INSERT INTO performance_accountactivitysummary
        (account_id, last_visit_at, open_opportunities, open_amount, next_close_date)
    SELECT n.account_id, max(n.occurred_at), 0, 0, NULL
    FROM new_rows n JOIN accounts_account account ON account.id = n.account_id
    WHERE n.kind = ANY({VISIT_KINDS})
    GROUP BY n.account_id
    ON CONFLICT (account_id) DO UPDATE SET last_visit_at =
        GREATEST(performance_accountactivitysummary.last_visit_at, EXCLUDED.last_visit_at)
"""

CREATE_SQL = "\n".join(
    [
        _function(
            "performance_activity_summary_refresh",
            {
                "INSERT": ACTIVITY_INSERT,
                "UPDATE": LAST_VISIT_REFRESH.format(
                    source="SELECT account_id FROM old_rows UNION ALL SELECT account_id FROM new_rows"
                ),
                "DELETE": LAST_VISIT_REFRESH.format(source="SELECT account_id FROM old_rows"),
            },
        ),
        _function(
            "performance_opportunity_summary_refresh",
            {
                "INSERT": OPEN_REFRESH.format(source="SELECT account_id FROM new_rows"),
                "UPDATE": OPEN_REFRESH.format(
                    source="SELECT account_id FROM old_rows UNION ALL SELECT account_id FROM new_rows"
                ),
                "DELETE": OPEN_REFRESH.format(source="SELECT account_id FROM old_rows"),
            },
        ),
        """
CREATE FUNCTION performance_summary_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'performance_activity' THEN
        UPDATE performance_accountactivitysummary SET last_visit_at = NULL WHERE last_visit_at IS NOT NULL;
    ELSE
        UPDATE performance_accountactivitysummary SET open_opportunities = 0, open_amount = 0, next_close_date = NULL
        WHERE open_opportunities <> 0 OR next_close_date IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;""",
    ]
)
for table, function in (
    ("performance_activity", "performance_activity_summary_refresh"),
    ("performance_opportunity", "performance_opportunity_summary_refresh"),
):
    CREATE_SQL += f"""
CREATE TRIGGER {table}_summary_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_summary_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_summary_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_summary_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION performance_summary_truncated();"""

# Django deletes an account's activities and its summary row in no fixed order, and deleting the activities
# re-creates the row; a database-level ON DELETE CASCADE removes it with the account, whatever the order.
# The field is declared without a database constraint and this one, with ON DELETE CASCADE, stands in for it:
# Django deletes an account's activities and its summary row in no fixed order, and deleting the activities
# re-creates the row; the database removes it with the account, whatever the order.
CASCADE_SQL = """
ALTER TABLE performance_accountactivitysummary ADD CONSTRAINT performance_summary_account_cascade
    FOREIGN KEY (account_id) REFERENCES accounts_account (id) ON DELETE CASCADE;
"""

BACKFILL_SQL = f"""
INSERT INTO performance_accountactivitysummary
    (account_id, last_visit_at, open_opportunities, open_amount, next_close_date)
SELECT account_id, max(last_visit_at), sum(open_opportunities), sum(open_amount), min(next_close_date)
FROM (
    SELECT account_id, max(occurred_at) AS last_visit_at, 0 AS open_opportunities, 0 AS open_amount,
           NULL::date AS next_close_date
    FROM performance_activity WHERE kind = ANY({VISIT_KINDS}) GROUP BY account_id
    UNION ALL
    SELECT account_id, NULL, count(*), sum(amount), min(close_date)
    FROM performance_opportunity WHERE NOT (stage = ANY({CLOSED_STAGES})) GROUP BY account_id
) parts
GROUP BY account_id;
ANALYZE performance_accountactivitysummary;
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS performance_activity_summary_insert ON performance_activity;
DROP TRIGGER IF EXISTS performance_activity_summary_update ON performance_activity;
DROP TRIGGER IF EXISTS performance_activity_summary_delete ON performance_activity;
DROP TRIGGER IF EXISTS performance_activity_summary_truncate ON performance_activity;
DROP TRIGGER IF EXISTS performance_opportunity_summary_insert ON performance_opportunity;
DROP TRIGGER IF EXISTS performance_opportunity_summary_update ON performance_opportunity;
DROP TRIGGER IF EXISTS performance_opportunity_summary_delete ON performance_opportunity;
DROP TRIGGER IF EXISTS performance_opportunity_summary_truncate ON performance_opportunity;
DROP FUNCTION IF EXISTS performance_activity_summary_refresh();
DROP FUNCTION IF EXISTS performance_opportunity_summary_refresh();
DROP FUNCTION IF EXISTS performance_summary_truncated();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_account_fewer_indexes"),
        ("performance", "0003_kpi_recompute_schedule"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountActivitySummary",
            fields=[
                (
                    "account",
                    models.OneToOneField(
                        db_constraint=False, on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="activity_summary",
                        serialize=False,
                        to="accounts.account",
                    ),
                ),
                ("last_visit_at", models.DateTimeField(null=True)),
                ("open_opportunities", models.IntegerField(default=0)),
                ("open_amount", models.DecimalField(decimal_places=2, default=0, max_digits=16)),
                ("next_close_date", models.DateField(null=True)),
            ],
            options={
                "verbose_name_plural": "account activity summaries",
            },
        ),
        migrations.RunSQL(CASCADE_SQL + CREATE_SQL + BACKFILL_SQL, DROP_SQL),
    ]
