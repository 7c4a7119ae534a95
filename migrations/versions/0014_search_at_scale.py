"""Search and matching at a million talents: one filter-key array, a phonetic word array, a word dictionary.

- `talents.filter_keys` (generated): every equality filter of a list or search as one text array
  (`c:mumbai`, `st:maharashtra`, `s:acting`, `l:marathi`, `l:marathi:fluent` for each level up to
  the talent's, and the city with each skill and language, `c:mumbai/s:acting`) under one GIN
  index over the live talent: a combination of filters is one index scan that intersects its
  posting lists instead of a bitmap per JSONB index ANDed afterwards, and a city with skills or
  languages intersects the short combined lists. Gender, availability and verification are not
  keys: a third to two thirds of all talent share each value, lists far too long to intersect;
  they are checked on the rows the keys find.
- `talents.search_words` (generated): the phonetic keys (`casting_word_key`: Indian transliteration
  variants folded, `ksh`/`ks` -> `x`, long vowels, aspirates, `w` -> `v`, doubled letters, a final
  `a`) of every word of the stage name, bio and skills, under a GIN index; `talent_words` holds each
  key once (kept by statement triggers) with a trigram GiST index, so `q` looks its words up in the
  dictionary by trigram distance (a few thousand rows, not a million) and then finds the talent by
  exact keys.
- `ix_talents_seed`: `(location, skills)` for the available live talent, the shape of the seed query.
- `ix_talents_playing_age_max`, `ix_talents_date_of_birth`: an age filter (a playing age range, or
  the real age without one) is an OR of the two; a rare age (`age_min=75`) is a BitmapOr of short
  ranges instead of a scan of every row.

The JSONB and trigram indexes these replace are dropped (no query uses them any more).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# One expression (no FROM), so PostgreSQL inlines it into `casting_words`: a million rows in seconds.
WORD_KEY = r"""
CREATE FUNCTION casting_word_key(word text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(regexp_replace(translate(
        replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
        replace(replace(lower(word), 'ksh', 'x'), 'ks', 'x'), 'chh', 'c'), 'ch', 'c'), 'sh', 's'),
        'ph', 'f'), 'th', 't'), 'dh', 'd'), 'bh', 'b'), 'kh', 'k'), 'gh', 'g'), 'aa', 'a'), 'ee', 'i'), 'oo', 'u'),
        'wzqc', 'vjkk'), '(.)\1+', '\1', 'g'), '^(.{3,})a$', '\1')
$$"""
WORDS = r"""
CREATE FUNCTION casting_words(document text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT casting_word_key(word) ORDER BY casting_word_key(word)), '{}')
    FROM regexp_split_to_table(lower(coalesce(document, '')), '[^[:alnum:]]+') AS word
    WHERE length(word) > 1
$$"""
TALENT_KEYS = """
CREATE FUNCTION casting_talent_keys(location jsonb, skill_keys jsonb, languages jsonb)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH own(key) AS (
        SELECT 's:' || skill FROM jsonb_array_elements_text(coalesce(skill_keys, '[]')) AS skill
        UNION SELECT 'l:' || lower(spoken ->> 'name') FROM jsonb_array_elements(coalesce(languages, '[]')) AS spoken
        UNION SELECT 'l:' || lower(spoken ->> 'name') || ':' || level
              FROM jsonb_array_elements(coalesce(languages, '[]')) AS spoken,
                   unnest(ARRAY['basic', 'conversational', 'fluent', 'native']) WITH ORDINALITY AS levels(level, rank)
              WHERE rank <= coalesce(array_position(ARRAY['basic', 'conversational', 'fluent', 'native'],
                                                    spoken ->> 'proficiency'), 0))
    SELECT array(
        SELECT 'c:' || lower(location ->> 'city') WHERE location ->> 'city' IS NOT NULL
        UNION ALL SELECT 'st:' || lower(location ->> 'state') WHERE location ->> 'state' IS NOT NULL
        UNION ALL SELECT key FROM own
        -- the city with each skill and language: a city and a skill are one short posting list
        UNION ALL SELECT 'c:' || lower(location ->> 'city') || '/' || key FROM own
                  WHERE location ->> 'city' IS NOT NULL)
