import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB
from pgvector.sqlalchemy import Vector
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from casting.kernel.columns import pg_enum
from casting.kernel.extensions import db
from casting.talents.models import Gender
from casting.users.models import User
from config import embedding_dim


class ProductionType(str, enum.Enum):
    FILM = "film"
    WEB_SERIES = "web_series"
    TV = "tv"
    AD = "ad"
    THEATRE = "theatre"
    MUSIC_VIDEO = "music_video"
    OTHER = "other"


class ProductionStatus(str, enum.Enum):
    DRAFT = "draft"
    CASTING = "casting"
    CLOSED = "closed"


class RoleStatus(str, enum.Enum):
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"


class Production(db.Model):
    """A film, series, ad... that a casting director or producer casts for."""

    __tablename__ = "productions"
    __table_args__ = (
        CheckConstraint("shoot_start IS NULL OR shoot_end IS NULL OR shoot_start <= shoot_end", name="shoot_dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[ProductionType] = mapped_column(pg_enum(ProductionType, "production_type"))
    language: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ProductionStatus] = mapped_column(pg_enum(ProductionStatus, "production_status"),
                                                     default=ProductionStatus.DRAFT, index=True)
    shoot_start: Mapped[date | None] = mapped_column(Date)
    shoot_end: Mapped[date | None] = mapped_column(Date)
    location: Mapped[dict] = mapped_column(JSONB, default=dict)
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # by the scam shield, until reviewed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    roles: Mapped[list["CastingRole"]] = relationship(back_populates="production", order_by="CastingRole.id",
                                                      cascade="all, delete-orphan", passive_deletes=True)


class CastingRole(db.Model):
    """A part to cast in a production, with the requirements matching reads."""

    __tablename__ = "production_roles"
    __table_args__ = (
        CheckConstraint("age_min IS NULL OR age_max IS NULL OR age_min <= age_max", name="age_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    production_id: Mapped[int] = mapped_column(ForeignKey("productions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[Gender | None] = mapped_column(pg_enum(Gender, "talent_gender"))
    age_min: Mapped[int | None]
    age_max: Mapped[int | None]
    skills: Mapped[list] = mapped_column(JSONB, default=list)
    languages: Mapped[list] = mapped_column(JSONB, default=list)
    city: Mapped[str | None] = mapped_column(String(80))
    city_required: Mapped[bool] = mapped_column(default=False, server_default="false")
    status: Mapped[RoleStatus] = mapped_column(pg_enum(RoleStatus, "role_status"), default=RoleStatus.OPEN)
    pay_inr: Mapped[int | None]
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # by the scam shield, until reviewed
    # The ML service's embedding of the part ("like this role" in matching); read only when asked for.
    embedding = mapped_column(Vector(embedding_dim()), deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(String(100))
    embedded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    production: Mapped[Production] = relationship(back_populates="roles")


_owning = aliased(Production)
Production.is_verified = column_property(
    select(User.verified_at.is_not(None)).where(User.id == Production.owner_id).scalar_subquery())
CastingRole.is_verified = column_property(
    select(User.verified_at.is_not(None)).join(_owning, _owning.owner_id == User.id)
    .where(_owning.id == CastingRole.production_id).scalar_subquery())
