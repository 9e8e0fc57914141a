"""What a process checks of its settings before it starts: every `TETHER_*` variable is one
Tether knows, every value is in bounds, and production mode has everything it needs.

A refusal names each problem at once, in words an operator acts on, never as a traceback.
"""

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from tether.config import ProviderSettings, Settings

PREFIX = "TETHER_"
# Variables of Tether's own test suite and benchmarks (what they run against), not settings.
HARNESS_PREFIXES = ("TETHER_TEST_", "TETHER_BENCH_")
# Shown instead of a secret's value.
MASK = "•••••• (set)"


class SettingsProblem(Exception):
    """Settings a process cannot start with; `problems` says each, in an operator's words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def known_variables() -> list[str]:
    """Every `TETHER_*` name a setting is read from (providers' nested ones aside)."""
    return sorted(PREFIX + name.upper() for name in Settings.model_fields)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A problem for each `TETHER_*` variable no setting reads, with the closest known name."""
    known = set(known_variables())
    problems = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name.startswith(HARNESS_PREFIXES) or name in known:
            continue
        if name.startswith(PREFIX + "PROVIDERS__"):
            problem = _provider_variable(name)
            if problem is not None:
                problems.append(problem)
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]}?" if close else ""
        problems.append(f"{name} is not a setting Tether knows.{hint}")
    return problems


def _provider_variable(name: str) -> str | None:
    """`TETHER_PROVIDERS__<KEY>__<FIELD>[__<BASE>]`: the field must be a provider setting."""
    parts = name.removeprefix(PREFIX + "PROVIDERS__").split("__")
    fields = [f.upper() for f in ProviderSettings.model_fields]
    if len(parts) >= 2 and parts[1] in fields and (len(parts) == 2) == (parts[1] != "BASE_URLS"):
        return None
    close = difflib.get_close_matches(parts[1] if len(parts) > 1 else "", fields, n=1)
    hint = f" Did you mean TETHER_PROVIDERS__{parts[0]}__{close[0]}?" if close else ""
    return (
        f"{name} is not a provider setting: write TETHER_PROVIDERS__<KEY>__<SETTING> with one "
        f"of {', '.join(fields)} (BASE_URLS takes a base's name after it).{hint}"
    )


def out_of_bounds(error: ValidationError) -> list[str]:
    """The validation errors of settings as an operator reads them: the variable, its rule."""
    problems = []
    for detail in error.errors():
        where = "__".join(str(part).upper() for part in detail["loc"])
        # Pydantic prefixes the words of a check of Tether's own; the operator needs no prefix.
        problems.append(f"{PREFIX}{where}: {detail['msg'].removeprefix('Value error, ')}.")
    return problems


def production_problems(settings: Settings) -> list[str]:
    """What production mode needs and this process lacks, each named."""
    if settings.env != "production":
        return []
    problems = []
    if not settings.secret_keys:
        problems.append(
            "TETHER_SECRET_KEYS is not set: production needs explicit keys (generate one with "
            "`tether secrets generate-key`), never the embedded key file."
        )
    url = settings.database_url or ""
    if not url.startswith(("postgresql:", "postgresql+", "postgres:")):
        problems.append(
            "TETHER_DATABASE_URL must be a PostgreSQL URL (postgresql://…) in production; "
            "SQLite is for the embedded mode."
        )
    if not settings.broker_url:
        problems.append(
            "TETHER_BROKER_URL is not set: production needs a broker (redis://… or amqp://…) so "
            "workers run the checks, syncs and notifications."
        )
    if not (settings.public_url or "").startswith("https://"):
        problems.append(
            "TETHER_PUBLIC_URL must be the https:// address members reach Tether at: session "
            "cookies are then sent over HTTPS only, and providers' redirect URIs use it."
        )
    for name in ("mount_sandbox", "seed_demo"):
        if getattr(settings, name):
            problems.append(
                f"TETHER_{name.upper()} cannot be on in production: "
                + (
                    "the sandbox's switches need no sign-in."
                    if name == "mount_sandbox"
                    else "the demo organization's admin password would be printed."
                )
            )
    if settings.sandbox_stands_in_for.strip():
        problems.append(
            "TETHER_SANDBOX_STANDS_IN_FOR cannot be set in production: it points real "
            "platforms' cards at the sandbox."
        )
    return problems


def load(
    *, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """The settings this process starts with; raises SettingsProblem naming every problem."""
    problems = unknown_variables(os.environ if environ is None else environ)
    try:
        settings = Settings(**(overrides or {}))
    except ValidationError as error:
        raise SettingsProblem(problems + out_of_bounds(error)) from None
    problems += production_problems(settings)
    if problems:
        raise SettingsProblem(problems)
    return settings


def in_effect(settings: Settings) -> list[tuple[str, str]]:
    """Every setting as `(variable, value)`, secrets masked."""
    rows: list[tuple[str, str]] = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        variable = PREFIX + name.upper()
        if name == "providers":
            for key, provider in sorted(value.items()):
                rows += _provider_rows(f"{variable}__{key.upper()}", provider)
        else:
            rows.append((variable, _shown(Settings, name, value)))
    return rows


def _provider_rows(prefix: str, provider: ProviderSettings) -> list[tuple[str, str]]:
    rows = []
    for name in ProviderSettings.model_fields:
        value = getattr(provider, name)
        if name == "base_urls":
            rows += [(f"{prefix}__BASE_URLS__{b.upper()}", url) for b, url in value.items()]
        elif value not in (None, False):
            rows.append((f"{prefix}__{name.upper()}", _shown(ProviderSettings, name, value)))
    return rows


def _shown(model: type[BaseModel], name: str, value: Any) -> str:
    """A value as text; a secret (a field hidden from reprs) only as set or not."""
    if name in ("database_url", "broker_url") and isinstance(value, str):
        return _without_password(value)
    if not model.model_fields[name].repr:
        return MASK if value else "(not set)"
    return "(not set)" if value is None else str(value)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:••••••@{host}"
