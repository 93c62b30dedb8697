"""Alembic migrations of the call-records database (run at engine start, `store.migrate`)."""
