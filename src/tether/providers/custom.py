"""Providers an operator declares in a file (TOML or YAML), read into definitions at start-up.

The file is checked whole before Tether starts: every problem is reported with the file, its
line and the field, e.g. `providers.toml, line 14: provider "acme".oauth.token_url: …`, and
Tether does not start until it is right. Secrets never go in the file: a provider's client id
and secret come from `TETHER_PROVIDERS__<KEY>__CLIENT_ID` / `__CLIENT_SECRET`, as for a
built-in one. The format is described in docs/custom-providers.md.
"""

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from tether.config import Settings
from tether.providers import catalog
from tether.providers.base import AuthKind
from tether.providers.custom_lines import Lines, Loc, TomlLines, YamlLines, yaml_duplicates
from tether.providers.custom_spec import (
    KEY_PATTERN,
    PATH_PATTERN,
    FileSpec,
    ProviderSpec,
    RuleSpec,
)
from tether.providers.daily import PLACEHOLDERS
from tether.providers.definition import (
    Accounts,
    ApiKey,
    ErrorRule,
    Errors,
    Identify,
    Lifetimes,
    Match,
    OAuth,
    Paging,
    ProviderDefinition,
    RateLimits,
    ReportCall,
    Reports,
    Setup,
)

Problem = tuple[Loc, str]
# More than this many problems in one file are summed up: the first ones are enough to start.
MAX_PROBLEMS = 20

_PATTERN_WORDS = {
    KEY_PATTERN: "a key is 2 to 40 characters: a lowercase letter, then lowercase letters, "
    "digits or _",
    PATH_PATTERN: "a path is names joined by dots, like error.code or data.*.id",
}
_PLAIN_WORDS = {
    "missing": "is required but missing",
    "extra_forbidden": "is not a field here (check its spelling)",
    "model_type": "should be a table of fields (a mapping in YAML)",
    "model_attributes_type": "should be a table of fields (a mapping in YAML)",
}


class ProviderFileError(ValueError):
    """A providers file Tether cannot use; each line of the message names a problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_file(path: Path) -> tuple[ProviderDefinition, ...]:
    """The providers declared in a TOML or YAML file, checked whole."""
    data, lines = _read(path)
    problems: list[Problem] = []
    try:
        spec = FileSpec.model_validate(data)
    except ValidationError as error:
        problems += _shape_problems(error, data)
    else:
        problems += _checks(spec)
    placed = [(lines.line_of(loc) or 0, loc, words) for loc, words in problems]
    if isinstance(lines, YamlLines):  # at the second key: the path finds the first
        placed += [(line, loc, "is written twice") for loc, line in yaml_duplicates(lines.root)]
    if placed:
        raise ProviderFileError(_described(path, placed, data))
    return tuple(definition_of(p) for p in spec.provider)


def declared(settings: Settings) -> tuple[ProviderDefinition, ...]:
    """The operator's own providers, from `TETHER_PROVIDERS_FILE` when it is set."""
    return load_file(settings.providers_file) if settings.providers_file else ()


# -- reading -----------------------------------------------------------------------------


def _read(path: Path) -> tuple[Any, Lines]:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ProviderFileError([f"{path}: a providers file is .toml, .yaml or .yml."])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProviderFileError([f"{path}: is not UTF-8 text."]) from None
    except OSError as error:
        raise ProviderFileError([f"{path}: cannot be read ({error.strerror or error})."]) from None
    return _toml(path, text) if suffix == ".toml" else _yaml(path, text)


