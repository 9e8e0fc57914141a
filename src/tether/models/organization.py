from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, TimestampMixin


class Organization(IdMixin, TimestampMixin, Base):
    """The tenant: an agency or brand team. Nothing crosses its border."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
