"""How many authorizations each organization has, by provider and status, kept by the database
as the connections' counts are (models/connection_count.py; triggers of migration 0014): the
Data sources screen and each provider's settings read a few rows instead of counting an
organization's authorizations."""

from tether.db import Base
from tether.models.kept_count import KeptCount, KeptCountChange


class AuthorizationCount(KeptCount, Base):
    __tablename__ = "authorization_counts"


class AuthorizationCountChange(KeptCountChange, Base):
    __tablename__ = "authorization_count_changes"