def _toml(path: Path, text: str) -> tuple[Any, Lines]:
    try:
        return tomllib.loads(text), TomlLines(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        words = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        where = f"{path}, line {found.group(1)}" if found else str(path)
        raise ProviderFileError([f"{where}: not valid TOML: {words}."]) from None


def _yaml(path: Path, text: str) -> tuple[Any, Lines]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        raise ProviderFileError([f"{where}: not valid YAML: {error.problem}."]) from None
    except yaml.YAMLError as error:
        raise ProviderFileError([f"{path}: not valid YAML: {error}."]) from None
    finally:
        loader.dispose()
    return data, YamlLines(root)


# -- problems ----------------------------------------------------------------------------


def _shape_problems(error: ValidationError, data: Any) -> list[Problem]:
    """Pydantic's findings, each at the field it is about, in words an operator reads."""
    problems: dict[Loc, str] = {}
    for found in error.errors(include_url=False):
        loc = _data_loc(found["loc"], data, missing=found["type"] == "missing")
        pattern = str((found.get("ctx") or {}).get("pattern"))
        words = _PATTERN_WORDS.get(pattern) or _PLAIN_WORDS.get(found["type"]) or found["msg"]
        # A union reports once per member; the first says enough.
        problems.setdefault(loc, words)
    return list(problems.items())


def _data_loc(loc: tuple[str | int, ...], data: Any, *, missing: bool) -> Loc:
    """Pydantic's location with its own markers (union members, `[key]`) left out: only the
    keys and indexes found in the file, and the name of a missing field."""
    out: list[str | int] = []
    for n, part in enumerate(loc):
        if _holds(data, part):
            data = data[part]
        elif not (missing and n == len(loc) - 1 and isinstance(part, str)):
            continue
        out.append(part)
    return tuple(out)


def _holds(data: Any, part: str | int) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and part < len(data)


def _described(path: Path, placed: list[tuple[int, Loc, str]], data: Any) -> list[str]:
    """Each problem as `file, line N: field: words`, in the order of the file."""
    out = []
    for line, loc, words in sorted(placed, key=_first)[:MAX_PROBLEMS]:
        where = f"{path}, line {line}" if line else str(path)
        out.append(f"{where}: {_field(loc, data)}: {words}")
    if len(placed) > MAX_PROBLEMS:
        out.append(f"{path}: … and {len(placed) - MAX_PROBLEMS} more problems.")
    return out


def _first(placed: tuple[int, Loc, str]) -> int:
    return placed[0]


def _field(loc: Loc, data: Any) -> str:
    """`provider "acme".oauth.token_url`: a provider by its key, the rest as written."""
    if not loc:
        return "the file"
    text = str(loc[0])
    rest = loc[1:]
    if loc[0] == "provider" and rest and isinstance(rest[0], int):
        text = f'provider "{_key_at(data, rest[0])}"'
        rest = rest[1:]
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _key_at(data: Any, index: int) -> str:
    try:
        key = data["provider"][index]["key"]
    except (KeyError, IndexError, TypeError):
        key = None
    return key if isinstance(key, str) and key else f"#{index + 1}"


# -- checks across fields ----------------------------------------------------------------


def reserved_keys() -> frozenset[str]:
    """Keys of Tether's own providers (and their families)."""
    keys = {info.key for info in catalog.CATALOG}
    return frozenset(keys | {d.family for d, _ in catalog.BUILTIN if d.family})


def _checks(spec: FileSpec) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, p in enumerate(spec.provider):
        at: Loc = ("provider", i)
        if p.key in reserved_keys():
            problems.append(((*at, "key"), f'"{p.key}" is a provider built into Tether.'))
        elif p.key in first:
            again = f'"{p.key}" is declared twice (first as provider #{first[p.key] + 1}).'
            problems.append(((*at, "key"), again))
        first.setdefault(p.key, i)
        problems += [(at + loc, words) for loc, words in _provider_checks(p)]
    return problems


def _provider_checks(p: ProviderSpec) -> list[Problem]:
    problems = _auth_checks(p) + _paging_checks(p) + _base_checks(p)
    if not problems or all(loc[0] != "bases" for loc, _ in problems):
        # Templates are checked against bases that are right, or every URL would be wrong too.
        for loc, url, extra in _templates(p):
            words = _template_problem(url, p.bases, extra)
            if words:
                problems.append((loc, words))
    for j, rule in enumerate(p.errors):
        if not (rule.status or rule.where or rule.present or rule.contains):
            words = "needs status, where, present or contains, else it matches every failure."
            problems.append((("errors", j), words))
    if p.setup.register_url and not _is_http(p.setup.register_url):
        problems.append((("setup", "register_url"), "must be an http:// or https:// URL."))
    return problems


def _base_checks(p: ProviderSpec) -> list[Problem]:
    problems: list[Problem] = []
    for name, url in p.bases.items():
        if not _is_http(url):
            problems.append((("bases", name), "must be an http:// or https:// URL."))
        elif name in PLACEHOLDERS:
            problems.append((("bases", name), f"{{{name}}} is taken by the report's own values."))
    return problems


def _auth_checks(p: ProviderSpec) -> list[Problem]:
    if p.auth == "oauth2" and p.oauth is None:
        return [(("oauth",), 'is required when auth = "oauth2".')]
    if p.auth == "oauth2" and p.api_key is not None:
        return [(("api_key",), 'is only for auth = "api_key".')]
    if p.auth == "api_key" and p.oauth is not None:
        return [(("oauth",), 'is only for auth = "oauth2".')]
    return []


def _paging_checks(p: ProviderSpec) -> list[Problem]:
    a = p.accounts
    if a.paging == Paging.TOKEN and not (a.next_path and a.next_param):
        return [(("accounts", "paging"), '"token" needs next_path and next_param.')]
    if a.paging == Paging.NEXT_URL and not a.next_path:
        return [(("accounts", "paging"), '"next_url" needs next_path.')]
    return []


def _templates(p: ProviderSpec) -> Iterable[tuple[Loc, str, tuple[str, ...]]]:
    """Every URL template of a provider, with the names it may use besides the bases."""
    yield ("identify", "url"), p.identify.url, ()
    if p.probe_url is not None:
        yield ("probe_url",), p.probe_url, ()
    if p.accounts.url is not None:
        yield ("accounts", "url"), p.accounts.url, ()
    if p.oauth is not None:
        yield ("oauth", "authorize_url"), p.oauth.authorize_url, ()
        yield ("oauth", "token_url"), p.oauth.token_url, ()
        if p.oauth.revoke_url is not None:
            yield ("oauth", "revoke_url"), p.oauth.revoke_url, ()
    if p.report is not None:
        yield ("report", "url"), p.report.url, PLACEHOLDERS
        for name, value in p.report.params.items():
            yield ("report", "params", name), "https://x/" + value, PLACEHOLDERS


def _template_problem(url: str, bases: Mapping[str, str], extra: tuple[str, ...]) -> str | None:
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(url)]
    except ValueError:
        return "has an unbalanced { or }."
    allowed = sorted(bases) + list(extra)
    filled: dict[str, str] = {name: "x" for name in extra}
    for name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            names = ", ".join("{" + n + "}" for n in allowed)
            return f"{{{name}}} is not one of {names}."
    try:
        written = url.format_map({**{k: v.rstrip("/") for k, v in bases.items()}, **filled})
    except (KeyError, ValueError, IndexError):
        return "is not a URL template Tether can fill in."
    if not _is_http(written):
        return "must be an http(s) URL, or start with a base like {" + allowed[0] + "}."
    return None


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# -- definitions -------------------------------------------------------------------------


