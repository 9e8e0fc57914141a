import uuid

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base, IdMixin, TimestampMixin


class Client(IdMixin, TimestampMixin, Base):
    """A customer of the agency whose reports use data."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
