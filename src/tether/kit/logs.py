"""Logging that cannot leak a secret: tokens, codes and keys are masked in every record."""

import logging
import re

_PATTERNS = (
    # OAuth parameters in URLs and form bodies (access logs print query strings).
    re.compile(
        r"(?i)\b(code|auth_code|state|code_verifier|access_token|refresh_token|token|client_secret"
        r"|secret|api_key|key|oauth_token|oauth_token_secret|oauth_verifier|denied)"
        r"=[^&\s\"']+"
    ),
    # OAuth 1.0a's Authorization header: `oauth_token="…"`, quoted.
    re.compile(r'(?i)\b(oauth_token|oauth_verifier|oauth_signature)="[^"]*"'),
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\b(tth)_[A-Za-z0-9_-]+"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: f"{m.group(1)}=***" if "=" in m.group(0) else f"{m.group(1)} ***", text
        )
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str = "info") -> None:
    """Tether's log format, with the redacting filter on every handler that prints."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
