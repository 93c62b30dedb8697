"""The same call records in a REAL PostgreSQL server, through the same data-access layer as
SQLite: a throwaway cluster (Debian's postgresql binaries) in a temporary folder on a free port,
started and stopped by this module (tests/support/pg_cluster.py). Skipped, with the reason, only
when the binaries are missing (`make system-deps` installs them)."""
import pytest

from ai_engine.records.store import RecordStore
from pg_cluster import pg_bin, postgres_cluster
from records_cases import filters_and_paging, many_exported_in_batches, retention, round_trip

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def postgres_url():
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed: `make system-deps` (apt install postgresql)")
    with postgres_cluster() as url:
        yield url


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


def test_engines_starting_together_migrate_one_at_a_time(postgres_url):
    """Several engines share one history: their migrations at start must not collide."""
    import threading

    from sqlalchemy import create_engine

    admin = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS shared")
        conn.exec_driver_sql("CREATE DATABASE shared")
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/shared"
    stores = [RecordStore(url) for _ in range(4)]
    errors = []

    def migrate(store):
        try:
            store.migrate_sync()
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)  # without the lock they collide, or wait on each other for good
    assert not any(t.is_alive() for t in threads), "migrations blocked each other"
    for s in stores:
        s.close()
    assert errors == []
