"""Invitations: the one way a person joins an existing organization.

An admin invites an email address; Tether emails a signed link to it; whoever holds the mailbox
chooses their name and password and becomes a member. The organization sees the invitation as
pending until then, alike for every address. Whether an address already signs in elsewhere
(one login per email, decision 004) is told only to its mailbox, on the link's page, so an
organization never learns who belongs to another (decision 007).
"""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether import vault
from tether.actor import Actor
from tether.audit import service as audit
from tether.clients import repository as clients_repository
from tether.db import utcnow
from tether.errors import Conflict, NotFound, TetherError
from tether.kit.signing import BadSignature, Expired, Signer
from tether.members import invitation_repository as repository
from tether.members import repository as members_repository
from tether.members.service import check_clients, create_member
from tether.models import Invitation, Member, Organization, Role

LIFETIME = timedelta(days=7)
PURPOSE = "invitation"


@dataclass(frozen=True, slots=True)
class Opened:
    """An invitation as its link's page shows it."""

    invitation: Invitation
    organization: Organization
    invited_by: Member | None
    # The address already signs in to Tether (here or elsewhere): it cannot be accepted.
    taken: bool


async def invite(
    session: AsyncSession,
    *,
    actor: Actor,
    email: str,
    name: str,
    role: Role,
    client_ids: Sequence[uuid.UUID] | None = None,
) -> Invitation:
    """Invite an address, and have the invitation emailed to it; staff get every client unless
    `client_ids` is given. Inviting an address again while its invitation is still current is a
    409 (resend it instead); an expired one is replaced."""
    actor.require_admin("invite members")
    email = email.strip().lower()
    member = await members_repository.get_by_email(session, email)
    # Only this organization's own members are told apart: the admin sees them listed anyway.
    if member is not None and member.organization_id == actor.organization_id:
        raise Conflict(f"{email} is already a member of this organization.", code="member_exists")
    limited = role == Role.STAFF and client_ids is not None
    ids = await check_clients(session, actor.organization_id, client_ids or []) if limited else None
    now = utcnow()
    earlier = await repository.by_email(session, actor.organization_id, email)
    if earlier is not None and earlier.expires_at > now:
        raise Conflict(
            f"{email} was already invited on {earlier.created_at:%Y-%m-%d}. "
            "Send that invitation again, or cancel it first.",
            code="already_invited",
        )
    if earlier is not None:
        await session.delete(earlier)
        await session.flush()
    invitation = add(
        session,
        organization_id=actor.organization_id,
        email=email,
        name=name,
        role=role,
        client_ids=ids,
        invited_by_id=actor.member_id,
    )
    _audit(session, actor, "member.invited", invitation, role=role)
    await session.flush()
    return invitation


def add(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    client_ids: Sequence[uuid.UUID] | None,
    invited_by_id: uuid.UUID | None,
) -> Invitation:
    """A new invitation, its email due now; the caller has checked who may invite whom."""
    now = utcnow()
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email.strip().lower(),
        name=name.strip(),
        role=role,
        client_ids=None if client_ids is None else [str(i) for i in client_ids],
        invited_by_id=invited_by_id,
        link_nonce=secrets.token_urlsafe(16),
        created_at=now,
        expires_at=now + LIFETIME,
        email_due_at=now,
    )
    session.add(invitation)
    return invitation


async def list_invitations(session: AsyncSession, *, actor: Actor) -> Sequence[Invitation]:
    actor.require_admin("see invitations")
    return await repository.list_all(session, actor.organization_id)


async def get_invitation(
    session: AsyncSession, *, actor: Actor, invitation_id: uuid.UUID
) -> Invitation:
    actor.require_admin("see invitations")
    invitation = await repository.get(session, actor.organization_id, invitation_id)
    if invitation is None:
        raise NotFound("No such invitation. It may have been accepted or cancelled.")
    return invitation


async def resend(session: AsyncSession, *, actor: Actor, invitation_id: uuid.UUID) -> Invitation:
    """Email the invitation again with a new link, current for another LIFETIME. Links sent
    before stop working, so only the newest email counts."""
    actor.require_admin("invite members")
    invitation = await get_invitation(session, actor=actor, invitation_id=invitation_id)
    now = utcnow()
    invitation.link_nonce = secrets.token_urlsafe(16)
    invitation.expires_at = now + LIFETIME
    invitation.email_due_at = now
    invitation.email_sent_at = None
    invitation.email_abandoned_at = None
    invitation.email_last_error = None
    invitation.email_attempts = 0
    _audit(session, actor, "member.invitation_resent", invitation)
    await session.flush()
    return invitation


