"""Reading an operator's providers file: what it declares, and every mistake named by its file,
line and field, in TOML and in YAML."""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

from tether.providers.base import AuthKind, DailyMetrics, Reason
from tether.providers.custom import ProviderFileError, load_file
from tether.providers.daily import metrics_of, request_of
from tether.providers.definition import (
    ErrorRule,
    Match,
    Paging,
    ReportCall,
    Reports,
    TokenAuthMethod,
)

DOCS = Path(__file__).parents[3] / "docs" / "custom-providers.md"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _problems(folder: Path, name: str, text: str) -> list[str]:
    path = _write(folder, name, text)
    with pytest.raises(ProviderFileError) as raised:
        load_file(path)
    return [p.replace(str(path), name) for p in raised.value.problems]


def _docs_example(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return str(blocks[0])


# -- what a file declares ----------------------------------------------------------------


def test_the_documented_toml_example_loads_into_its_definitions(tmp_path: Path) -> None:
    acme, ledgerly = load_file(_write(tmp_path, "providers.toml", _docs_example("toml")))

    assert (acme.key, acme.name, acme.auth_kind, acme.builtin) == (
        "acme_ads",
        "Acme Ads",
        AuthKind.OAUTH2,
        False,
    )
    assert acme.bases == {"api": "https://api.acme.example", "auth": "https://login.acme.example"}
    assert acme.oauth is not None
    assert acme.oauth.token_url == "{auth}/oauth2/token"
    assert acme.oauth.scopes == ("ads.read", "offline_access")
    assert acme.oauth.token_auth_method == TokenAuthMethod.BASIC
    assert acme.oauth.authorize_params == {"prompt": "consent"}
    assert (acme.identify.id_path, acme.identify.email_path) == ("user.id", "user.email")
    assert acme.accounts.paging == Paging.TOKEN
    assert acme.lifetimes.refresh_fixed_seconds == 31536000
    assert acme.errors.rules[0] == ErrorRule(
        Reason.TOKEN_EXPIRED,
        (
            Match("error", frozenset({"invalid_grant"})),
            Match("error_description", contains="expired"),
        ),
    )
    assert acme.errors.rules[2].statuses == frozenset({401})
    assert acme.errors.rules[4].where == (Match("error.retry_in"),)
    assert acme.errors.rate_limits.body_delay_paths == ("error.retry_in",)
    assert acme.reports == Reports(max_days_per_call=90, history_days=730, restate_days=3)
    assert acme.report is not None
    assert (acme.report.spend_path, acme.report.spend_divisor) == ("spend_micros", 1_000_000)
    assert acme.setup.steps[0] == "Create an app of type Web."
    assert (ledgerly.auth_kind, ledgerly.oauth, ledgerly.reports) == (AuthKind.API_KEY, None, None)
    assert ledgerly.api_key is not None
    assert (ledgerly.api_key.header, ledgerly.api_key.prefix) == ("X-Api-Key", "")
    assert ledgerly.email_grouping == "digest"


def test_the_documented_yaml_example_declares_the_same_providers(tmp_path: Path) -> None:
    toml = load_file(_write(tmp_path, "providers.toml", _docs_example("toml")))
    yaml = load_file(_write(tmp_path, "providers.yaml", _docs_example("yaml")))

    assert yaml == toml


def test_fields_left_out_take_the_definitions_defaults(tmp_path: Path) -> None:
    (tool,) = load_file(
        _write(
            tmp_path,
            "providers.yml",
            """
            provider:
              - key: tool
                name: Tool
                auth: api_key
                bases: {api: "https://tool.example"}
                identify: {url: "{api}/me"}
            """,
        )
    )

    assert tool.api_key is not None
    assert (tool.api_key.header, tool.api_key.prefix) == ("Authorization", "Bearer ")
    assert tool.errors.message_paths == ("error.message", "error_description", "message", "error")
    assert (tool.accounts.url, tool.probe_url, tool.reports, tool.report) == (None,) * 4


def test_a_rule_matches_json_booleans_and_numbers_as_the_answer_writes_them(
    tmp_path: Path,
) -> None:
    (tool,) = load_file(
        _write(
            tmp_path,
            "providers.toml",
            """
            [[provider]]
            key = "tool"
            name = "Tool"
            auth = "api_key"
            bases = { api = "https://tool.example" }
            identify = { url = "{api}/me" }
            [[provider.errors]]
            reason = "token_revoked"
            where = { "error.is_transient" = false, "error.code" = 190 }
            """,
        )
    )

    assert tool.errors.rules[0].where == (
        Match("error.is_transient", frozenset({"false"})),
        Match("error.code", frozenset({"190"})),
    )


# -- a declared report -------------------------------------------------------------------


def test_a_declared_report_asks_for_the_range_and_adds_up_each_days_rows() -> None:
    call = ReportCall(
        url="{api}/accounts/{account_id}/daily",
        params={"from": "{start}", "to": "{end}"},
        rows_path="rows.*",
        date_format="%Y%m%d",
        spend_path="cost",
        currency_path="currency",
    )
    url, params = request_of(
        call,
        {"api": "https://x.example"},
        account_id="a/1",
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
    )
    body = {
        "currency": "USD",
        "rows": [
            {"date": "20260301", "impressions": 10, "clicks": "2", "cost": 1.5},
            {"date": "20260301", "impressions": 5, "cost": "0.25", "conversions": 1},
            {"date": "20260302", "impressions": 7, "clicks": 1, "currency": "EUR"},
            {"date": "20260303", "impressions": 99},  # outside the range asked for
        ],
    }

    days = metrics_of(call, body, start=date(2026, 3, 1), end=date(2026, 3, 2), provider_name="X")

    assert (url, params) == (
        "https://x.example/accounts/a%2F1/daily",
        {"from": "20260301", "to": "20260302"},
    )
    assert days == [
        DailyMetrics(date(2026, 3, 1), 15, 2, Decimal("1.75"), 1, "USD"),
        DailyMetrics(date(2026, 3, 2), 7, 1, Decimal(0), 0, "EUR"),
    ]


# -- mistakes, each at its line and field ------------------------------------------------

TOML = """
[[provider]]
key = "acme"
name = "Acme"
auth = "oauth2"

[provider.bases]
api = "https://api.acme.example"

[provider.oauth]
authorize_url = "{api}/authorize"
token_url = "{api}/token"
pkce = true

[provider.identify]
url = "{api}/me"

[[provider.errors]]
reason = "token_expired"
status = 401

[[provider.errors]]
reason = "token_revoked"
where = { error = "invalid_token" }
"""

YAML = """
provider:
  - key: acme
    name: Acme
    auth: oauth2
    bases:
      api: https://api.acme.example
    oauth:
      authorize_url: "{api}/authorize"
      token_url: "{api}/token"
      pkce: true
    identify:
      url: "{api}/me"
    errors:
      - reason: token_expired
        status: 401
      - reason: token_revoked
        where: {error: invalid_token}
"""


def test_the_files_the_mistakes_are_made_in_are_right_as_they_are(tmp_path: Path) -> None:
    assert load_file(_write(tmp_path, "p.toml", TOML)) == load_file(
        _write(tmp_path, "p.yaml", YAML)
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "p.toml",
            TOML.replace('name = "Acme"\n', ""),
            'p.toml, line 1: provider "acme".name: is required but missing',
        ),
        (
            "p.yaml",
            YAML.replace("    name: Acme\n", ""),
            'p.yaml, line 2: provider "acme".name: is required but missing',
        ),
        (
            "p.toml",
            TOML.replace('token_url = "{api}/token"\n', ""),
            'p.toml, line 9: provider "acme".oauth.token_url: is required but missing',
        ),
        (
            "p.yaml",
            YAML.replace('      token_url: "{api}/token"\n', ""),
            'p.yaml, line 7: provider "acme".oauth.token_url: is required but missing',
        ),
    ],
)
def test_a_missing_field_is_named_at_the_table_that_lacks_it(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert _problems(tmp_path, name, text) == [expected]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "p.toml",
            TOML.replace("pkce = true", 'pkce = "yes"'),
            'p.toml, line 12: provider "acme".oauth.pkce: Input should be a valid boolean',
        ),
        (
            "p.yaml",
            YAML.replace("pkce: true", "pkce: [yes]"),
            'p.yaml, line 10: provider "acme".oauth.pkce: Input should be a valid boolean',
        ),
        (
            "p.toml",
            TOML.replace("status = 401", 'status = "401"'),
            'p.toml, line 19: provider "acme".errors[0].status: Input should be a valid integer',
        ),
        (
            "p.yaml",
            YAML.replace("status: 401", "status: '401'"),
            'p.yaml, line 15: provider "acme".errors[0].status: Input should be a valid integer',
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_named_at_its_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert _problems(tmp_path, name, text) == [expected]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("p.toml", TOML.replace('token_url = "{api}/token"', 'token_url = "{auth}/token"'), 11),
        ("p.yaml", YAML.replace('token_url: "{api}/token"', 'token_url: "{auth}/token"'), 9),
    ],
)
def test_a_url_naming_an_unknown_base_is_refused(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    assert _problems(tmp_path, name, text) == [
        f'{name}, line {line}: provider "acme".oauth.token_url: {{auth}} is not one of {{api}}.'
    ]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("p.toml", TOML.replace('reason = "token_revoked"', 'reason = "token_gone"'), 22),
        ("p.yaml", YAML.replace("reason: token_revoked", "reason: token_gone"), 16),
    ],
)
def test_an_unknown_reason_is_refused_with_the_reasons_tether_knows(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    (problem,) = _problems(tmp_path, name, text)

    assert problem.startswith(f'{name}, line {line}: provider "acme".errors[1].reason: ')
    assert "'token_revoked'" in problem
    assert "'invalid_grant'" in problem


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("p.toml", TOML + TOML.replace('name = "Acme"', 'name = "Acme again"'), 26),
        ("p.yaml", YAML + YAML.split("provider:\n", 1)[1], 18),
    ],
)
def test_a_key_declared_twice_is_named_at_its_second_declaration(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    assert _problems(tmp_path, name, text) == [
        f'{name}, line {line}: provider "acme".key: "acme" is declared twice '
        "(first as provider #1)."
    ]


@pytest.mark.parametrize("key", ["sandbox", "google_ads", "linkedin_ads"])
@pytest.mark.parametrize("name", ["p.toml", "p.yaml"])
def test_a_key_of_a_built_in_provider_is_refused(tmp_path: Path, name: str, key: str) -> None:
    text = (TOML if name == "p.toml" else YAML).replace("acme", key)

    assert _problems(tmp_path, name, text) == [
        f'{name}, line 2: provider "{key}".key: "{key}" is a provider built into Tether.'
    ]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("p.toml", TOML.replace("pkce = true", "pkce = true\ncolour = 'blue'"), 13),
        ("p.yaml", YAML.replace("      pkce: true", "      pkce: true\n      colour: blue"), 11),
    ],
)
def test_an_unknown_field_is_refused_so_a_typo_never_passes_silently(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    assert _problems(tmp_path, name, text) == [
        f'{name}, line {line}: provider "acme".oauth.colour: is not a field here (check its '
        "spelling)"
    ]


def test_a_mistake_in_the_second_provider_is_placed_in_its_own_tables(tmp_path: Path) -> None:
    second = TOML.replace('key = "acme"', 'key = "acme_two"').replace(
        'url = "{api}/me"', 'url = "{api}/me"\nid_path = "a..b"'
    )

    assert _problems(tmp_path, "p.toml", TOML + second) == [
        'p.toml, line 40: provider "acme_two".identify.id_path: a path is names joined by dots, '
        "like error.code or data.*.id"
    ]


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = TOML.replace('key = "acme"', 'key = "Acme!"').replace("pkce = true", "pkce = 1")

    assert _problems(tmp_path, "p.toml", text) == [
        'p.toml, line 2: provider "Acme!".key: a key is 2 to 40 characters: a lowercase letter, '
        "then lowercase letters, digits or _",
        'p.toml, line 12: provider "Acme!".oauth.pkce: Input should be a valid boolean',
    ]


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (
            ('auth = "oauth2"', 'auth = "api_key"'),
            9,
            "oauth",
            'is only for auth = "oauth2".',
        ),
        (
            (
                '[provider.oauth]\nauthorize_url = "{api}/authorize"\ntoken_url = "{api}/token"\n'
                "pkce = true\n",
                "",
            ),
            1,
            "oauth",
            'is required when auth = "oauth2".',
        ),
        (
            ('api = "https://api.acme.example"', 'api = "ftp://api.acme.example"'),
            7,
            "bases.api",
            "must be an http:// or https:// URL.",
        ),
        (
            ('url = "{api}/me"', 'url = "/me"'),
            15,
            "identify.url",
            "must be an http(s) URL, or start with a base like {api}.",
        ),
        (
            ("status = 401\n", ""),
            17,
            "errors[0]",
            "needs status, where, present or contains, else it matches every failure.",
        ),
        (
            (
                "[provider.identify]",
                '[provider.accounts]\nurl = "{api}/accounts"\npaging = "token"'
                "\n\n[provider.identify]",
            ),
            16,
            "accounts.paging",
            '"token" needs next_path and next_param.',
        ),
        (
            (
                "[provider.identify]",
                '[provider.report]\nurl = "{api}/r/{account}"\n\n[provider.identify]',
            ),
            15,
            "report.url",
            "{account} is not one of {api}, {account_id}, {start}, {end}.",
        ),
    ],
)
def test_fields_that_do_not_fit_together_are_named(
    tmp_path: Path, change: tuple[str, str], line: int, field: str, words: str
) -> None:
    text = TOML.replace(*change)
    assert text != TOML

    assert _problems(tmp_path, "p.toml", text) == [
        f'p.toml, line {line}: provider "acme".{field}: {words}'
    ]


