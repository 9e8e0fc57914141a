"""Logging that cannot leak a secret, in one format for every line a process writes.

Tether's own modules, uvicorn, Dramatiq and SQLAlchemy log through the standard library;
structlog's `ProcessorFormatter` renders all of their records alike: JSON (one object a line)
for a log collector, or console lines a person reads. The ids bound with
`structlog.contextvars` (a request's `request_id`, a job's `job_id` and `actor`) are on every
line logged meanwhile. Redaction is the last step before rendering, over the message, every
field and the formatted traceback, so nothing reaches the output around it.
"""

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

Format = Literal["json", "console"]

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


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    # Anything else is rendered by its repr, which may hold a secret: redact that text.
    return redact(repr(value))


def redact_event(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """Every value of the event, the message and the formatted exception included."""
    return {key: _redacted(value) for key, value in event.items()}


# What every record gets, whether from structlog or the standard library.
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(fmt: Format) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of Tether's handler: the exception as plain text (never with its frames'
    locals), then redaction, then the renderer."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # Plain: the exception is already text, formatted and redacted by the steps before.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
    )


def configure(level: str = "info", fmt: Format = "console", stream: TextIO | None = None) -> None:
    """One handler on the root logger, writing `fmt` to `stream` (standard error by default);
    uvicorn's loggers propagate to it instead of printing on their own."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
