"""Read by meaning (issue #22): weighted words for similar issues, category keywords and the learned
category suggester

Revision ID: e6a1b2c3d4e5
Revises: e8a1b2c3d4e5
Create Date: 2026-12-06 08:05:00

issue_term.weight: a term's BM25 term-frequency weight in its title; issue_term_count: open issues per
community and term (the row with term "" counts the issues). issue_category.keywords: admins' words for the
suggestion's fallback; category_model: a community's fitted suggester.

Backfill: the terms were Chinese character pairs; they are now words (portal.words, jieba), so the issue
index (open issues) and the proposal index (title and summary) are rebuilt from their texts, and the counts
computed from the rebuilt issue index.
"""
from collections import Counter

import portal.clock  # noqa: F401  (UTCDateTime columns)
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6a1b2c3d4e5'
down_revision = "e8a1b2c3d4e5"
branch_labels = None
depends_on = None

OPEN_WHERE = "status IN ('submitted', 'accepted', 'in_progress', 'reopened')"


def upgrade():
    op.create_table('category_model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('model', sa.LargeBinary(), nullable=True),
    sa.Column('examples', sa.Integer(), nullable=False),
    sa.Column('categories', sa.Integer(), nullable=False),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('trained_at', portal.clock.UTCDateTime(), nullable=False),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.CheckConstraint("method IN ('model', 'keywords')", name=op.f('ck_category_model_method')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_category_model_community_id_community')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category_model')),
    sa.UniqueConstraint('community_id', name=op.f('uq_category_model_community_id'))
    )
    op.create_table('issue_term_count',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=32), nullable=False),
    sa.Column('issues', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_issue_term_count_community_id_community')),
    sa.PrimaryKeyConstraint('community_id', 'term', name=op.f('pk_issue_term_count'))
    )
    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keywords', sa.String(length=1000), nullable=True))

    with op.batch_alter_table('issue_term', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weight', sa.Float(), server_default=sa.text('1.0'), nullable=False))

    _reindex()


def _reindex():
    from portal.issues.similar import DOCS, weights
    from portal.words import words
    bind = op.get_bind()
    places = {}
    for community_id, name in bind.execute(sa.text(
            "SELECT community_id, name FROM estate UNION ALL SELECT community_id, name FROM building")):
        if name and len(name) > 1:
            places.setdefault(community_id, set()).add(name)
    extra = {c: tuple(sorted(names)) for c, names in places.items()}

    bind.execute(sa.text("DELETE FROM issue_term"))
    rows, counts = [], Counter()
    for issue_id, community_id, title in bind.execute(sa.text(
            f"SELECT id, community_id, title FROM issue WHERE {OPEN_WHERE} ORDER BY id")):
        found = weights(words(title, extra.get(community_id, ())))
        if found:
            counts[(community_id, DOCS)] += 1
            for term, weight in found.items():
                counts[(community_id, term)] += 1
                rows.append({"i": issue_id, "c": community_id, "t": term, "w": weight})
    if rows:
        bind.execute(sa.text("INSERT INTO issue_term (issue_id, community_id, term, weight) VALUES (:i, :c, :t, :w)"),
                     rows)
    if counts:
        bind.execute(sa.text("INSERT INTO issue_term_count (community_id, term, issues) VALUES (:c, :t, :n)"),
                     [{"c": c, "t": t, "n": n} for (c, t), n in sorted(counts.items())])

    bind.execute(sa.text("DELETE FROM proposal_term"))
    rows = []
    for proposal_id, community_id, title, summary in bind.execute(sa.text(
            "SELECT id, community_id, title, summary FROM proposal ORDER BY id")):
        found = set(words(title)) | set(words(summary))
        rows.extend({"p": proposal_id, "c": community_id, "t": term} for term in sorted(found))
    if rows:
        bind.execute(sa.text("INSERT INTO proposal_term (proposal_id, community_id, term) VALUES (:p, :c, :t)"),
                     rows)


def downgrade():
    # The character-pair index of the previous revision is not rebuilt: its terms stay the words, which
    # the previous code finds fewer of, until each issue is written again.
    with op.batch_alter_table('issue_term', schema=None) as batch_op:
        batch_op.drop_column('weight')

    with op.batch_alter_table('issue_category', schema=None) as batch_op:
        batch_op.drop_column('keywords')

    op.drop_table('issue_term_count')
    op.drop_table('category_model')
