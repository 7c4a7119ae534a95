import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Computed, Date, DateTime, ForeignKey, Index, String, Text, cast, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from pgvector.sqlalchemy import HALFVEC, Vector
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from config import embedding_dim


class Gender(str, enum.Enum):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    OTHER = "other"


class Availability(str, enum.Enum):
    AVAILABLE = "available"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


class MediaKind(str, enum.Enum):
    HEADSHOT = "headshot"
    PORTFOLIO = "portfolio"


class TalentMedia(db.Model):
    """An image of a talent: the stored file and its thumbnail, by storage key (URLs are made per response)."""

    __tablename__ = "talent_media"
    __mapper_args__ = {"eager_defaults": True}  # the INSERT returns created_at: the response needs no select
    __table_args__ = (
        Index("uq_talent_media_headshot", "talent_id", unique=True, postgresql_where=text("kind = 'headshot'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    talent_id: Mapped[int] = mapped_column(ForeignKey("talents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MediaKind] = mapped_column(pg_enum(MediaKind, "talent_media_kind"))
    key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def snapshot(self):
        return {name: getattr(self, name) for name in MEDIA_SNAPSHOT}


MEDIA_SNAPSHOT = ("id", "kind", "key", "thumbnail_key", "content_type", "width", "height", "created_at")


def media_columns():
    """A media snapshot's columns labelled `media_<name>`, for a statement that joins a talent's media."""
    return [getattr(TalentMedia, name).label(f"media_{name}") for name in MEDIA_SNAPSHOT]


def media_snapshots(rows):
    """The snapshots of the media that rows selected with `media_columns` joined (a row without one: none)."""
    return [{name: getattr(row, f"media_{name}") for name in MEDIA_SNAPSHOT} for row in rows
            if row.media_id is not None]


SHORT_PENDING_LIST = {"gin_pending_list_limit": 256}  # kB


class Talent(db.Model):
    """A talent profile. `skill_keys`/`language_keys` hold the lower-cased names the filters match."""

    __tablename__ = "talents"
    # updated_at (and the server defaults) come back in the UPDATE/INSERT's RETURNING, so a write's
    # response is made without reading the row again
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("playing_age_min IS NULL OR playing_age_max IS NULL OR playing_age_min <= playing_age_max",
                        name="playing_age_range"),
        # Every equality filter in one GIN index over the live talent (migration 0014). Each GIN index
        # merges its pending entries at 256 kB, not 4 MB: a scan reads them all (migration 0022).
        Index("ix_talents_filter_keys", "filter_keys", postgresql_using="gin", postgresql_with=SHORT_PENDING_LIST,
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_talents_search_words", "search_words", postgresql_using="gin", postgresql_with=SHORT_PENDING_LIST,
              postgresql_where=text("deleted_at IS NULL")),
        # The seed query's shape: city and skills of the available live talent, in one index scan.
        Index("ix_talents_seed", "location", "skills", postgresql_using="gin", postgresql_with=SHORT_PENDING_LIST,
              postgresql_ops={"location": "jsonb_path_ops", "skills": "jsonb_path_ops"},
              postgresql_where=text("availability_status = 'available' AND deleted_at IS NULL")),
        # An age filter is an OR over these two (see `age_clause`): a rare age is two short ranges.
        Index("ix_talents_playing_age_max", "playing_age_max", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_talents_date_of_birth", "date_of_birth", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_talents_live_newest", text("created_at DESC"), text("id DESC"),
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_talents_featured_rank", text("is_featured DESC"), text("profile_score DESC"),
              text("updated_at DESC"), text("id DESC"), postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    stage_name: Mapped[str] = mapped_column(String(120))
    bio: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[Gender | None] = mapped_column(pg_enum(Gender, "talent_gender"))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    playing_age_min: Mapped[int | None]
    playing_age_max: Mapped[int | None]
    height_cm: Mapped[int | None]
    location: Mapped[dict] = mapped_column(JSONB, default=dict)
    skills: Mapped[list] = mapped_column(JSONB, default=list)
    skill_keys: Mapped[list] = mapped_column(JSONB, default=list)
    languages: Mapped[list] = mapped_column(JSONB, default=list)
    language_keys: Mapped[list] = mapped_column(JSONB, default=list)
    experience_years: Mapped[int | None]
    availability_status: Mapped[Availability] = mapped_column(pg_enum(Availability, "talent_availability"),
                                                              default=Availability.AVAILABLE)
    day_rate_inr: Mapped[int | None]
    is_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_featured: Mapped[bool] = mapped_column(default=False, server_default="false")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Kept by PostgreSQL from the columns above (SQL functions of migration 0014), never written here:
    # `c:mumbai`, `st:maharashtra`, `s:acting`, `l:marathi`, `l:marathi:fluent`, `c:mumbai/s:acting`...
    filter_keys: Mapped[list] = mapped_column(ARRAY(Text), Computed(
        "casting_talent_keys(location, skill_keys, languages)", persisted=True), deferred=True)
    # The phonetic keys of the words of `search_text` (`casting_word_key`), what `q` finds talent by.
    search_words: Mapped[list] = mapped_column(ARRAY(Text), Computed("casting_words(search_text)", persisted=True),
                                               deferred=True)
    profile_score: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    media: Mapped[list[TalentMedia]] = relationship(order_by=TalentMedia.id, lazy="selectin",
                                                    cascade="all, delete-orphan", passive_deletes=True)

    @property
    def age(self):
        return age_on(self.date_of_birth)

    def refresh_derived(self):
        """Recompute the match keys, the free-text search column and the featured score from the profile."""
        self.skill_keys = sorted({skill.lower() for skill in self.skills or []})
        self.language_keys = sorted({language["name"].lower() for language in self.languages or []})
        self.search_text = " ".join([self.stage_name or "", self.bio or "", " ".join(self.skills or [])]).lower()
        self.profile_score = profile_score({name: getattr(self, name) for name in (*COMPLETENESS, "is_verified")},
                                           any(item.kind == MediaKind.HEADSHOT for item in self.media))


class TalentWord(db.Model):
    """Each phonetic word key some talent's text has (kept by triggers): `q` looks its words up here by
    trigram distance (thousands of rows), then finds the talent by the keys (`Talent.search_words`)."""

    __tablename__ = "talent_words"
    __table_args__ = (
        Index("ix_talent_words_trigram", "word", postgresql_using="gist", postgresql_ops={"word": "gist_trgm_ops"}),
    )

    word: Mapped[str] = mapped_column(Text, primary_key=True)


class TalentEmbedding(db.Model):
    """A talent's embedding from the ML service (which model made it), searched by cosine distance (HNSW).

    Its own table keeps the 1.5 kB vectors out of the talent rows every list and filter reads.
    """

    __tablename__ = "talent_embeddings"

    talent_id: Mapped[int] = mapped_column(ForeignKey("talents.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    embedding = mapped_column(Vector(embedding_dim()), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    # Copies of the talent's city and gender, kept by triggers (migration 0013): an index scan checks
    # them on the row it has read, without a join per candidate. Never written by the application.
    city: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[Gender | None] = mapped_column(pg_enum(Gender, "talent_gender"))

    __table_args__ = (
        # Half precision: half the size of the graph; the search re-ranks its candidates on `embedding`.
        Index("ix_talent_embeddings_hnsw", cast(embedding, HALFVEC(embedding_dim())).label("halfvec"),
              postgresql_using="hnsw", postgresql_ops={"halfvec": "halfvec_cosine_ops"}),
        Index("ix_talent_embeddings_filters", "city", "gender", "talent_id"),  # an index-only count
    )


class TalentEmbeddingHalf(db.Model):
    """A talent's embedding in half precision beside its city and gender, kept by a trigger on
    `talent_embeddings` (migration 0020) and dropped with it; never written by the application.

    A selective city and gender is ranked exactly on these: the matching vectors side by side in the
    covering index, in half the pages the full-precision ones take, then re-ranked on `embedding`.
    """

    __tablename__ = "talent_embedding_halves"

    talent_id: Mapped[int] = mapped_column(ForeignKey("talent_embeddings.talent_id", ondelete="CASCADE"),
                                           primary_key=True)
    city: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[Gender | None] = mapped_column(pg_enum(Gender, "talent_gender"))
    embedding = mapped_column(HALFVEC(embedding_dim()), nullable=False)

    __table_args__ = (
        Index("ix_talent_embedding_halves_exact", "city", "gender", "talent_id", postgresql_include=["embedding"]),
    )


def age_on(born, today=None):
    """Whole years from `born` to today (None for no date)."""
    if born is None:
        return None
    today = today or date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


COMPLETENESS = ("bio", "gender", "date_of_birth", "height_cm", "location", "skills", "languages",
                "experience_years")
# What `Talent.refresh_derived` reads (besides the media): an edit of none of them derives nothing.
DERIVED_FROM = frozenset({"stage_name", "bio", "skills", "languages", *COMPLETENESS, "is_verified"})


def profile_score(values, has_headshot):
    """0-100 for the featured ranking: verification counts 40, a complete profile (headshot too) 60."""
    filled = has_headshot + sum(values.get(name) not in (None, "", [], {}) for name in COMPLETENESS)
    return 40 * bool(values.get("is_verified")) + round(60 * filled / (len(COMPLETENESS) + 1))