def definition_of(p: ProviderSpec) -> ProviderDefinition:
    """A checked provider of the file as the definition every adapter reads."""
    report = p.report
    return ProviderDefinition(
        key=p.key,
        name=p.name,
        auth_kind=AuthKind(p.auth),
        bases={name: url.rstrip("/") for name, url in p.bases.items()},
        identify=Identify(**p.identify.model_dump()),
        probe_url=p.probe_url,
        accounts=Accounts(**p.accounts.model_dump()),
        oauth=_oauth(p),
        api_key=ApiKey(**(p.api_key.model_dump() if p.api_key else {}))
        if p.auth == "api_key"
        else None,
        lifetimes=Lifetimes(**p.lifetimes.model_dump()),
        errors=_errors(p),
        reports=Reports(report.max_days_per_call, report.history_days, report.restate_days)
        if report
        else None,
        report=_report_call(p),
        email_grouping=p.email_grouping,
        description=p.description,
        setting_headers=dict(p.setting_headers),
        setup=Setup(p.setup.register_url, tuple(p.setup.steps), tuple(p.setting_headers.values())),
        builtin=False,
    )


def _oauth(p: ProviderSpec) -> OAuth | None:
    if p.oauth is None:
        return None
    return OAuth(**{**p.oauth.model_dump(), "scopes": tuple(p.oauth.scopes)})


def _report_call(p: ProviderSpec) -> ReportCall | None:
    if p.report is None:
        return None
    limits = {"max_days_per_call", "history_days", "restate_days"}
    return ReportCall(**p.report.model_dump(exclude=limits))


def _errors(p: ProviderSpec) -> Errors:
    defaults = Errors()
    return Errors(
        rules=tuple(_rule(r) for r in p.errors),
        message_paths=tuple(p.message_paths)
        if p.message_paths is not None
        else defaults.message_paths,
        rate_limits=RateLimits(
            p.rate_limits.retry_after_header,
            tuple(p.rate_limits.body_delay_paths),
            tuple(p.rate_limits.usage_headers),
        ),
    )


def _rule(r: RuleSpec) -> ErrorRule:
    where = tuple(Match(path, _values(value)) for path, value in r.where.items())
    where += tuple(Match(path) for path in r.present)
    where += tuple(Match(path, contains=word.lower()) for path, word in r.contains.items())
    statuses = [r.status] if isinstance(r.status, int) else r.status
    return ErrorRule(r.reason, where, frozenset(statuses))


def _values(value: object) -> frozenset[str]:
    """Values as answers.text writes what it reads: JSON's true/false, numbers as digits."""
    items = value if isinstance(value, list) else [value]
    return frozenset(
        ("true" if item else "false") if isinstance(item, bool) else str(item) for item in items
    )
