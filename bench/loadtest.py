"""Load test: gunicorn serving the million-account data set, driven by 50 clients from a second process.

    .venv/bin/python bench/loadtest.py                      # 60 s against territory_bench_suite (built by make bench)
    .venv/bin/python bench/loadtest.py --seconds 20 --clients 50 --workers 3 --threads 4
    .venv/bin/python bench/loadtest.py --scale 0.01 --seconds 5   # the small data set (built when missing)

The server is `gunicorn config.wsgi` (gthread workers) with the production settings on loopback (DEBUG off,
DJANGO_SECURE_SSL_REDIRECT=false, a throw-away secret key) on the benchmark database; the jobs the writes queue
go to a private Celery queue that is emptied at the end. The driver is a separate process: --clients threads,
each with one keep-alive HTTP connection and its own API token (core.tokens.api_token_create). Reps (80% of the
clients) read their book (GET /api/v1/me/accounts/?page=n), open an account (GET /api/v1/accounts/<id>/) and
log activities (POST /api/v1/activities/); managers (20%) pan the map (GET account vector tiles at zooms 8-14
round real accounts, and the viewport's accounts at zoom 12+). Each client waits --think-ms (exponential
mean) between requests, as a person does; --think-ms 0 gives the saturation throughput instead.

Prints requests/s, p50, p95, p99 and errors per request type, the peak RSS of every gunicorn process and of the
driver, then one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    database_name_for_scale,
    database_url,
    django_setup,
    load_average,
    peak_rss_mb,
    percentile,
    process_cpu_seconds,
    process_peak_rss_mb,
    queue_purge,
)

READS = ("book", "account", "tile", "viewport")
MIX = {"rep": [("book", 0.45), ("account", 0.35), ("activity", 0.20)],
       "manager": [("tile", 0.8), ("viewport", 0.2)]}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--think-ms", type=float, default=2000, help="mean pause between a client's requests")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--scale", type=float, default=1.0, help="which data set (as bench/suite.py --scale)")
    parser.add_argument("--database", default=None)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--drive", default=None, help=argparse.SUPPRESS)  # internal: the driver process
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------------------------ fixtures
def prepare(args) -> dict:
    """Tokens for the clients, each rep client's account ids, tiles round real accounts; built on the data set."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from core.models import ApiToken
    from core.tokens import api_token_create
    from territories.models import Scenario

    users = get_user_model()
    ApiToken.objects.filter(name="loadtest").delete()
    scenario = Scenario.objects.get(name="Bench A")
    managers = max(1, args.clients // 5)
    rep_users = list(users.objects.filter(username__startswith="bench-rep-").order_by("username"))
    random.Random(7).shuffle(rep_users)
    manager = users.objects.get(username="bench-manager")
    clients = []
    for number in range(args.clients):
        if number < managers:
            clients.append({"role": "manager", "token": api_token_create(user=manager, name="loadtest")[1]})
            continue
        user = rep_users[(number - managers) % len(rep_users)]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT x.account_id FROM accounts_accountassignment x
                JOIN reps_repassignment r ON r.territory_id = x.territory_id AND r.valid_to IS NULL
                JOIN reps_rep rep ON rep.id = r.rep_id AND rep.user_id = %s
                WHERE x.scenario_id = %s AND x.valid_to IS NULL ORDER BY x.account_id LIMIT 300
                """,
                [user.pk, scenario.pk],
            )
            accounts = [row[0] for row in cursor.fetchall()]
        clients.append({"role": "rep", "token": api_token_create(user=user, name="loadtest")[1], "accounts": accounts})
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_X(location), ST_Y(location) FROM accounts_account WHERE id % 211 = 3 LIMIT 3000")
        anchors = cursor.fetchall()
    return {"scenario": scenario.pk, "clients": clients, "anchors": anchors}


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


# ------------------------------------------------------------------------------------------------ the driver
def drive(plan: dict, port: int, seconds: float, think_ms: float) -> dict:
    """The clients, in this (separate) process; returns latencies and errors per request type."""
    samples: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    start_at = time.monotonic() + 0.5
    deadline = start_at + seconds
    scenario = plan["scenario"]

    def request(connection, method, path, token, body=None):
        headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def client(number: int, spec: dict) -> None:
        rng = random.Random(number)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kinds, weights = zip(*MIX[spec["role"]], strict=True)
        time.sleep(max(0.0, start_at - time.monotonic()) + rng.random() * 0.2)
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            method, body = "GET", None
            if kind == "book":
                path = f"/api/v1/me/accounts/?page={rng.choice([1, 1, 1, 2, 3])}"
            elif kind == "account":
                path = f"/api/v1/accounts/{rng.choice(spec['accounts'])}/"
            elif kind == "activity":
                method, path = "POST", "/api/v1/activities/"
                body = {"account": rng.choice(spec["accounts"]), "kind": rng.choice(["call", "visit", "email"]),
                        "notes": "load test"}
            elif kind == "tile":
                z = rng.choice([8, 10, 11, 12, 13, 14])
                x, y = _tile_of(*rng.choice(plan["anchors"]), z)
                path = f"/workspace/api/scenarios/{scenario}/tiles/{z}/{x}/{y}.pbf"
            else:
                lon, lat = rng.choice(plan["anchors"])
                path = (f"/workspace/api/scenarios/{scenario}/accounts/?bbox={lon - 0.05:.4f},{lat - 0.03:.4f},"
                        f"{lon + 0.05:.4f},{lat + 0.03:.4f}")
            started = time.perf_counter()
            try:
                status = request(connection, method, path, spec["token"], body)
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if time.monotonic() <= deadline:
                    samples.setdefault(kind, []).append(elapsed)
                    if status not in (200, 201):
                        errors[kind] = errors.get(kind, 0) + 1
                        statuses[f"{kind} {status}"] = statuses.get(f"{kind} {status}", 0) + 1
            if think_ms:
                time.sleep(rng.expovariate(1000.0 / think_ms))
        connection.close()

    threads = [threading.Thread(target=client, args=(number, spec), daemon=True)
               for number, spec in enumerate(plan["clients"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return {"samples": samples, "errors": errors, "statuses": statuses, "seconds": seconds,
            "driver_peak_rss_mb": peak_rss_mb()}


# ------------------------------------------------------------------------------------------------ the server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(args, url: str, port: int, queue: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        DJANGO_SECURE_SSL_REDIRECT="false", DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost", DATABASE_URL=url,
        CELERY_DEFAULT_QUEUE=queue, CELERY_OPTIMIZER_QUEUE=f"{queue}-optimizer", DATABASE_CONN_MAX_AGE="600",
    )
    log = open(ROOT / "tests" / "artifacts" / "loadtest-gunicorn.log", "w")  # noqa: SIM115 (the server's lifetime)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--keep-alive", "30", "--backlog", "256", "--timeout", "60", "--access-logfile", "-"
         if os.environ.get("LOADTEST_ACCESS_LOG") else "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {log.name}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status in (200, 503):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log.name}")


def server_processes(process: subprocess.Popen) -> list[int]:
    """The gunicorn master and its workers."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    try:
        return [process.pid, *[int(pid) for pid in children.read_text().split()]]
    except OSError:
        return [process.pid]


def server_warm(port: int, plan: dict) -> None:
    """One request of each kind per worker connection, so the timings start with imported code and connections."""
    manager = next(spec for spec in plan["clients"] if spec["role"] == "manager")
    rep = next(spec for spec in plan["clients"] if spec["role"] == "rep")
    for _ in range(6):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for path, token in (("/api/v1/me/accounts/", rep["token"]), (f"/api/v1/accounts/{rep['accounts'][0]}/",
                                                                      rep["token"]),
                            (f"/workspace/api/scenarios/{plan['scenario']}/tiles/10/280/390.pbf", manager["token"])):
            connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
            connection.getresponse().read()
        connection.close()


# ------------------------------------------------------------------------------------------------ report
def summarise(outcome: dict, seconds: float) -> dict:
    from common import median

    kinds = {}
    all_reads: list[float] = []
    for kind, values in sorted(outcome["samples"].items()):
        kinds[kind] = {"requests": len(values), "requests_per_s": round(len(values) / seconds, 1),
                       "p50_ms": round(median(values), 1), "p95_ms": round(percentile(values, 0.95), 1),
                       "p99_ms": round(percentile(values, 0.99), 1), "errors": outcome["errors"].get(kind, 0)}
        if kind in READS:
            all_reads += values
    total = sum(len(values) for values in outcome["samples"].values())
    return {"kinds": kinds, "requests": total, "requests_per_s": round(total / seconds, 1),
            "errors": sum(outcome["errors"].values()), "read_p50_ms": round(median(all_reads), 1),
            "read_p95_ms": round(percentile(all_reads, 0.95), 1), "read_p99_ms": round(percentile(all_reads, 0.99), 1)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.drive:
        plan = json.loads(Path(args.drive).read_text())
        print(json.dumps(drive(plan, args.port, args.seconds, args.think_ms)))
        return {}
    args.database = args.database or database_name_for_scale(args.scale)
    url = database_url(args.database)
    # The data set is bench/suite.py's; build it when missing (reused when it is there).
    subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--scale", str(args.scale), "--reuse",
                    "--steps", "", "--database", args.database], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    django_setup(url)
    plan = prepare(args)
    port = args.port or _free_port()
    queue = f"loadtest-{os.getpid()}"
    plan_path = ROOT / "tests" / "artifacts" / f"loadtest-plan-{os.getpid()}.json"
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(json.dumps(plan))
    server = server_start(args, url, port, queue)
    try:
        server_warm(port, plan)
        load_before = load_average()
        cpu_before = sum(process_cpu_seconds(pid) for pid in server_processes(server))
        driver = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--drive", str(plan_path), "--port", str(port),
             "--seconds", str(args.seconds), "--think-ms", str(args.think_ms)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
        )
        load_after = load_average()
        server_cpu_s = sum(process_cpu_seconds(pid) for pid in server_processes(server)) - cpu_before
        outcome = json.loads(driver.stdout.strip().splitlines()[-1])
        server_rss = {pid: process_peak_rss_mb(pid) for pid in server_processes(server)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        plan_path.unlink(missing_ok=True)
        queue_purge(queue)
        from core.models import ApiToken

        ApiToken.objects.filter(name="loadtest").delete()

    figures = summarise(outcome, args.seconds)
    figures.update({
        "clients": args.clients, "seconds": args.seconds, "think_ms": args.think_ms, "workers": args.workers,
        "threads": args.threads, "cores": os.cpu_count(), "database": args.database,
        "load_average_before": load_before, "load_average_after": load_after,
        "gunicorn_peak_rss_mb": [value for value in server_rss.values() if value is not None],
        "driver_peak_rss_mb": outcome["driver_peak_rss_mb"], "statuses": outcome["statuses"],
        # Python's share of the work (PostgreSQL's backends are not counted): what a request costs the app server.
        "gunicorn_cpu_ms_per_request": round(server_cpu_s * 1000 / max(1, sum(
            len(values) for values in outcome["samples"].values())), 1),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    print(f"Load test: {args.clients} clients ({sum(1 for c in plan['clients'] if c['role'] == 'manager')} managers),"
          f" think time {args.think_ms:.0f} ms, {args.seconds:.0f} s, gunicorn {args.workers} x {args.threads} "
          f"threads, {os.cpu_count()} cores, load average {load_before} -> {load_after}")
    print(f"  {'request':<10} {'count':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for kind, row in figures["kinds"].items():
        print(f"  {kind:<10} {row['requests']:>7} {row['requests_per_s']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['p99_ms']:>8} {row['errors']:>7}")
    print(f"  {'all':<10} {figures['requests']:>7} {figures['requests_per_s']:>8}   reads: p50 {figures['read_p50_ms']}"
          f" p95 {figures['read_p95_ms']} p99 {figures['read_p99_ms']} ms; errors {figures['errors']}")
    print(f"  peak RSS: gunicorn {figures['gunicorn_peak_rss_mb']} MB (master first), driver "
          f"{figures['driver_peak_rss_mb']} MB; gunicorn CPU {figures['gunicorn_cpu_ms_per_request']} ms a request")
    figures["targets_met"] = figures["read_p95_ms"] < 200 and figures["errors"] == 0
    print(f"  targets (reads p95 < 200 ms, no errors): {'met' if figures['targets_met'] else 'MISSED'}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
