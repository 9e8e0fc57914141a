"""Email a mail server will not take: a recipient refused for good is given up at once, one it
keeps refusing for now after the last try; either way admins see it, and nothing retries it."""

import uuid
from datetime import timedelta

from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tests.notifications.test_email import (
    REVOKED,
    at,
    deliver,
    me,
    opt,
    revoke_and_check,
    rows,
    snapchat_check,
    snapchat_grant,
)
from tether.db import utcnow
from tether.models import EmailDelivery

UNKNOWN = "550 5.1.1 No such user here"
BUSY = "451 4.2.1 Mailbox busy, try again later"


def by_member(found: list[EmailDelivery], member: dict[str, str]) -> EmailDelivery:
    (row,) = [r for r in found if r.member_id == uuid.UUID(member["id"])]
    return row


async def test_a_refused_recipient_is_given_up_at_once_and_a_busy_one_after_its_last_try(
    connected: Connected, smtp: Mailbox
) -> None:
    tether = connected.tether
    settings = tether.settings.model_copy(update={"email_max_attempts": 3})
    unknown_api = await connected.org.member("staff")
    busy_api = await connected.org.member("staff")
    viewer_api = await connected.org.member("viewer")
    for api in (unknown_api, busy_api):
        await opt(api, "authorization.lapsed", True)
    admin, unknown, busy = [await me(api) for api in (connected.org.api, unknown_api, busy_api)]
    smtp.refused_recipients = {unknown["email"]: UNKNOWN, busy["email"]: BUSY}
    await revoke_and_check(connected)
    start = utcnow()

    await deliver(tether, settings)

    found = await rows(tether)
    refused = by_member(found, unknown)
    assert (refused.attempts, refused.last_error) == (1, UNKNOWN)
    assert refused.abandoned_at is not None
    waiting = by_member(found, busy)
    assert (waiting.attempts, waiting.last_error, waiting.abandoned_at) == (1, BUSY, None)

    # The busy one is retried with back-off until its tries are used, then never again.
    for minutes in range(5, 240, 5):
        with at(start + timedelta(minutes=minutes)):
            await deliver(tether, settings)
    with at(start + timedelta(days=2)):
        assert await deliver(tether, settings) == 0

    found = await rows(tether)
    given_up = by_member(found, busy)
    assert (given_up.attempts, given_up.last_error) == (3, BUSY)
    assert given_up.abandoned_at is not None
    assert by_member(found, unknown).attempts == 1
    assert by_member(found, admin).sent_at is not None
    assert smtp.recipients == [admin["email"]]

    listed = await connected.org.api.get("/api/v1/undelivered-emails")
    assert listed.status_code == 200, listed.text
    seen = {item["member_email"]: item for item in listed.json()["data"]}
    assert set(seen) == {unknown["email"], busy["email"]}
    assert (seen[unknown["email"]]["reason"], seen[unknown["email"]]["attempts"]) == (UNKNOWN, 1)
    assert (seen[busy["email"]]["reason"], seen[busy["email"]]["attempts"]) == (BUSY, 3)
    for item, member in ((seen[unknown["email"]], unknown), (seen[busy["email"]], busy)):
        assert item["member_id"] == member["id"]
        assert item["member_name"] == member["name"]
        assert item["event"] == "authorization.lapsed"
        assert item["incident_id"] == str(refused.incident_id)
        assert item["abandoned_at"] is not None
    # The last given up comes first.
    assert [i["member_email"] for i in listed.json()["data"]] == [busy["email"], unknown["email"]]
    for api in (viewer_api, busy_api):
        refused_answer = await api.get("/api/v1/undelivered-emails")
        assert refused_answer.status_code == 403, refused_answer.text
        assert "Only admins" in refused_answer.json()["error"]["message"]


async def test_a_digest_after_a_given_up_one_carries_only_the_new_lapses(
    org: Org, tether: Tether, smtp: Mailbox
) -> None:
    settings = tether.settings.model_copy(update={"email_max_attempts": 2})
    client = await org.client("Harbor Bikes")
    first = [await snapchat_grant(tether, org, client, user) for user in ("sam", "kim")]
    late = await snapchat_grant(tether, org, client, "lee")
    admin = await me(org.api)
    window = timedelta(seconds=settings.email_digest_window_seconds)
    smtp.refused_recipients = {admin["email"]: BUSY}
    start = utcnow()

    for grant in first:
        await snapchat_check(tether, grant, REVOKED, start)
    for minutes in (16, 30, 60):
        with at(start + timedelta(minutes=minutes)):
            await deliver(tether, settings)
    given_up = await rows(tether)
    assert [(r.attempts, r.abandoned_at is not None) for r in given_up] == [(2, True)] * 2

    smtp.refused_recipients = {}
    later = start + timedelta(hours=2)
    await snapchat_check(tether, late, REVOKED, later)
    with at(later + window + timedelta(minutes=1)):
        assert await deliver(tether, settings) == 1
    with at(later + 2 * window + timedelta(minutes=1)):
        assert await deliver(tether, settings) == 0

    (received,) = smtp.received
    assert received.subject == "The Snapchat Ads access of lee needs reconnecting"
    assert "sam" not in received.text
    for row in await rows(tether):
        if row.id in {r.id for r in given_up}:
            assert (row.attempts, row.sent_at) == (2, None)
        else:
            assert row.sent_at is not None
