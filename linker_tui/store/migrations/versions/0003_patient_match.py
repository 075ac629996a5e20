"""Patient matching, second pass: the ranking stored on each request (level, candidate
count), and the indexes of the new blocking passes (given name with birth year or
surname, surname with birth year).

Revision ID: 0003_patient_match
Revises: 0002_server_trail
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_patient_match"
down_revision = "0002_server_trail"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_patient_given_born", ["first_name_key", "birthdate"]),
    ("ix_patient_given_name", ["first_name_key", "last_name_key"]),
    ("ix_patient_surname_born", ["last_name_key", "birthdate"]),
)


def upgrade() -> None:
    bind = op.get_bind()
    # A database adopted from create_all (stamped 0001, upgraded from there) may have
    # the columns and indexes already.
    inspector = sa.inspect(bind)
    present = {c["name"] for c in inspector.get_columns("online_request")}
    with op.batch_alter_table("online_request") as batch:
        if "patient_match_level" not in present:
            batch.add_column(
                sa.Column(
                    "patient_match_level", sa.String(length=16), nullable=False, server_default=""
                )
            )
        if "patient_match_count" not in present:
            batch.add_column(
                sa.Column("patient_match_count", sa.Integer(), nullable=False, server_default="0")
            )
    indexes = {i["name"] for i in inspector.get_indexes("patient")}
    for name, columns in _INDEXES:
        if name not in indexes:
            op.create_index(name, "patient", columns)


def downgrade() -> None:
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="patient")
    with op.batch_alter_table("online_request") as batch:
        batch.drop_column("patient_match_count")
        batch.drop_column("patient_match_level")
