"""The process running a sync: ``sync_run.holder`` (``host/pid``), so the next run can
close the run of a sync that was killed (its process is gone) instead of leaving it
``running``.

Revision ID: 0004_sync_run_holder
Revises: 0003_patient_match
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sync_run_holder"
down_revision = "0003_patient_match"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sync_run")}
    if "holder" in present:  # a database adopted from create_all has it already
        return
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(
            sa.Column("holder", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("holder")
