"""Call records: one per call (caller, persona, times, outcome, transcript, latency, tools,
recording), kept in SQLite or PostgreSQL through one data-access layer, with retention,
redaction, a post-call webhook and JSONL export.

  record.py     the record and the CallRecorder a call reports to
  tables.py     the schema (Alembic migrations in migrations/)
  store.py      the data-access layer (sync SQLAlchemy in worker threads)
  service.py    the engine's records task: queue → redact → save → webhook
  retention.py  periodic deletion of old records and their recordings
  redaction.py  digit-string masking
  webhook.py    bounded, retried JSON POST
  recording.py  the ARI bridge recording of a call (personas.<name>.record)
"""
