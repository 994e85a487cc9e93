"""Drop the varchar_pattern_ops twin Django adds to the unique external_id index.

It serves only case-sensitive LIKE 'prefix%' queries and there are none (searches use iexact, i.e. UPPER()); every
imported row paid for maintaining it (~20% of a 200k-row import into a million accounts). Django drops such an
index with IF EXISTS should the field ever change, so removing it here is safe for later migrations.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_assignment_partitions")]

    operations = [
        migrations.RunSQL(
            "DROP INDEX IF EXISTS accounts_account_external_id_9b040868_like",
            "CREATE INDEX IF NOT EXISTS accounts_account_external_id_9b040868_like "
            "ON accounts_account (external_id varchar_pattern_ops)",
        )
    ]
