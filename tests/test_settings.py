"""Settings an operator gets wrong are refused before anything starts, each problem named:
unknown variables (with the closest known name), values out of bounds, and what production
mode needs. `tether config` shows what is in effect, secrets masked."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tether import settings_checks
from tether.app import create_app
from tether.config import Settings
from tether.settings_checks import SettingsProblem, load

PRODUCTION = {
    "env": "production",
    "secret_keys": "k1:" + "A" * 43 + "=",
    "database_url": "postgresql://tether:pw@db.internal/tether",
    "broker_url": "redis://redis.internal:6379/0",
    "public_url": "https://tether.agency.example",
}


def problems(environ: dict[str, str] | None = None, **overrides: object) -> list[str]:
    try:
        load(environ=environ or {}, overrides=overrides)
    except SettingsProblem as refused:
        return refused.problems
    return []


def test_an_unknown_variable_is_named_with_the_closest_known_one() -> None:
    found = problems({"TETHER_DATABSE_URL": "postgresql://x", "TETHER_BORKER_URL": "redis://"})

    assert found == [
        "TETHER_BORKER_URL is not a setting Tether knows. Did you mean TETHER_BROKER_URL?",
        "TETHER_DATABSE_URL is not a setting Tether knows. Did you mean TETHER_DATABASE_URL?",
    ]


def test_provider_variables_are_checked_field_by_field() -> None:
    fine = {
        "TETHER_PROVIDERS__GOOGLE__CLIENT_ID": "id",
        "TETHER_PROVIDERS__LINKEDIN__BASE_URLS__API": "https://api.linkedin.example",
    }
    wrong = {"TETHER_PROVIDERS__GOOGLE__CLIENT_SECRETS": "s"}

    assert problems(fine) == []
    (problem,) = problems(wrong)
    assert problem.startswith("TETHER_PROVIDERS__GOOGLE__CLIENT_SECRETS is not a provider")
    assert problem.endswith("Did you mean TETHER_PROVIDERS__GOOGLE__CLIENT_SECRET?")


def test_the_test_suites_and_benchmarks_own_variables_are_not_settings_and_pass() -> None:
    assert problems({"TETHER_TEST_POSTGRES_URL": "x", "TETHER_BENCH_REDIS_URL": "y"}) == []


def test_the_benchmarks_quiet_intervals_are_ones_tether_accepts() -> None:
    """The benchmarks start workers that never check twice nor list accounts during a run;
    an interval out of bounds would stop every one of them at start-up."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        from _harness import QUIET
    finally:
        sys.path.pop(0)
    quiet = {"TETHER_CHECK_INTERVAL_SECONDS": str(QUIET)}
    assert problems({**quiet, "TETHER_ACCOUNTS_CHECK_INTERVAL_SECONDS": str(QUIET)}) == []


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("port", 70000, "TETHER_PORT: Input should be less than or equal to 65535."),
        ("worker_threads", 0, "TETHER_WORKER_THREADS: Input should be greater than or equal to 1."),
        ("outage_ratio", 1.5, "TETHER_OUTAGE_RATIO: Input should be less than or equal to 1."),
        (
            "shutdown_grace_seconds",
            -1,
            "TETHER_SHUTDOWN_GRACE_SECONDS: Input should be greater than or equal to 0.",
        ),
        ("log_format", "xml", "TETHER_LOG_FORMAT: Input should be 'json' or 'console'."),
    ],
)
def test_numbers_out_of_bounds_are_refused_by_name(setting: str, value: object, words: str) -> None:
    assert problems(**{setting: value}) == [words]


def test_a_trusted_proxy_that_is_not_an_address_is_refused_by_name() -> None:
    found = problems({}, trusted_proxies="10.0.0.0/8, lb.internal,192.0.2.300,10.0.0.1/8")

    assert found == [
        "TETHER_TRUSTED_PROXIES: not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8): "
        "'lb.internal', '192.0.2.300', '10.0.0.1/8'."
    ]
    assert problems({}, trusted_proxies=" 10.0.0.0/8, 192.0.2.7 ,::1,") == []


def test_production_names_everything_it_lacks_at_once() -> None:
    found = problems(env="production")

    assert [p.split(" ", 1)[0] for p in found] == [
        "TETHER_SECRET_KEYS",
        "TETHER_DATABASE_URL",
        "TETHER_BROKER_URL",
        "TETHER_PUBLIC_URL",
    ]


def test_production_refuses_the_sandbox_the_demo_and_stand_ins_even_when_asked() -> None:
    found = problems(
        **{**PRODUCTION, "public_url": "http://tether.agency.example"},
        mount_sandbox=True,
        seed_demo=True,
        sandbox_stands_in_for="google_ads",
    )

    assert [p.split(" ", 1)[0] for p in found] == [
        "TETHER_PUBLIC_URL",
        "TETHER_MOUNT_SANDBOX",
        "TETHER_SEED_DEMO",
        "TETHER_SANDBOX_STANDS_IN_FOR",
    ]


async def test_in_production_the_sandbox_is_not_mounted_and_the_demo_not_seeded(
    tmp_path: Path,
) -> None:
    settings = load(environ={}, overrides={**PRODUCTION, "data_dir": tmp_path})
    embedded = Settings(data_dir=tmp_path)

    assert (settings.mount_sandbox, settings.seed_demo) == (False, False)
    assert (embedded.mount_sandbox, embedded.seed_demo) == (True, True)
    app = create_app(settings.model_copy(update={"database_url": None, "background": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as web:
        control = await web.get("/sandbox/control/state")
    assert control.status_code == 404


def test_the_settings_in_effect_mask_every_secret() -> None:
    settings = Settings(
        **PRODUCTION,
        smtp_password="mail-s3cret",
        metrics_token="metrics-s3cret-of-some-length",
        providers={"google": {"client_id": "gid", "client_secret": "g-s3cret"}},
    )

    shown = dict(settings_checks.in_effect(settings))

    assert shown["TETHER_ENV"] == "production"
    assert shown["TETHER_DATABASE_URL"] == "postgresql://tether:••••••@db.internal/tether"
    assert shown["TETHER_PROVIDERS__GOOGLE__CLIENT_ID"] == "gid"
    assert shown["TETHER_PROVIDERS__GOOGLE__CLIENT_SECRET"] == settings_checks.MASK
    assert shown["TETHER_SMTP_PASSWORD"] == settings_checks.MASK
    assert shown["TETHER_METRICS_TOKEN"] == settings_checks.MASK
    text = repr(shown)
    for secret in ("mail-s3cret", "metrics-s3cret", "g-s3cret", PRODUCTION["secret_keys"], ":pw@"):
        assert secret not in text


def test_tether_refuses_to_start_and_says_why_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env |= {"TETHER_DATA_DIR": str(tmp_path), "TETHER_ENV": "production", "TETHER_PORTT": "80"}

    for command in (["serve"], ["worker"], ["migrate"], ["config"]):
        ran = subprocess.run(
            [sys.executable, "-m", "tether.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 1, command
        assert "Tether cannot start with these settings" in ran.stderr
        assert "TETHER_PORTT is not a setting Tether knows. Did you mean TETHER_PORT?" in ran.stderr
        assert "TETHER_BROKER_URL is not set" in ran.stderr
        assert "Traceback" not in ran.stderr
    assert not (tmp_path / "tether.db").exists()  # nothing was migrated or seeded
