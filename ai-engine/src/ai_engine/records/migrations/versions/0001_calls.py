"""calls table

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("extension", sa.String(64), nullable=False),
        sa.Column("persona", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("end_reason", sa.String(256), nullable=False),
        sa.Column("transfer_target", sa.String(128), nullable=True),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("transcript_text", sa.Text, nullable=False),
        sa.Column("tool_calls", sa.JSON, nullable=False),
        sa.Column("turn_latency", sa.JSON, nullable=False),
        sa.Column("recording", sa.String(256), nullable=True),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_caller_number", "calls", ["caller_number"])
    op.create_index("ix_calls_persona", "calls", ["persona"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])


def downgrade() -> None:
    op.drop_table("calls")
