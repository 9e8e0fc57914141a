"""The notification actors: each delivery job can run again safely."""

from tether import runtime
from tether.notifications import email, invitation_email, webhook_delivery
from tether.worker import due
from tether.worker.actor import actor

due.register("notifications.emails", email.take_due)
due.register("notifications.invitations", invitation_email.EMAILS.take_due)
due.register("notifications.webhooks", webhook_delivery.DELIVERIES.take_due)


# Their own queue, so a storm of checks never holds back the news of what they found.
@actor(email.SEND_ACTOR, queue_name="notifications", time_limit=10 * 60 * 1000)
async def send_emails(ids: list[str]) -> None:
    """Send one email (or one digest) made of these outbox rows, unless already sent."""
    current = runtime.current()
    await email.send_emails(current.sessions, current.settings, ids)


@actor(webhook_delivery.DELIVER_ACTOR, queue_name="notifications", time_limit=10 * 60 * 1000)
async def deliver_webhooks(ids: list[str]) -> None:
    """POST these webhook deliveries to their endpoints, unless already delivered."""
    current = runtime.current()
    await webhook_delivery.deliver(current.sessions, current.settings, ids)


@actor(invitation_email.SEND_ACTOR, queue_name="notifications", time_limit=10 * 60 * 1000)
async def send_invitations(ids: list[str]) -> None:
    """Email these invitations, unless already sent."""
    current = runtime.current()
    await invitation_email.send_invitations(current.sessions, current.settings, ids)
