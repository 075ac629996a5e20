"""The request list's text search: an FTS5 trigram table kept in step by triggers
(SQLite), a pg_trgm GIN index (PostgreSQL); see ``linker_tui.store.search``.

Revision ID: 0005_request_search
Revises: 0004_sync_run_holder
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from linker_tui.store.search import create_statements, drop_statements

revision = "0005_request_search"
down_revision = "0004_sync_run_holder"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for statement in create_statements(bind.dialect.name):
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in drop_statements(bind.dialect.name):
        bind.exec_driver_sql(statement)
