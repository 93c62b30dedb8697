"""Call records in the embedded SQLite database: migrations, the filters of GET /calls, export
paging, retention (records and recording files), redaction."""
import sqlite3

import pytest

from ai_engine.records.redaction import redact, redact_record
from ai_engine.records.store import RecordStore
from records_cases import filters_and_paging, many_exported_in_batches, record, retention, round_trip

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path):
    s = RecordStore(f"sqlite:///{tmp_path / 'data' / 'calls.db'}")
    yield s
    s.close()


async def test_a_record_survives_the_round_trip_and_the_file_is_in_wal_mode(store, tmp_path):
    await round_trip(store)
    db = sqlite3.connect(tmp_path / "data" / "calls.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"


async def test_filters_by_time_caller_persona_outcome_and_text_with_paging(store):
    await filters_and_paging(store)


async def test_an_export_walks_every_record_once_in_batches(store):
    await many_exported_in_batches(store)


async def test_retention_deletes_old_records_and_their_recordings(store, tmp_path):
    await retention(store, tmp_path / "recordings")


def test_redaction_keeps_the_last_digits_of_numbers_and_leaves_short_ones():
    assert redact("+4930123456", keep=2, min_digits=1) == "+********56"
    assert redact("card 4111 1111 1111 1234, at 10 past 3", keep=2, min_digits=4) == \
        "card **** **** **** **34, at 10 past 3"
    r = redact_record(record("x", said="call me on 030-555-1234 please"), keep=2, min_digits=4)
    assert r.caller_number == "+********56"
    assert r.transcript[0]["text"] == "call me on ***-***-**34 please"
    assert r.transcript[1]["text"] == "Sure."
