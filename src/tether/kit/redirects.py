"""One rule for where Tether may send a browser back to: a path on Tether itself.

Browsers are generous with what they call a path. They turn `\\` into `/` and drop tabs and line
breaks inside a URL, so `/\\evil.example` and `/\\t/evil.example` both become `//evil.example`, a
link to another site. Rather than list the tricks, a target is accepted only when it is plainly a
path: it starts with a single `/`, holds no backslash, whitespace or control character, and
parses with neither a scheme nor a host.
"""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from tether.errors import BadRequest
from tether.kit.inputs import HIDDEN_CLASS, is_refused


def is_local_path(target: str) -> bool:
    """True when `target` can only lead to a page of this site."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(char.isspace() or is_refused(char) for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def local_path_or(target: str | None, default: str) -> str:
    """`target` when it is a path of this site, otherwise `default`."""
    return target if target and is_local_path(target) else default


def check_return_to(return_to: str | None) -> None:
    """The pages' form of the LocalPath rule: a sign-in must never end on someone else's site."""
    if return_to and not is_local_path(return_to):
        raise BadRequest(
            "return_to must be a path in Tether, like /connections.", code="invalid_return_to"
        )


def _local(target: str) -> str:
    if not is_local_path(target):
        raise ValueError("must be a path in Tether, like /connections")
    return target


# The same rule as a schema states it, so that a generated client never sends another site.
LOCAL_PATH_PATTERN = f"^/(?![/\\\\])[^\\\\\\s{HIDDEN_CLASS}]*$"
LocalPath = Annotated[
    str,
    Field(
        max_length=500,
        description="A path in Tether to go back to afterwards, like /connections.",
        json_schema_extra={"pattern": LOCAL_PATH_PATTERN},
    ),
    AfterValidator(_local),
]
