"""The independent OAuth server's fixture fails the tests, in words, when it cannot run: a
machine without node or without the package must never pass by skipping them."""

from pathlib import Path

import pytest

from tests.fixtures import oidc


def test_the_oauth_server_fails_the_tests_without_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with (
        pytest.raises(pytest.fail.Exception, match="node is not installed"),
        oidc.oidc_server(clients=[], redirect_uris=[]),
    ):
        pass


def test_the_oauth_server_fails_the_tests_without_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(oidc, "FOLDER", tmp_path)

    with (
        pytest.raises(pytest.fail.Exception, match="run `make install`"),
        oidc.oidc_server(clients=[], redirect_uris=[]),
    ):
        pass
