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
