"""PostgreSQL: two partial indexes of the open requests, for the request list and its
filter (see ``linker_tui.store.search``).

Revision ID: 0007_open_request_order
Revises: 0006_outbox_insert_audit
Create Date: 2026-12-07

``ix_request_open_received`` (``received_at``, ``id``): a page of the list, unfiltered or
filtered on a common word, reads the open requests in its order and stops at the page's
last row instead of reading every open request and sorting them.
``ix_online_request_search_open``: 0005's pg_trgm GIN index over the open requests only,
so a rarer word's matches among them are found without visiting the handled ones.
SQLite's planner would use neither (it stops early on ``ix_request_state_received``).

The SQL is written out here, not imported: a migration must not change with the app.
"""

from __future__ import annotations

from alembic import op

revision = "0007_open_request_order"
down_revision = "0006_outbox_insert_audit"
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'waiting_pms')"
SEARCH_TEXT = (
    "typed_first_name || ' ' || typed_last_name || ' ' || external_id || ' ' || reason"
    " || ' ' || typed_email"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_request_open_received"
        f" ON online_request (received_at, id) WHERE {OPEN}"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_online_request_search_open"
        f" ON online_request USING gin (({SEARCH_TEXT}) gin_trgm_ops) WHERE {OPEN}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_online_request_search_open")
    op.execute("DROP INDEX IF EXISTS ix_request_open_received")
