"""Column types shared by the models."""
from sqlalchemy import Enum


def pg_enum(enum_class, name):
    """A PostgreSQL enum type storing the members' values (`casting_director`, not `CASTING_DIRECTOR`)."""
    return Enum(enum_class, name=name, values_callable=lambda members: [member.value for member in members])
