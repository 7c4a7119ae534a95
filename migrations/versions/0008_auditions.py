"""Auditions: slots, invitations (one per talent) and the history of every invitation's status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
INVITATION_STATUS = postgresql.ENUM(name="invitation_status", create_type=False)


def upgrade():
    op.create_table(
        'auditions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('production_id', sa.Integer(), nullable=False),
        sa.Column('role_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('mode', sa.Enum('in_person', 'virtual', 'self_tape', name='audition_mode'), nullable=False),
        sa.Column('location', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('meeting_url', sa.String(length=500), nullable=True),
        sa.Column('instructions', sa.Text(), nullable=True),
        sa.Column('scheduled_date', sa.Date(), nullable=True),
        sa.Column('duration_minutes', sa.Integer(), nullable=True),
        sa.Column('timezone', sa.String(length=64), server_default='Asia/Kolkata', nullable=False),
        sa.Column('status', sa.Enum('draft', 'scheduled', 'in_progress', 'completed', 'cancelled', name='audition_status'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['production_id'], ['productions.id'], name=op.f('fk_auditions_production_id_productions'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['role_id'], ['production_roles.id'], name=op.f('fk_auditions_role_id_production_roles'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auditions'))
    )
    with op.batch_alter_table('auditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditions_production_id'), ['production_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditions_role_id'), ['role_id'], unique=False)

    op.create_table(
        'audition_slots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('audition_id', sa.Integer(), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('booked', sa.Integer(), server_default='0', nullable=False),
        sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_audition_slots_booked_within_capacity')),
        sa.CheckConstraint('start_at < end_at', name=op.f('ck_audition_slots_start_before_end')),
        sa.ForeignKeyConstraint(['audition_id'], ['auditions.id'], name=op.f('fk_audition_slots_audition_id_auditions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audition_slots')),
        sa.UniqueConstraint('audition_id', 'start_at', name='one_slot_per_start')
    )
    with op.batch_alter_table('audition_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audition_slots_audition_id'), ['audition_id'], unique=False)

    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('audition_id', sa.Integer(), nullable=False),
        sa.Column('talent_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('invited', 'accepted', 'declined', 'reschedule_requested', 'attended', 'no_show', 'shortlisted', 'callback', 'selected', 'rejected', name='invitation_status'), nullable=False),
        sa.Column('slot_id', sa.Integer(), nullable=True),
        sa.Column('waitlist_position', sa.Integer(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['audition_id'], ['auditions.id'], name=op.f('fk_invitations_audition_id_auditions'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['slot_id'], ['audition_slots.id'], name=op.f('fk_invitations_slot_id_audition_slots'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['talent_id'], ['talents.id'], name=op.f('fk_invitations_talent_id_talents'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
        sa.UniqueConstraint('audition_id', 'talent_id', name='one_invitation_per_talent')
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_audition_id'), ['audition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_talent_id'), ['talent_id'], unique=False)

    op.create_table(
        'invitation_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invitation_id', sa.Integer(), nullable=False),
        sa.Column('from_status', INVITATION_STATUS, nullable=True),
        sa.Column('to_status', INVITATION_STATUS, nullable=False),
        sa.Column('by_user_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_invitation_events_by_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_invitation_events_invitation_id_invitations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_events'))
    )
    with op.batch_alter_table('invitation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_events_invitation_id'), ['invitation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_events_invitation_id'))

    op.drop_table('invitation_events')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_talent_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_slot_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_audition_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('audition_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audition_slots_audition_id'))

    op.drop_table('audition_slots')
    with op.batch_alter_table('auditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditions_role_id'))
        batch_op.drop_index(batch_op.f('ix_auditions_production_id'))

    op.drop_table('auditions')
    for name in ("invitation_status", "audition_status", "audition_mode"):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
