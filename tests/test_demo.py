"""The demo organization an embedded Tether seeds on its first start."""

import stat
from pathlib import Path

from tests.conftest import Tether
from tether import demo


async def test_the_demo_is_seeded_once_with_a_working_login(tether: Tether, tmp_path: Path) -> None:
    async with tether.sessions() as session:
        login = await demo.seed(session)
        again = await demo.seed(session)
        await session.commit()

    assert login is not None
    assert again is None
    saved = demo.save(login, tmp_path)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert login.token in saved.read_text()
    assert login.password not in repr(login)
