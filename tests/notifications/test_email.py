"""Email: the right people get one email per lapse, grouped as the provider wants, through a real
SMTP server that may be down for a while."""

import asyncio
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import time_machine
from sqlalchemy import select

from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tether.config import Settings
from tether.db import utcnow
from tether.health.classify import OK, Observation, Verdict
from tether.health.status import Context, record
from tether.models import Account, Authorization, Connection, EmailDelivery
from tether.notifications import email
from tether.providers.base import Reason
from tether.providers.catalog import BY_KEY

LINK = re.compile(r"https?://\S+/reconnect/([A-Za-z0-9_\-.]+)")


# -- Helpers ---------------------------------------------------------------------------------


async def deliver(tether: Tether, settings: Settings | None = None) -> int:
    """One scheduler pass and the jobs it made, run in place; returns how many jobs ran."""
    settings = settings or tether.settings
    async with tether.sessions() as session:
        jobs = await email.take_due(session, utcnow(), settings)
        await session.commit()
    for job in jobs:
        assert job.actor == "notifications.send_emails"
        await email.send_emails(tether.sessions, settings, *job.args)
    return len(jobs)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """The clock stands still at this moment, so each step sees exactly what is due."""
    with time_machine.travel(moment, tick=False):
        yield


async def me(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/api/v1/members/me")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def opt(api: httpx.AsyncClient, event: str, enabled: bool) -> None:
    choice = [{"event": event, "channel": "email", "enabled": enabled}]
    response = await api.put("/api/v1/notification-preferences", json=choice)
    assert response.status_code == 200, response.text


async def revoke_and_check(connected: Connected, times: int = 1) -> None:
    await connected.tether.sandbox("POST", "/users/alice/grants/revoke")
    for _ in range(times):
        await connected.check()


async def rows(tether: Tether) -> list[EmailDelivery]:
    async with tether.sessions() as session:
        found = await session.scalars(select(EmailDelivery).order_by(EmailDelivery.created_at))
        return list(found.all())


def link_token(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


# Snapchat Ads groups its emails in a digest (the catalog says so). Its grants are written as
# rows and their checks recorded by the health engine's own `record`, which opens and closes
# incidents, and so writes the outbox, as a real check does: many grants lapse at set minutes.


async def snapchat_grant(tether: Tether, org: Org, client: dict[str, Any], user: str) -> uuid.UUID:
    async with tether.sessions() as session:
        authorization = Authorization(
            organization_id=org.id,
            provider="snapchat_ads",
            connector_id=org.admin_id,
            external_user_id=f"snap-{user}",
            external_user_name=user,
        )
        session.add(authorization)
        await session.flush()
        account = Account(
            organization_id=org.id,
            authorization_id=authorization.id,
            external_id=f"ad-{user}",
            name=f"{user} ads",
        )
        session.add(account)
        await session.flush()
        session.add(
            Connection(
                organization_id=org.id,
                client_id=uuid.UUID(client["id"]),
                authorization_id=authorization.id,
                account_id=account.id,
                provider="snapchat_ads",
                client_name=client["name"],
                account_name=account.name,
                account_external_id=account.external_id,
            )
        )
        await session.commit()
        return authorization.id


async def snapchat_check(
    tether: Tether, authorization_id: uuid.UUID, seen: Observation, now: datetime
) -> None:
    async with tether.sessions() as session:
        authorization = await session.get(Authorization, authorization_id)
        assert authorization is not None
        await record(session, authorization, seen, Context(tether.settings, now))
        await session.commit()


REVOKED = Observation(Verdict.LAPSE, Reason.TOKEN_REVOKED, "The Snapchat user revoked access.")


# -- Who gets an email -----------------------------------------------------------------------


async def test_the_connector_gets_one_email_naming_who_connected_with_a_link_that_opens(
    connected: Connected, smtp: Mailbox
) -> None:
    admin = await me(connected.org.api)

    await revoke_and_check(connected, times=3)
    await deliver(connected.tether)
    await deliver(connected.tether)

    (received,) = smtp.received
    assert received.recipients == [admin["email"]]
    assert received.sender == "tether@localhost"
    assert received.subject == "The Sandbox Ads access of Alice Martin needs reconnecting"
    assert received.message["Auto-Submitted"] == "auto-generated"
    for body in (received.text, received.html):
        assert f"{admin['name']} ({admin['email']})" in body
        assert "Blue Fjord Coffee, Northwind Outfitters" in body
        assert "Sandbox Ads said" in body
        assert "Notification settings" in body  # the screen's own name for it
    token = link_token(received.text)
    assert token in received.html
    opened = await connected.org.api.get(f"/api/v1/reconnect-links/{token}")
    assert opened.status_code == 200, opened.text
    assert opened.json()["authorization_id"] == connected.id
    (row,) = await rows(connected.tether)
    assert row.sent_at is not None
    assert (row.attempts, row.last_error) == (1, None)


async def test_others_get_email_when_they_opted_in_and_see_an_affected_client(
    connected: Connected, smtp: Mailbox
) -> None:
    northwind, _fjord = connected.clients
    sees_all = await connected.org.member("staff")
    sees_northwind = await connected.org.member("staff", clients=[northwind["id"]])
    sees_none = await connected.org.member("staff", clients=[])
    viewer = await connected.org.member("viewer")
    quiet = await connected.org.member("staff")
    for api in (sees_all, sees_northwind, sees_none, viewer):
        await opt(api, "authorization.lapsed", True)
    apis = {"admin": connected.org.api, "all": sees_all, "northwind": sees_northwind,
            "none": sees_none, "viewer": viewer, "quiet": quiet}  # fmt: skip
    people = {name: await me(api) for name, api in apis.items()}

    await revoke_and_check(connected, times=2)
    await deliver(connected.tether)

    expected = sorted(people[name]["email"] for name in ("admin", "all", "northwind", "viewer"))
    assert smtp.recipients == expected
    (limited,) = smtp.to(people["northwind"]["email"])
    assert "Northwind Outfitters" in limited.text
    assert "Blue Fjord Coffee" not in limited.text + limited.html
    (everyone,) = smtp.to(people["all"]["email"])
    assert "Blue Fjord Coffee, Northwind Outfitters" in everyone.text
    # Whoever gets it, it names the person who connected the account.
    assert f"Connected by: {people['admin']['name']} ({people['admin']['email']})" in limited.text


async def test_the_connector_can_opt_out(connected: Connected, smtp: Mailbox) -> None:
    await opt(connected.org.api, "authorization.lapsed", False)

    await revoke_and_check(connected)
    await deliver(connected.tether)

    assert smtp.received == []
    assert await rows(connected.tether) == []


# -- Grouping --------------------------------------------------------------------------------


async def test_an_individual_provider_sends_each_incident_at_once_in_its_own_email(
    connected: Connected, smtp: Mailbox
) -> None:
    assert BY_KEY["sandbox"].email_grouping == "individual"
    for account in connected.accounts:
        await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{account['external_id']}")
    await connected.check()

    await deliver(connected.tether)

    assert [r.subject for r in smtp.received] == ["A Sandbox Ads connection needs reconnecting"] * 2
    assert {
        next(name for name in ("Northwind Outfitters", "Blue Fjord Coffee") if name in r.text)
        for r in smtp.received
    } == {"Northwind Outfitters", "Blue Fjord Coffee"}
    assert len({r.message["Message-ID"] for r in smtp.received}) == 2


async def test_a_digest_provider_gathers_a_window_of_lapses_in_one_email(
    org: Org, tether: Tether, smtp: Mailbox
) -> None:
    assert BY_KEY["snapchat_ads"].email_grouping == "digest"
    client = await org.client("Harbor Bikes")
    grants = [await snapchat_grant(tether, org, client, user) for user in ("sam", "kim", "lee")]
    late = await snapchat_grant(tether, org, client, "max")
    start = utcnow()
    window = timedelta(seconds=tether.settings.email_digest_window_seconds)

    for minutes, grant in zip((0, 5, 10), grants, strict=True):
        await snapchat_check(tether, grant, REVOKED, start + timedelta(minutes=minutes))
    with at(start + timedelta(minutes=14)):
        assert await deliver(tether) == 0
    with at(start + window + timedelta(seconds=5)):
        assert await deliver(tether) == 1
        await snapchat_check(tether, late, REVOKED, utcnow())
        await snapchat_check(tether, grants[0], OK, utcnow() + timedelta(minutes=2))
    with at(start + window + timedelta(minutes=10)):
        assert await deliver(tether) == 0
    with at(start + 2 * window + timedelta(minutes=5)):
        assert await deliver(tether) == 1
        assert await deliver(tether) == 0

    first, second = smtp.received
    assert first.subject == "Snapchat Ads: 3 connections need reconnecting"
    for user in ("sam", "kim", "lee"):
        assert f"The Snapchat Ads access of {user} needs reconnecting." in first.text
    assert len(LINK.findall(first.text)) == 3
    assert "The Snapchat user revoked access." in first.text
    assert "Harbor Bikes" in first.html
    assert second.subject == (
        "Snapchat Ads: 1 connection needs reconnecting, 1 connection works again"
    )
    assert "The Snapchat Ads access of max needs reconnecting." in second.text
    assert "The Snapchat Ads access of sam works again." in second.text
    assert len(LINK.findall(second.text)) == 1


async def test_a_digest_of_more_lapses_than_it_lists_counts_the_rest_and_links_to_them(
    org: Org, tether: Tether, smtp: Mailbox
) -> None:
    client = await org.client("Harbor Bikes")
    users = [f"user{n:02d}" for n in range(email.DIGEST_LISTED + 2)]
    grants = [await snapchat_grant(tether, org, client, user) for user in users]
    start = utcnow()
    window = timedelta(seconds=tether.settings.email_digest_window_seconds)
    for n, grant in enumerate(grants):
        await snapchat_check(tether, grant, REVOKED, start + timedelta(seconds=n))
    # The first works again before the digest leaves: told, but nothing to do.
    await snapchat_check(tether, grants[0], OK, start + timedelta(minutes=5))
    with at(start + window + timedelta(minutes=1)):
        assert await deliver(tether) == 1

    (digest,) = smtp.received
    assert digest.subject == (
        f"Snapchat Ads: {len(users)} connections need reconnecting, 1 connection works again"
    )
    told = len(users) + 1  # every lapse, and the one restoration
    listed = email.DIGEST_LISTED
    assert f"{told} things happened to your data sources on Snapchat Ads ({listed} below" in (
        digest.text
    )
    # Those that need the reader come first: every one listed has its reconnect link.
    assert len(LINK.findall(digest.text)) == listed
    listing, more, _ = digest.text.partition(f"And {told - listed} more.")
    assert more, digest.text
    assert "works again" not in listing
    everything = "/connections?tab=needs_reconnect&amp;provider=snapchat_ads"
    assert everything in digest.html
    assert everything.replace("&amp;", "&") in digest.text
    assert len(bytes(digest.message)) < 102_000  # under the size at which Gmail clips one


# -- Restoration ------------------------------------------------------------------------------


async def test_a_restoration_emails_that_it_works_again(
    connected: Connected, smtp: Mailbox
) -> None:
    lost = connected.accounts[0]
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    await deliver(connected.tether)
    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    await deliver(connected.tether)

    lapsed, restored = smtp.received
    assert lapsed.subject == "A Sandbox Ads connection needs reconnecting"
    assert LINK.search(lapsed.text)
    assert restored.subject == "A Sandbox Ads connection works again"
    assert "Northwind Outfitters" in restored.text
    assert not LINK.search(restored.text + restored.html)


async def test_a_lapse_over_before_its_email_left_says_so_without_a_link(
    connected: Connected, smtp: Mailbox
) -> None:
    lost = connected.accounts[0]
    await connected.tether.sandbox("DELETE", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    await connected.tether.sandbox("PUT", f"/users/alice/accounts/{lost['external_id']}")
    await connected.check()
    await deliver(connected.tether)

    subjects = sorted(r.subject for r in smtp.received)
    assert subjects == [
        "A Sandbox Ads connection needed reconnecting and works again now",
        "A Sandbox Ads connection works again",
    ]
    assert not any(LINK.search(r.text + r.html) for r in smtp.received)


# -- Exactly once ----------------------------------------------------------------------------


async def test_smtp_down_for_a_while_loses_nothing_and_doubles_nothing(
    connected: Connected, org: Org, tether: Tether, smtp: Mailbox
) -> None:
    client = await org.client("Harbor Bikes")
    grants = [await snapchat_grant(tether, org, client, user) for user in ("sam", "kim")]
    admin = await me(org.api)
    start = utcnow()
    smtp.stop()

    await revoke_and_check(connected)
    for grant in grants:
        await snapchat_check(tether, grant, REVOKED, start)
    # Down for an hour: the scheduler and workers keep trying, the rows keep their place, and
    # a row that just failed is not handed out again before its back-off is over.
    for minute in range(0, 60, 4):
        with at(start + timedelta(minutes=minute)):
            await deliver(tether)
            async with tether.sessions() as session:
                assert await email.take_due(session, utcnow(), tether.settings) == []
                await session.rollback()
    pending = await rows(tether)
    assert len(pending) == 3
    assert all(r.sent_at is None and r.attempts >= 3 for r in pending)
    assert all(r.last_error and "Connect" in r.last_error for r in pending)

    smtp.start()
    with at(start + timedelta(minutes=80)):
        await deliver(tether)
        await deliver(tether)
    with at(start + timedelta(minutes=100)):
        await deliver(tether)

    assert sorted(r.subject for r in smtp.to(admin["email"])) == [
        "Snapchat Ads: 2 connections need reconnecting",
        "The Sandbox Ads access of Alice Martin needs reconnecting",
    ]
    assert len(smtp.received) == 2
    assert all(r.sent_at is not None and r.last_error is None for r in await rows(tether))


async def test_a_server_refusing_mail_for_a_while_gets_it_once_when_it_accepts(
    connected: Connected, smtp: Mailbox
) -> None:
    smtp.refusing = "451 4.3.0 Try again later"
    await revoke_and_check(connected)
    start = utcnow()

    await deliver(connected.tether)
    (row,) = await rows(connected.tether)
    assert "451" in (row.last_error or "")
    smtp.refusing = None
    with at(start + timedelta(minutes=2)):
        await deliver(connected.tether)
        await deliver(connected.tether)

    assert len(smtp.received) == 1
    (row,) = await rows(connected.tether)
    assert (row.attempts, row.last_error) == (2, None)


async def test_a_job_run_again_or_twice_at_once_sends_once(
    connected: Connected, smtp: Mailbox
) -> None:
    tether = connected.tether
    await revoke_and_check(connected)
    async with tether.sessions() as session:
        (job,) = await email.take_due(session, utcnow(), tether.settings)
        assert await email.take_due(session, utcnow(), tether.settings) == []
        await session.commit()
    (ids,) = job.args
    assert isinstance(ids, list)

    await asyncio.gather(*(email.send_emails(tether.sessions, tether.settings, ids) for _ in "ab"))
    await email.send_emails(tether.sessions, tether.settings, ids)
    await deliver(tether)

    assert len(smtp.received) == 1


async def test_a_lost_job_is_handed_out_again_after_the_dispatch_timeout(
    connected: Connected, smtp: Mailbox
) -> None:
    tether = connected.tether
    await revoke_and_check(connected)
    async with tether.sessions() as session:
        assert len(await email.take_due(session, utcnow(), tether.settings)) == 1
        await session.commit()  # ... and the job never reaches a worker.

    assert await deliver(tether) == 0
    timeout = timedelta(seconds=tether.settings.dispatch_timeout_seconds)
    with at(utcnow() + timeout + timedelta(seconds=1)):
        assert await deliver(tether) == 1

    assert len(smtp.received) == 1


# -- Without an SMTP server ------------------------------------------------------------------


async def test_without_an_smtp_host_emails_are_written_to_the_outbox_folder(
    connected: Connected, smtp: Mailbox, tmp_path: Path
) -> None:
    settings = connected.tether.settings.model_copy(
        update={"smtp_host": None, "data_dir": tmp_path}
    )
    admin = await me(connected.org.api)
    await revoke_and_check(connected)
    (row,) = await rows(connected.tether)

    await deliver(connected.tether, settings)
    await email.send_emails(connected.tether.sessions, settings, [str(row.id)])

    assert smtp.received == []
    (written,) = (tmp_path / "outbox").iterdir()
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert written.name == f"{message['Message-ID'].strip('<>').split('@')[0]}.eml"
    assert admin["email"] in message["To"]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert link_token(str(body.get_content()))


def test_the_smtp_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings(smtp_host="mail.example.com", smtp_password="hunter2-secret")

    assert "hunter2-secret" not in repr(settings)
    assert settings.smtp_port == 587
    assert settings.smtp_tls == "starttls"
