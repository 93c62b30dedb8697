"""The same call records in a REAL PostgreSQL server, through the same data-access layer as
SQLite: a throwaway cluster (Debian's postgresql 15 binaries) in a temporary folder on a free
port, started and stopped by this module. Skipped, with the reason, only when the binaries are
missing (`make system-deps` installs them)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ai_engine.records.store import RecordStore
from records_cases import filters_and_paging, many_exported_in_batches, retention, round_trip

pytestmark = pytest.mark.anyio


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(cmd: list[str]) -> list[str]:
    """postgres refuses to run as root: run it as `nobody` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def postgres_url():
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed: `make system-deps` (apt install postgresql)")
    # Its own folder under the system temp dir: pytest's is private to root, `nobody` could not enter it.
    root = Path(tempfile.mkdtemp(prefix="records-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (root, sock):
            os.chown(p, 65534, 65534)
    port = _free_port()
    init = subprocess.run(_as_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "records", "--auth=trust", "-E", "UTF8"]),
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-t", "60",
                             "-l", str(root / "log"), "start"]), check=True, capture_output=True, timeout=90)
    try:
        url = f"postgresql://records@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w waited already; this only covers a slow first connection
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        subprocess.run(_as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def store(postgres_url):
    s = RecordStore(postgres_url)
    s.migrate_sync()
    with s.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM calls")
    yield s
    s.close()


async def test_a_record_survives_the_round_trip_in_postgresql(store):
    await round_trip(store)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == "0001"
    assert store.backend == "postgresql"


async def test_filters_and_paging_answer_the_same_as_in_sqlite(store):
    await filters_and_paging(store)


async def test_an_export_walks_every_record_once_in_postgresql(store):
    await many_exported_in_batches(store, n=250)


async def test_retention_in_postgresql(store, tmp_path):
    await retention(store, tmp_path / "recordings")


def test_the_password_never_shows_in_what_is_logged(postgres_url):
    s = RecordStore(postgres_url.replace("records@", "records:hunter2@"))
    assert "hunter2" not in s.describe()
    s.close()
