"""Team tasks: the owner key becomes (owner_type, owner_id), and each task records its creator.

Existing rows are personal tasks: ``owner_type`` 'user', created by their owner. The three
pagination indexes are rebuilt led by the whole owner key. On SQLite the batch operations
recreate the table (SQLite cannot add a CHECK constraint or a NOT NULL without a default).

Downgrading deletes every organization's tasks: revision 0001 can only store personal ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_SORT_COLUMNS = {
    "ix_tasks_owner_created": ["created_at", "id"],
    "ix_tasks_owner_due": ["due_at", "id"],
    "ix_tasks_owner_priority": ["priority", "created_at", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        # The default only fills the rows already there; it is dropped below, so every insert
        # names its owner type.
        batch.add_column(
            sa.Column("owner_type", sa.String(12), nullable=False, server_default="user")
        )
        batch.add_column(sa.Column("created_by", sa.String(255), nullable=True))
    op.execute(sa.text("UPDATE tasks SET created_by = owner_id"))
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("owner_type", existing_type=sa.String(12), server_default=None)
        batch.alter_column("created_by", existing_type=sa.String(255), nullable=False)
        batch.create_check_constraint(
            "ck_tasks_owner_type", "owner_type IN ('user', 'organization')"
        )
        for name, columns in _SORT_COLUMNS.items():
            batch.drop_index(name)
            batch.create_index(name, ["owner_type", "owner_id", *columns])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM tasks WHERE owner_type <> 'user'"))
    with op.batch_alter_table("tasks") as batch:
        for name, columns in _SORT_COLUMNS.items():
            batch.drop_index(name)
            batch.create_index(name, ["owner_id", *columns])
        batch.drop_constraint("ck_tasks_owner_type", type_="check")
        batch.drop_column("created_by")
        batch.drop_column("owner_type")
