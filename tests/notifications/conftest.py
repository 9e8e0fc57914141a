"""A webhook receiver for the notification tests."""

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.receiver import Receiver, allow_private_targets, receiving
from tests.fixtures.running import Tether


@pytest.fixture
async def receiver(tether: Tether, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1, with private targets allowed for the test so that webhooks
    reach it (tests of the default refusal start their own receiver)."""
    allow_private_targets(tether.settings, monkeypatch)
    with receiving() as started:
        yield started
