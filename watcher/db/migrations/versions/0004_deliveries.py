"""deliveries: one row per alert and target, each with its own attempts, back-off and state

Pending and dead alerts are carried over as one delivery each with target '' (their channel's
targets are not known here); `repo.expand_legacy_deliveries` turns each into one per target of
the channel at the next start, keeping attempts, back-off and error. Nothing queued is lost.

Revision ID: 0004_deliveries
Revises: 0003_sources
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_deliveries"
down_revision = "0003_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "deliveries",
        sa.Column("id", big, primary_key=True),
        sa.Column("alert_id", big, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reclaims", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("alert_id", "target", name="uq_deliveries_alert_target"),
    )
    op.create_index("ix_deliveries_alert_id", "deliveries", ["alert_id"])
    op.create_index("ix_deliveries_status_next", "deliveries", ["status", "next_attempt_at"])
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_id", big, nullable=True))
        batch_op.create_foreign_key(
            "fk_delivery_attempts_delivery", "deliveries", ["delivery_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_delivery_attempts_delivery_id", ["delivery_id"])
    op.execute(
        "INSERT INTO deliveries (alert_id, target, label, status, attempts, next_attempt_at, last_error,"
        " reclaims, created_at, sent_at)"
        " SELECT id, '', '', status, attempts, next_attempt_at, last_error, 0, created_at, sent_at"
        " FROM alerts WHERE status IN ('pending', 'dead')"
    )


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_delivery_id")
        batch_op.drop_constraint("fk_delivery_attempts_delivery", type_="foreignkey")
        batch_op.drop_column("delivery_id")
    op.drop_index("ix_deliveries_status_next", table_name="deliveries")
    op.drop_index("ix_deliveries_alert_id", table_name="deliveries")
    op.drop_table("deliveries")