async def cancel(session: AsyncSession, *, actor: Actor, invitation_id: uuid.UUID) -> Invitation:
    """Withdraw an invitation: its link stops working at once."""
    actor.require_admin("cancel invitations")
    invitation = await get_invitation(session, actor=actor, invitation_id=invitation_id)
    _audit(session, actor, "member.invitation_cancelled", invitation)
    await session.delete(invitation)
    await session.flush()
    return invitation


# -- The link ---------------------------------------------------------------------------------


def _signer() -> Signer:
    return Signer(vault.keyring().derive("links"))


def link_token(invitation: Invitation) -> str:
    payload = {"invitation": str(invitation.id), "nonce": invitation.link_nonce}
    return _signer().sign(payload, purpose=PURPOSE, expires_at=invitation.expires_at)


def link_url(public_url: str, invitation: Invitation) -> str:
    return f"{public_url}/invitations/{link_token(invitation)}"


async def open_link(session: AsyncSession, token: str) -> Opened:
    """The invitation behind a genuine, current link; raises a clear refusal otherwise."""
    try:
        payload = _signer().verify(token, purpose=PURPOSE, now=utcnow())
        invitation_id = uuid.UUID(str(payload.get("invitation")))
    except Expired:
        raise TetherError(
            "This invitation has expired. Ask whoever invited you to send it again.",
            code="invitation_expired",
            status=410,
        ) from None
    except (BadSignature, ValueError):
        raise _gone() from None
    found = await repository.with_senders(session, [invitation_id])
    if not found or not secrets.compare_digest(
        found[0][0].link_nonce, str(payload.get("nonce", ""))
    ):
        raise _gone()
    invitation, organization, invited_by = found[0]
    taken = await members_repository.get_by_email(session, invitation.email) is not None
    return Opened(invitation, organization, invited_by, taken)


async def accept(session: AsyncSession, opened: Opened, *, name: str, password: str) -> Member:
    """Join the organization as the opened invitation (`open_link`) says, with this name and
    password. The link works once: the invitation is gone afterwards."""
    invitation = opened.invitation
    if opened.taken:
        raise Conflict(taken_message(opened), code="email_taken")
    ids = invitation.client_ids
    # A client deleted since the invitation is simply left out.
    existing = (
        None
        if ids is None
        else await clients_repository.existing_ids(
            session, invitation.organization_id, [uuid.UUID(i) for i in ids]
        )
    )
    member = await create_member(
        session,
        organization_id=invitation.organization_id,
        email=invitation.email,
        name=name.strip() or invitation.name or invitation.email,
        role=Role(invitation.role),
        client_ids=None if existing is None else sorted(existing),
        password=password,
    )
    audit.record(
        session,
        organization_id=invitation.organization_id,
        actor=f"member:{member.id}",
        action="member.joined",
        subject_type="member",
        subject_id=member.id,
        email=member.email,
        role=member.role,
    )
    await session.delete(invitation)
    await session.flush()
    return member


def taken_message(opened: Opened) -> str:
    who = opened.invited_by.name if opened.invited_by else "whoever invited you"
    return (
        f"{opened.invitation.email} already signs in to Tether, and an address signs in to one "
        f"organization only. Ask {who} to invite another address of yours."
    )


def _gone() -> TetherError:
    # Never genuine, or since accepted, cancelled or replaced by a newer email: alike.
    return TetherError(
        "This invitation link is no longer valid: it was used, cancelled, or replaced by a "
        "newer email. Use the link in the latest invitation email, or ask for a new one.",
        code="invitation_invalid",
        status=404,
    )


def _audit(
    session: AsyncSession, actor: Actor, action: str, invitation: Invitation, **details: str
) -> None:
    audit.record(
        session,
        organization_id=invitation.organization_id,
        actor=actor.audit_name,
        action=action,
        subject_type="invitation",
        subject_id=invitation.id,
        email=invitation.email,
        **details,
    )
