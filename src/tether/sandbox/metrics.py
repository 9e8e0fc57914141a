"""Deterministic daily performance figures of sandbox accounts."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tether.sandbox.state import SandboxAccount, SandboxError

MAX_RANGE_DAYS = 366
# Cost per click is drawn in "USD cents"; weak currencies get proportionally bigger numbers.
_CURRENCY_FACTOR = {"JPY": 150, "SEK": 10, "NOK": 10, "DKK": 7, "INR": 80, "MXN": 17}


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """Validate the `start`/`end` query parameters; raises `invalid_request`."""
    if not start or not end:
        raise SandboxError("invalid_request", "Both start and end dates (YYYY-MM-DD) are required.")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise SandboxError("invalid_request", "Dates must be written YYYY-MM-DD.") from None
    if last < first:
        raise SandboxError("invalid_request", "The end date is before the start date.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise SandboxError(
            "invalid_request", f"A date range may span at most {MAX_RANGE_DAYS} days."
        )
    return first, last


def served_days(first: date, last: date, history_days: int) -> list[date]:
    """Days of the range the platform has data for: none in the future, none too old."""
    today = datetime.now(UTC).date()
    first = max(first, today - timedelta(days=history_days))
    last = min(last, today)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _fractions(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in range(0, 32, 4)]


def day_metrics(account: SandboxAccount, day: date) -> dict[str, Any]:
    """Figures of one account on one day; the same inputs always give the same numbers."""
    scale, ctr_base, cpc_base, cvr_base, *_ = _fractions(f"account:{account.id}")
    noise, ctr_noise, cpc_noise, cvr_noise, *_ = _fractions(f"day:{account.id}:{day.isoformat()}")
    weekend = 0.75 if day.weekday() >= 5 else 1.0
    impressions = int(10 ** (2.8 + 1.9 * scale) * weekend * (0.7 + 0.6 * noise))
    ctr = (0.008 + 0.05 * ctr_base) * (0.8 + 0.4 * ctr_noise)
    clicks = min(impressions, int(impressions * ctr))
    cvr = (0.01 + 0.09 * cvr_base) * (0.6 + 0.8 * cvr_noise)
    conversions = min(clicks, int(clicks * cvr))
    cpc_cents = int((25 + 300 * cpc_base) * (0.85 + 0.3 * cpc_noise))
    spend_cents = clicks * cpc_cents * _CURRENCY_FACTOR.get(account.currency, 1)
    return {
        "date": day.isoformat(),
        "impressions": impressions,
        "clicks": clicks,
        "spend": f"{spend_cents // 100}.{spend_cents % 100:02d}",
        "conversions": conversions,
    }


def account_metrics(account: SandboxAccount, days: list[date]) -> dict[str, Any]:
    """Response body of the metrics endpoint."""
    return {
        "account_id": account.id,
        "currency": account.currency,
        "days": [day_metrics(account, day) for day in days],
    }
