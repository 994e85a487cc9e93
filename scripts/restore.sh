#!/usr/bin/env bash
# Restore a backup into a NEW database:  scripts/restore.sh FILE NEW_DATABASE_URL
# The new database is created from template1, which already has PostGIS (bootstrap puts it there),
# so the dump's own CREATE EXTENSION entries are skipped and a non-superuser can restore.
set -euo pipefail
file=$1
target=${2/#postgis:/postgresql:}
name=${target##*/}
name=${name%%\?*}
server=${target%/*}/postgres
psql -qAt --dbname="$server" -c "create database \"$name\" template template1" >/dev/null
toc=$(mktemp)
trap 'rm -f "$toc"' EXIT
# PostGIS's own rows (spatial_ref_sys) come with the extension in template1.
pg_restore --list "$file" | grep -v -e ' EXTENSION ' -e ' spatial_ref_sys ' >"$toc"
pg_restore --no-owner --exit-on-error --use-list="$toc" --dbname="$target" "$file"
echo "restored $file into $name"
