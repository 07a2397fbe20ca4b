"""suspension_end milestones: a suspension's end, stored before as an expiry of the measure

The milestones a "suspended" finding added as `expiry` (uid `<measure>/finding-<id>`) become
`suspension_end`: on that day the measure resumes unless the suspension is extended, it does not
expire. Their calendar SEQUENCE rises, so calendars replace the event.

Revision ID: 0005_suspension_end
Revises: 0004_deliveries
"""

from alembic import op

revision = "0005_suspension_end"
down_revision = "0004_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE milestones SET kind = 'suspension_end', sequence = sequence + 1 WHERE kind = 'expiry' AND uid IN"
        " (SELECT measure_id || '/finding-' || CAST(id AS VARCHAR(20)) FROM findings WHERE kind = 'suspended')"
    )


def downgrade() -> None:
    op.execute("UPDATE milestones SET kind = 'expiry', sequence = sequence + 1 WHERE kind = 'suspension_end'")
