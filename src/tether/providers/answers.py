"""Reading a provider's answers: fields by path, and a failed answer as Tether's reason."""

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tether.providers.base import ProviderCallError, Reason
from tether.providers.definition import Errors, Match

# Google writes durations as "30s" or "1.5s" (protobuf Duration in JSON).
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s?\s*$")
_MAX_MESSAGE = 500


def found(body: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path; `*` walks every item of a list (or value of an object)
    and a number indexes a list."""
    values = [body]
    for part in path.split("."):
        step: list[Any] = []
        for value in values:
            if part == "*":
                if isinstance(value, list):
                    step += value
                elif isinstance(value, dict):
                    step += list(value.values())
            elif isinstance(value, dict):
                if part in value:
                    step.append(value[part])
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                step.append(value[int(part)])
        values = step
    yield from values


def first(body: Any, path: str | None) -> Any:
    """The first value at a path, or None."""
    if path is None:
        return None
    # Keys through objects, the common case (a report's fields, row after row), are walked
    # directly; from a `*` or a list on, `found` walks the rest.
    value = body
    parts = path.split(".")
    for n, part in enumerate(parts):
        if part == "*" or not isinstance(value, dict):
            return next(found(value, ".".join(parts[n:])), None)
        if part not in value:
            return None
        value = value[part]
    return value


def text(value: Any) -> str:
    """A JSON scalar as the string rules compare (true/false as JSON writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(body: Any, match: Match) -> bool:
    for value in found(body, match.path):
        if match.contains is not None:
            if isinstance(value, str) and match.contains in value.lower():
                return True
        elif isinstance(value, dict | list):
            if not match.values:
                return True
        elif not match.values or text(value) in match.values:
            return True
    return False


def reason_of(errors: Errors, status: int, body: Any) -> Reason:
    """The definition's reason for a failed answer: its first matching rule, else what the
    HTTP status says of a passing fault. Anything else is `unknown`, retried, never a lapse."""
    for rule in errors.rules:
        if rule.statuses and status not in rule.statuses:
            continue
        if all(_matches(body, m) for m in rule.where):
            return rule.reason
    if status == 429:
        return Reason.RATE_LIMITED
    if status >= 500:
        return Reason.PROVIDER_OUTAGE
    return Reason.UNKNOWN


def message_of(errors: Errors, body: Any, provider_name: str, status: int) -> str:
    """The provider's own words for the screen, or a plain statement of what happened."""
    for path in errors.message_paths:
        value = first(body, path)
        if isinstance(value, str) and value.strip():
            return value.strip()[:_MAX_MESSAGE]
    return f"{provider_name} answered HTTP {status} without a message."


def seconds(value: Any) -> float | None:
    """A delay written as a number of seconds or a duration like "30s"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        matched = _DURATION.match(value)
        if matched:
            return float(matched.group(1))
    return None


def retry_after(errors: Errors, headers: Mapping[str, str], body: Any) -> float | None:
    """How long the provider asks Tether to wait, from Retry-After or from the body."""
    waits: list[float] = []
    header = headers.get("retry-after") if errors.rate_limits.retry_after_header else None
    if header is not None:
        wait = seconds(header.strip())
        if wait is None:
            try:
                wait = max(0.0, (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds())
            except (TypeError, ValueError):
                wait = None
        if wait is not None:
            waits.append(wait)
    for path in errors.rate_limits.body_delay_paths:
        waits += [w for w in map(seconds, found(body, path)) if w is not None]
    return max(waits) if waits else None


def call_error(
    errors: Errors,
    provider_name: str,
    status: int,
    body: Any,
    headers: Mapping[str, str],
) -> ProviderCallError:
    """A failed answer as the error every caller of a provider handles."""
    reason = reason_of(errors, status, body)
    message = message_of(errors, body, provider_name, status)
    usage = [
        f"{name}: {headers[name]}"
        for name in errors.rate_limits.usage_headers
        if reason == Reason.RATE_LIMITED and name in headers
    ]
    if usage:
        message = f"{message} ({'; '.join(usage)})"[: _MAX_MESSAGE * 2]
    return ProviderCallError(
        reason, message, status=status, retry_after=retry_after(errors, headers, body)
    )
