"""source kinds and health: a cursor per source, failure streak start, last new item, open ops alert

Revision ID: 0003_sources
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sources"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cursor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_new_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("health_alert", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_column("health_alert")
        batch_op.drop_column("last_new_at")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("cursor")
