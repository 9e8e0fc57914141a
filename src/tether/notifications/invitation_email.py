"""Invitation emails: each invitation row is its own email's outbox.

The same rules as notification emails (see `email`): the scheduler hands due rows out, a worker
claims each before sending, marks it sent in its own commit as soon as the server accepted it,
retries a passing failure with back-off and abandons a permanent refusal or the last try. The
admin who invited sees which, in the invitation list.
"""

import logging
import uuid
from email.message import Message

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether.config import Settings
from tether.db import utcnow
from tether.members import invitation_repository as repository
from tether.members.invitations import link_url
from tether.models import Invitation, Member, Organization
from tether.notifications.email import retries
from tether.notifications.mailer import Mailer, classify, compose
from tether.worker import queue
from tether.worker.queue import DueWork

log = logging.getLogger(__name__)

SEND_ACTOR = "notifications.send_invitations"
# The scheduler hands due invitation emails out; a lost job's are due again after the timeout.
EMAILS = DueWork(SEND_ACTOR, repository.EMAIL.due, repository.EMAIL.hand_out)


async def send_invitations(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, ids: list[str]
) -> None:
    """Send these invitations' emails that are still unsent; safe to run again."""
    held = queue.holds(utcnow(), settings)
    async with sessions.begin() as session:
        claimed = await repository.EMAIL.claim(
            session,
            [uuid.UUID(i) for i in ids],
            claimable_until=held.claimable_until,
            until=held.until,
        )
    if not claimed:
        return
    async with sessions() as session:
        found = await repository.with_senders(session, list(claimed))
    mailer = Mailer(settings)
    try:
        for invitation, organization, invited_by in found:
            try:
                message = render(invitation, organization, invited_by, settings)
                await mailer.deliver(message, invitation.email)
            except Exception as error:
                await _failed(sessions, settings, invitation, error)
                continue
            async with sessions.begin() as session:
                await repository.EMAIL.mark_done(session, [invitation.id], utcnow())
            log.info("Sent invitation %s as %s", invitation.id, message["Message-ID"])
    finally:
        await mailer.close()


def render(
    invitation: Invitation,
    organization: Organization,
    invited_by: Member | None,
    settings: Settings,
) -> Message:
    """The invitation email, with the link that accepts it."""
    inviter = invited_by.name if invited_by else f"An admin of {organization.name}"
    context = {
        "invitation": invitation,
        "organization": organization,
        "inviter": inviter,
        "url": link_url(settings.resolved_public_url, invitation),
        "expires": f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC",
    }
    return compose(
        template="invitation",
        context=context,
        subject=f"{inviter} invited you to {organization.name} on Tether",
        to=(invitation.name, invitation.email),
        # A resent invitation is a new email, with a new link.
        key=[invitation.id, invitation.link_nonce],
        settings=settings,
    )


async def _failed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    invitation: Invitation,
    error: Exception,
) -> None:
    permanent, reason = classify(error, settings)
    async with sessions.begin() as session:
        now = utcnow()
        retry_at = retries(settings).next_try(invitation.email_attempts, now)
        if permanent or retry_at is None:
            await repository.EMAIL.mark_abandoned(session, [invitation.id], reason, now)
            log.warning("Invitation email %s abandoned: %s", invitation.id, reason)
        else:
            await repository.EMAIL.mark_failed(session, [invitation.id], reason, retry_at)
            log.warning(
                "Invitation email %s failed, retrying in %ds: %s",
                invitation.id,
                (retry_at - now).total_seconds(),
                reason,
            )
