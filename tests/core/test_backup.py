"""The documented backup and restore scripts bring back the same alignment in a fresh database."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.factories import AccountAssignmentFactory, TerritoryFactory

ROOT = Path(__file__).resolve().parents[2]

ALIGNMENT_SQL = """
    SELECT a.external_id, t.code, ST_AsText(t.boundary), s.name, s.status
    FROM accounts_accountassignment aa
    JOIN accounts_account a ON a.id = aa.account_id
    JOIN territories_territory t ON t.id = aa.territory_id
    JOIN territories_scenario s ON s.id = aa.scenario_id
    WHERE aa.valid_to IS NULL ORDER BY 1
"""


def _url(name: str) -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_the_same_alignment(tmp_path):
    territory = TerritoryFactory(name="North", code="N-01", scenario__status="active")
    for _ in range(3):
        AccountAssignmentFactory(territory=territory)
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
    dump = tmp_path / "backup.dump"
    env = {**os.environ, "DATABASE_URL": _url(source)}
    subprocess.run(["bash", "scripts/backup.sh", str(dump)], cwd=ROOT, env=env, check=True, capture_output=True)
    try:
        result = subprocess.run(["bash", "scripts/restore.sh", str(dump), _url(restored)], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        with connection.cursor() as cursor:
            cursor.execute(ALIGNMENT_SQL)
            original = cursor.fetchall()
        with psycopg.connect(_url(restored)) as copy:
            copied = copy.execute(ALIGNMENT_SQL).fetchall()
        assert len(original) == 3
        assert copied == original
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
