#!/usr/bin/env bash
# Back up the database to one file:  scripts/backup.sh [FILE]   (uses DATABASE_URL, or the default database)
set -euo pipefail
url=${DATABASE_URL:-postgis://territory:territory@127.0.0.1:5432/territory}
file=${1:-territory-$(date +%Y%m%d-%H%M%S).dump}
pg_dump --format=custom --no-owner --dbname="${url/#postgis:/postgresql:}" --file="$file"
echo "$file"
