"""The member making a request or a job: who acts, in which organization, with what reach.

Shared by every domain (as `errors` is), so that none needs another to say who acts."""

import uuid
from dataclasses import dataclass

from tether.errors import Forbidden
from tether.models.member import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The member making a request, with what their role and client access allow."""

    member_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    email: str
    # None: every client of the organization; otherwise only these.
    client_ids: frozenset[uuid.UUID] | None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def audit_name(self) -> str:
        """How the audit log names this member as the one who acted."""
        return f"member:{self.member_id}"

    def can_see_client(self, client_id: uuid.UUID) -> bool:
        return self.client_ids is None or client_id in self.client_ids

    def require_admin(self, doing: str) -> None:
        if not self.is_admin:
            raise Forbidden(f"Only admins can {doing}.")

    def require_writer(self, doing: str) -> None:
        if self.role == Role.VIEWER:
            raise Forbidden(f"Viewers cannot {doing}; ask an admin or staff member.")
