#!/usr/bin/env bash
# One set-up for every entry point: system packages, Python environment, PostGIS and Redis, migrations.
#   scripts/bootstrap.sh setup   set up only (used by `make test`, `make bench-*`)
#   scripts/bootstrap.sh demo    set up, load the demo data once, serve web + worker + beat
# Idempotent: a second run finds everything in place and only checks it.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-setup}
VENV=${VENV:-$ROOT/.venv}
PYTHON_BIN=${PYTHON_BIN:-python3.11}
APP_DB_URL_DEFAULT="postgis://territory:territory@127.0.0.1:5432/territory"
REDIS_URL_DEFAULT="redis://127.0.0.1:6379/0"
SYSTEM_PACKAGES=(libgdal32 libgeos-c1v5 libproj25 postgresql-15-postgis-3)
# The test command also needs a browser for Playwright and docker-compose to validate docker-compose.yml.
[[ "${WITH_TEST_TOOLS:-0}" == 1 ]] && SYSTEM_PACKAGES+=(chromium docker-compose)

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

ensure_system_packages() {
  local missing=()
  for package in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "missing system packages; install them with: sudo apt-get install -y ${missing[*]}"
  fi
  say "Installing system packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get could not install ${missing[*]}; run it by hand to see why"
}

ensure_python_environment() {
  command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found; install Python 3.11 (apt-get install python3.11-venv)"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "" 2>/dev/null; then
    say "Creating the Python environment in $VENV"
    rm -rf "$VENV"
    "$PYTHON_BIN" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3.11-venv)"
  fi
  local wanted stamp="$VENV/.requirements.sha256"
  wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    say "Installing Python requirements"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored: it is neither" || true
    "$VENV/bin/python" -c "import django, rest_framework, celery" || die "Python requirements did not install"
    echo "$wanted" >"$stamp"
  fi
}

STARTED_POSTGRES=""
STARTED_REDIS=""

ensure_postgres() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    return 0  # an operator-provided database: check it, never create or start anything
  fi
  export DATABASE_URL="$APP_DB_URL_DEFAULT"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not running on 127.0.0.1:5432 and is not installed (apt-get install postgresql-15)"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    say "Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || die "could not start PostgreSQL $version"
    STARTED_POSTGRES=$version
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  local admin=(psql -h 127.0.0.1 -p 5432 -U "${PGADMIN_USER:-postgres}" -v ON_ERROR_STOP=1 -qAt)
  "${admin[@]}" -d postgres -c "select 1" >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL on 127.0.0.1:5432 as ${PGADMIN_USER:-postgres}; set DATABASE_URL to a PostGIS database you own"
  if [[ -z $("${admin[@]}" -d postgres -c "select 1 from pg_roles where rolname='territory'") ]]; then
    say "Creating database role territory"
    "${admin[@]}" -d postgres -c "create role territory login password 'territory' createdb"
  fi
  if [[ -z $("${admin[@]}" -d postgres -c "select 1 from pg_database where datname='territory'") ]]; then
    say "Creating database territory"
    "${admin[@]}" -d postgres -c "create database territory owner territory"
  fi
  # In template1 too, so that test databases are born with PostGIS.
  for database in template1 territory; do
    "${admin[@]}" -d "$database" -c "create extension if not exists postgis" >/dev/null \
      || die "could not create the postgis extension in $database (is postgresql-15-postgis-3 installed?)"
  done
}

ensure_redis() {
  if [[ -n "${REDIS_URL:-}" ]]; then
    return 0
  fi
  export REDIS_URL="$REDIS_URL_DEFAULT"
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    command -v redis-server >/dev/null || die "Redis is not running on 127.0.0.1:6379 and is not installed (apt-get install redis-server)"
    say "Starting Redis on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --pidfile "$ROOT/.redis.pid" --logfile "$ROOT/.redis.log" || die "could not start redis-server"
    STARTED_REDIS=1
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
}

stop_what_we_started() {
  if [[ -n "$STARTED_REDIS" ]]; then redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true; fi
  if [[ -n "$STARTED_POSTGRES" ]]; then pg_ctlcluster --skip-systemctl-redirect "$STARTED_POSTGRES" main stop || true; fi
}

export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}

ensure_system_packages
ensure_python_environment
ensure_postgres
ensure_redis
"$VENV/bin/python" scripts/preflight.py || exit 1
"$VENV/bin/python" manage.py migrate --noinput -v 0

case "$MODE" in
  setup) ;;
  demo)
    trap stop_what_we_started EXIT
    "$VENV/bin/python" manage.py seed_demo --if-empty ${SEED_ARGS:-}
    "$VENV/bin/python" manage.py collectstatic --noinput -v 0
    PORT=${PORT:-8000}
    cat <<MSG

  Territory Manager is starting on http://127.0.0.1:$PORT/
  Demo logins (password: demo-password):
    admin     admin (Django admin at /admin/)
    manager   sales manager (map workspace)
    rep       sales rep (their own accounts)
  Press Ctrl-C to stop the web server, worker and beat started here.

MSG
    PORT=$PORT "$VENV/bin/honcho" -f Procfile start
    ;;
  *) die "unknown mode $MODE (use setup or demo)" ;;
esac
