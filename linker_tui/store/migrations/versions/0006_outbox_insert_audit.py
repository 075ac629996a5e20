"""PostgreSQL: a staff action that adds an outbox row (``email_resend``: a sent email sent
again as a new row) is audited by the database, like the status changes of 0002.

Revision ID: 0006_outbox_insert_audit
Revises: 0005_request_search
Create Date: 2026-12-07

The trigger runs 0002's ``linker_audit_email`` after an insert into ``email_outbox``; that
function writes an audit row only when the transaction explained an ``email_…`` action
(``linker.action``), so the emails a link queues (action ``link``) are not audited twice.
The row's ``before`` is empty (``outbox_id`` and ``status`` null: there was no row), its
``after`` the new row's id and status. SQLite: the app writes the same row itself.

The SQL is written out here, not imported: a migration must not change with the app.
"""

from __future__ import annotations

from alembic import op

revision = "0006_outbox_insert_audit"
down_revision = "0005_request_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS email_outbox_audit_insert ON email_outbox")
    op.execute(
        "CREATE TRIGGER email_outbox_audit_insert AFTER INSERT ON email_outbox"
        " FOR EACH ROW EXECUTE FUNCTION linker_audit_email()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS email_outbox_audit_insert ON email_outbox")
