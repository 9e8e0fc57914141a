"""The fleet builder makes authorizations as real as ones connected through the consent page."""

from tests.conftest import Tether
from tests.fixtures.builders import Org
from tests.fixtures.fleet import connect_fleet
from tether.db import utcnow
from tether.sandbox import SandboxState


async def test_fleet_authorizations_pass_a_real_check(org: Org, tether: Tether) -> None:
    from tether.health.checks import check
    from tether.runtime import opened

    # The sandbox mounted in the test server is another instance; this fleet lives in its own.
    state = SandboxState.seeded()
    from tests.fixtures.server import serve
    from tether.sandbox import create_app

    with serve(create_app(state)) as sandbox_url:
        settings = tether.settings.model_copy(update={"sandbox_url": sandbox_url})
        fleet = await connect_fleet(
            tether.sessions, state, organization_id=org.id, connector_id=org.admin_id, count=3,
            accounts_per_user=2, next_check_at=utcnow(),
        )  # fmt: skip
        async with opened(settings) as runtime:
            statuses = [await check(runtime.health, m.authorization_id) for m in fleet]

    assert statuses == ["active"] * 3
    assert all(len(m.account_external_ids) == 2 for m in fleet)
