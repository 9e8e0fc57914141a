from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tether.db import Base


class Lease(Base):
    """A named, expiring claim: who runs the scheduler (on SQLite; PostgreSQL uses an advisory
    lock)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime]