$$"""
# New words reach the dictionary with the statement that wrote them (COPY included); words no live
# talent uses any more stay (they find nobody), so nothing has to be counted on delete.
REMEMBER_WORDS = """
CREATE FUNCTION talent_words_remember() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO talent_words (word)
    SELECT DISTINCT unnest(search_words) FROM written ORDER BY 1
    ON CONFLICT (word) DO NOTHING;
    RETURN NULL;
END $$"""
DROPPED = [  # (name, columns, ops) of the indexes this replaces, for the downgrade
    ("ix_talents_location", "location", "jsonb_path_ops"), ("ix_talents_skills", "skills", "jsonb_path_ops"),
    ("ix_talents_skill_keys", "skill_keys", "jsonb_path_ops"),
    ("ix_talents_language_keys", "language_keys", "jsonb_path_ops"), ("ix_talents_search_text", "search_text",
                                                                      "gin_trgm_ops")]


def upgrade():
    for function in (WORD_KEY, WORDS, TALENT_KEYS):
        op.execute(function)
    # One statement, so the million-row table is rewritten once for both.
    op.execute("""
        ALTER TABLE talents
        ADD COLUMN filter_keys text[] GENERATED ALWAYS AS (casting_talent_keys(location, skill_keys, languages)) STORED,
        ADD COLUMN search_words text[] GENERATED ALWAYS AS (casting_words(search_text)) STORED""")
    op.execute("SET LOCAL maintenance_work_mem = '1GB'")
    op.create_index("ix_talents_filter_keys", "talents", ["filter_keys"], postgresql_using="gin",
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("ix_talents_search_words", "talents", ["search_words"], postgresql_using="gin",
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("ix_talents_seed", "talents", ["location", "skills"], postgresql_using="gin",
                    postgresql_ops={"location": "jsonb_path_ops", "skills": "jsonb_path_ops"},
                    postgresql_where=sa.text("availability_status = 'available' AND deleted_at IS NULL"))
    for column in ("playing_age_max", "date_of_birth"):
        op.create_index(f"ix_talents_{column}", "talents", [column], postgresql_where=sa.text("deleted_at IS NULL"))
    for name, _, _ in DROPPED:
        op.drop_index(name, table_name="talents")
    op.drop_index("ix_talents_availability_status", table_name="talents")
    op.create_table("talent_words", sa.Column("word", sa.Text(), primary_key=True))
    op.execute("INSERT INTO talent_words SELECT DISTINCT unnest(search_words) FROM talents ORDER BY 1")
    op.create_index("ix_talent_words_trigram", "talent_words", ["word"], postgresql_using="gist",
                    postgresql_ops={"word": "gist_trgm_ops"})
    op.execute(REMEMBER_WORDS)
    for event in ("INSERT", "UPDATE"):
        op.execute(f"CREATE TRIGGER talent_words_{event.lower()} AFTER {event} ON talents "
                   "REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION talent_words_remember()")
    op.execute("ANALYZE talents")


def downgrade():
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER talent_words_{event} ON talents")
    op.execute("DROP FUNCTION talent_words_remember()")
    op.drop_table("talent_words")
    op.create_index("ix_talents_availability_status", "talents", ["availability_status"])
    for name, column, ops in DROPPED:
        op.create_index(name, "talents", [column], postgresql_using="gin", postgresql_ops={column: ops})
    op.drop_index("ix_talents_seed", table_name="talents")
    op.drop_index("ix_talents_date_of_birth", table_name="talents")
    op.drop_index("ix_talents_playing_age_max", table_name="talents")
    op.drop_index("ix_talents_search_words", table_name="talents")
    op.drop_index("ix_talents_filter_keys", table_name="talents")
    op.drop_column("talents", "search_words")
    op.drop_column("talents", "filter_keys")
    op.execute("DROP FUNCTION casting_talent_keys(jsonb, jsonb, jsonb)")
    op.execute("DROP FUNCTION casting_words(text)")
    op.execute("DROP FUNCTION casting_word_key(text)")