def test_a_toml_syntax_error_names_the_parsers_line(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "p.toml", TOML.replace("pkce = true", "pkce = "))

    assert problem.startswith("p.toml, line 12: not valid TOML: ")


def test_a_yaml_syntax_error_names_the_parsers_line(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "p.yaml", YAML.replace("pkce: true", "pkce: [true"))

    assert problem.startswith("p.yaml, line 11: not valid YAML: ")


def test_a_yaml_key_written_twice_is_refused_rather_than_silently_overwritten(
    tmp_path: Path,
) -> None:
    text = YAML.replace("      pkce: true", "      pkce: true\n      pkce: false")

    assert _problems(tmp_path, "p.yaml", text) == [
        'p.yaml, line 11: provider "acme".oauth.pkce: is written twice'
    ]


def test_a_file_that_is_not_toml_or_yaml_or_cannot_be_read_is_refused(tmp_path: Path) -> None:
    for path, words in (
        (tmp_path / "p.json", "a providers file is .toml, .yaml or .yml."),
        (tmp_path / "missing.toml", "cannot be read (No such file or directory)."),
    ):
        with pytest.raises(ProviderFileError) as raised:
            load_file(path)
        assert str(raised.value) == f"{path}: {words}"


def test_an_empty_file_declares_no_provider_and_says_so(tmp_path: Path) -> None:
    assert _problems(tmp_path, "p.toml", "# nothing yet\n") == [
        "p.toml: provider: is required but missing"
    ]
