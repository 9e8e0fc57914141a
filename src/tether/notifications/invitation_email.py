"""Invitation emails: each invitation row is its own email's outbox.

The same rules as notification emails (see `email`): the scheduler hands due rows out, a worker
claims each before sending, marks it sent in its own commit as soon as the server accepted it,
retries a passing failure with back-off and abandons a permanent refusal or the last try. The
admin who invited sees which, in the invitation list.
"""

import logging
import uuid
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tether.config import Settings
from tether.db import utcnow
from tether.members import invitation_repository as repository
from tether.members.invitations import link_url
from tether.models import Invitation, Member, Organization
from tether.notifications.email import retry_delay
from tether.notifications.mailer import Mailer, classify, compose
from tether.worker.job import Job

log = logging.getLogger(__name__)

SEND_ACTOR = "notifications.send_invitations"
BATCH = 50


async def take_due(session: AsyncSession, now: datetime, settings: Settings) -> list[Job]:
    """Due invitation emails, handed out in this transaction in jobs of up to BATCH."""
    due = await repository.due_ids(session, now, settings.scheduler_batch)
    until = now + timedelta(seconds=settings.dispatch_timeout_seconds)
    taken = await repository.EMAIL.hand_out(session, due, now, until)
    ids = [str(i) for i in due if i in taken]
    return [
        Job(SEND_ACTOR, (ids[start : start + BATCH],), len(ids[start : start + BATCH]))
        for start in range(0, len(ids), BATCH)
    ]


async def send_invitations(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, ids: list[str]
) -> None:
    """Send these invitations' emails that are still unsent; safe to run again."""
    now = utcnow()
    hold = timedelta(seconds=settings.dispatch_timeout_seconds)
    async with sessions() as session:
        claimed = await repository.EMAIL.claim(
            session,
            [uuid.UUID(i) for i in ids],
            claimable_until=now + 2 * hold,
            until=now + 3 * hold,
        )
        await session.commit()
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
            async with sessions() as session:
                await repository.EMAIL.mark_sent(session, [invitation.id], utcnow())
                await session.commit()
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
    async with sessions() as session:
        now = utcnow()
        if permanent or invitation.email_attempts >= settings.email_max_attempts:
            await repository.EMAIL.mark_abandoned(session, [invitation.id], reason, now)
            log.warning("Invitation email %s abandoned: %s", invitation.id, reason)
        else:
            delay = retry_delay(invitation.email_attempts, settings)
            await repository.EMAIL.mark_failed(session, [invitation.id], reason, now + delay)
            log.warning(
                "Invitation email %s failed, retrying in %ds: %s",
                invitation.id,
                delay.total_seconds(),
                reason,
            )
        await session.commit()
