"""The outbox reads an organization's audience once per transaction, and never a stale one."""

from sqlalchemy import update

from tests.fixtures.builders import Org
from tether.models import Event, Member, NotificationPreference
from tether.notifications import outbox

LAPSED = Event.AUTHORIZATION_LAPSED


async def test_an_audience_is_read_once_per_transaction(org: Org) -> None:
    async with org.sessions() as session:
        first = await outbox.audience(session, org.id, LAPSED)
        assert await outbox.audience(session, org.id, LAPSED) is first
        await session.commit()
        assert await outbox.audience(session, org.id, LAPSED) is not first


async def test_writes_to_members_or_preferences_forget_the_audience(org: Org) -> None:
    async with org.sessions() as session:
        before = await outbox.audience(session, org.id, LAPSED)
        assert [m.id for m in before.members] == [org.admin_id]
        assert before.chosen == {}

        session.add(
            NotificationPreference(
                member_id=org.admin_id, event=LAPSED, channel="email", enabled=True
            )
        )
        await session.flush()
        chosen = await outbox.audience(session, org.id, LAPSED)
        assert chosen is not before
        assert chosen.chosen == {(org.admin_id, "email"): True}

        await session.execute(
            update(Member).where(Member.id == org.admin_id).values(all_clients=False)
        )
        after = await outbox.audience(session, org.id, LAPSED)
        assert after is not chosen
        assert after.access == {org.admin_id: set()}
        await session.rollback()
