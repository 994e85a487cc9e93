"""Processes the fault tests start, stop and kill themselves: a private redis-server on a free port and Celery
workers pointed at it and at the test database. The machine's own Redis (6379) and PostgreSQL are never touched."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from conftest import ROOT, TEST_QUEUE, wait_for

FAULT_QUEUE = f"faults-{uuid.uuid4().hex[:8]}"
STARTED: list = []  # every worker these tests started, stopped at the end of the module whatever happened


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server this test session started; stop() and start() act on that process only."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.is_up, timeout=10, interval=0.05)

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class OwnWorker:
    """A `celery worker` (one process, thread pool) on the private Redis and the test database."""

    def __init__(self, redis: OwnRedis, database: dict):
        self.redis, self.database, self.process, self.log = redis, database, None, None
        self.hostname = f"{FAULT_QUEUE}-{uuid.uuid4().hex[:4]}@{os.uname().nodename}"

    def start(self):
        env = dict(os.environ)
        db = self.database
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test", REDIS_URL=self.redis.url, CELERY_BROKER_URL=self.redis.url,
            DATABASE_URL=(f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
                          f"{db['NAME']}"),
            CELERY_DEFAULT_QUEUE=FAULT_QUEUE, CELERY_OPTIMIZER_QUEUE=f"{FAULT_QUEUE}-optimizer",
        )
        log_path = ROOT / "tests" / "artifacts" / f"celery-{FAULT_QUEUE}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "a")  # noqa: SIM115 (kept open for the worker's lifetime)
        self.process = subprocess.Popen(
            # The session's default queue too: Celery may have fixed its router on it before a test changed the
            # default, and on this private Redis no other worker can take from it.
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"{FAULT_QUEUE},{TEST_QUEUE}",
             "--pool", "threads",
             "--concurrency", "1", "--hostname", self.hostname, "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        from config.celery_app import app

        def answers():
            assert self.process.poll() is None, f"the worker exited early; see {log_path}"
            return app.control.ping(timeout=0.5, destination=[self.hostname])

        STARTED.append(self)
        try:
            wait_for(answers, timeout=60, interval=0)
        except BaseException:
            self.stop()
            raise

    def kill(self):
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no clean-up runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None
        if self.log:
            self.log.close()
            self.log = None


@pytest.fixture(scope="module")
def own_redis():
    redis = OwnRedis()
    redis.start()
    yield redis
    for worker in STARTED:
        worker.stop()
    redis.stop()


def _forget_broker_connections(app) -> None:
    """Celery keeps its connection and producer pools (kombu keys them by broker URL) and the control mailbox keeps
    its producer pool: drop all three so the next send or ping connects to the broker now configured."""
    app._pool = None
    app.amqp._producer_pool = None
    with contextlib.suppress(AttributeError):  # not created yet
        del app.control.mailbox.producer_pool


@pytest.fixture
def on_own_redis(own_redis, settings):
    """Point the cache, the Celery broker and the health check at the private Redis for one test."""
    from config.celery_app import app

    # Read before the Django settings change: Celery's conf reads through to them, so reading after would
    # "restore" the private Redis and leave every later test sending to it once it is stopped.
    previous = (app.conf.broker_url, app.conf.task_default_queue)
    settings.REDIS_URL = own_redis.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": own_redis.url}}
    settings.CELERY_BROKER_URL = own_redis.url
    app.conf.broker_url = own_redis.url
    app.conf.task_default_queue = FAULT_QUEUE
    _forget_broker_connections(app)
    try:
        yield own_redis
    finally:
        # Restored first, whatever happens next: a later test must never send to the private Redis.
        app.conf.broker_url, app.conf.task_default_queue = previous
        _forget_broker_connections(app)
        if not own_redis.is_up():
            own_redis.start()


@pytest.fixture
def own_worker(on_own_redis, transactional_db):
    from django.db import connection

    worker = OwnWorker(on_own_redis, connection.settings_dict)
    worker.start()
    yield worker
    worker.stop()
