"""The columns every count the database keeps shares: an organization's rows of one table by
provider and status (`connection_counts`, `authorization_counts`), and the changes PostgreSQL
appends before they are folded in (docs/decisions/009)."""

import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class KeptCount:
    """How many rows an organization has of one provider in one status."""

    @declared_attr
    def organization_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class KeptCountChange:
    """A statement's net change to one count, not yet folded in (PostgreSQL only). No foreign key:
    an organization's deletion cascades to the counted rows, whose trigger then records changes
    of an organization that is gone; the fold drops those."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index]:
        return (Index(None, "organization_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    organization_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)
