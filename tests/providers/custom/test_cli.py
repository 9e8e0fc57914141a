"""A providers file at start-up, as an operator meets it: the `tether` command run as a process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.providers.custom.conftest import PROVIDERS_FILE

BAD = """\
[[provider]]
key = "acme"
name = "Acme"
auth = "oauth2"

[provider.bases]
api = "https://api.acme.example"

[provider.oauth]
authorize_url = "{api}/authorize"
token_url = "{login}/token"

[provider.identify]
url = "{api}/me"
"""


def _run(data_dir: Path, providers_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env |= {
        "TETHER_DATA_DIR": str(data_dir),
        "TETHER_PROVIDERS_FILE": str(providers_file),
        "TETHER_BROKER_URL": "redis://127.0.0.1:1/0",  # never reached: the file stops it first
        "TETHER_PORT": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["serve", "worker", "check", "sync", "providers"])
def test_a_wrong_providers_file_stops_tether_at_start_with_its_line_and_field(
    tmp_path: Path, command: str
) -> None:
    bad = tmp_path / "providers.toml"
    bad.write_text(BAD, encoding="utf-8")
    data_dir = tmp_path / "data"

    ran = _run(data_dir, bad, command)

    assert ran.returncode == 1
    assert f'{bad}, line 11: provider "acme".oauth.token_url: {{login}} is not one of {{api}}.' in (
        ran.stderr
    )
    assert "Traceback" not in ran.stderr + ran.stdout
    assert not data_dir.exists()  # nothing was set up or migrated


def test_tether_providers_lists_the_declared_providers(tmp_path: Path) -> None:
    ran = _run(tmp_path, PROVIDERS_FILE, "providers")

    assert ran.returncode == 0, ran.stderr
    assert "acme_ads" in ran.stdout
    assert "Acme Keys" in ran.stdout


def test_a_stand_in_for_an_unknown_provider_stops_tether_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env |= {"TETHER_DATA_DIR": str(tmp_path / "data"), "TETHER_PORT": "1",
            "TETHER_SANDBOX_STANDS_IN_FOR": "google_ads,myspace"}  # fmt: skip
    ran = subprocess.run(
        [sys.executable, "-m", "tether.cli", "serve"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert ran.returncode == 1
    assert "TETHER_SANDBOX_STANDS_IN_FOR names no provider it knows" in ran.stderr
    assert "myspace" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    assert not (tmp_path / "data").exists()
