"""In-memory world of Sandbox Ads: users, accounts, OAuth grants, settings and faults."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import random
import secrets
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ParamSpec, TypeVar, cast

CODE_LIFETIME = 600
DEFAULT_SCOPE = "ads.read"
DEFAULT_CLIENTS = {"tether": "tether-sandbox-secret"}
# Old access tokens stay valid after a refresh (as on real platforms); only the newest few are
# remembered so that a benchmark refreshing in a loop does not grow memory without bound.
KEPT_ACCESS_TOKENS = 5
FIRST_ACCOUNT_ID = 1000001

REVOKE_DESCRIPTIONS = {
    "token_revoked": "The grant was revoked.",
    "password_changed": "The grant was revoked because the user changed their password.",
    "code_reused": "The grant was revoked because its authorization code was used twice.",
}

_DEMO_USERS = [("alice", "Alice Martin"), ("bob", "Bob Okafor"), ("carol", "Carol Nguyen")]
_COMPANIES = [
    "Northwind Outfitters",
    "Bluebird Coffee Roasters",
    "Harbor & Pine Dental",
    "Summit Trail Bikes",
    "Lumen Skincare",
    "Copper Kettle Bakery",
    "Atlas Home Insurance",
    "Greenleaf Organics",
    "Riverside Veterinary",
    "Brightside Language School",
]
_CHANNELS = ["Search", "Display", "Shopping", "Video", "Brand", "Performance Max"]
_CURRENCIES = ["USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD", "AUD", "SEK", "JPY"]

P = ParamSpec("P")
R = TypeVar("R")


class SandboxError(Exception):
    """A refusal that the web layer renders as `{"error": {"code", "message"}}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OAuthError(Exception):
    """An RFC 6749 error response (`error` plus a human `error_description`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class SandboxUser:
    id: str
    username: str
    name: str
    email: str
    password: str = field(repr=False)
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class SandboxAccount:
    id: str
    name: str
    currency: str


@dataclass
class Grant:
    id: str
    user_id: str
    client_id: str
    scope: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_expires_at: float
    refresh_expires_at: float | None
    created_at: float
    revoked_reason: str | None = None


@dataclass
class AuthCode:
    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    code_challenge: str
    user_id: str
    scope: str
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class Settings:
    access_token_lifetime: int = 3600
    rotate_refresh_tokens: bool = False
    refreshable: bool = True
    non_refreshable_lifetime: int = 60 * 86400
    history_days: int = 1095
    # Not in the original brief: lets tests mimic Google's 7-day refresh tokens of unverified apps.
    refresh_token_lifetime: int | None = None


@dataclass
class Faults:
    down: bool = False
    throttle_retry_after: int | None = None
    slow_ms: int = 0


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    name: str | None = None
    email: str | None = None
    accounts: Sequence[str] = ()


@dataclass(frozen=True)
class NewAccount:
    name: str
    currency: str = "USD"
    id: str | None = None
    users: Sequence[str] = ()


@dataclass(frozen=True)
class TokenSet:
    grant_id: str
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(repr=False)
    refresh_token_expires_in: int | None
    scope: str

    def as_json(self) -> dict[str, Any]:
        """Body of a successful RFC 6749 token response."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.refresh_token_expires_in is not None:
            body["refresh_token_expires_in"] = self.refresh_token_expires_in
        return body


@dataclass
class _AccessRecord:
    grant_id: str
    expires_at: float


@dataclass
class _RefreshRecord:
    grant_id: str
    current: bool = True


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    """Serialise access: the server thread and test code touch the same state."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with cast("SandboxState", args[0])._lock:
            return method(*args, **kwargs)

    return wrapper


def account_order(account_id: str) -> tuple[int, str]:
    """Sort key giving numeric order for numeric ids and a stable order for any other id."""
    return (len(account_id), account_id)


def pkce_challenge(verifier: str) -> str:
    """S256 code challenge of a PKCE code verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SandboxState:
    """The whole sandbox platform; every route is a thin wrapper around one method here."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self._clear()

    @classmethod
    def seeded(cls, seed: int = 0) -> SandboxState:
        """The demo world (alice, bob, carol and about a dozen accounts), same for one seed."""
        state = cls(seed)
        state._seed_world()
        return state

    @_locked
    def reset(self) -> None:
        """Back to the freshly seeded world: grants, faults and settings are dropped."""
        self._clear()
        self._seed_world()

    def _clear(self) -> None:
        self.settings = Settings()
        self.faults = Faults()
        self.clients: dict[str, str] = dict(DEFAULT_CLIENTS)
        self.users: dict[str, SandboxUser] = {}
        self.accounts: dict[str, SandboxAccount] = {}
        self.grants: dict[str, Grant] = {}
        self._by_username: dict[str, SandboxUser] = {}
        self._by_api_key: dict[str, SandboxUser] = {}
        self._reach: dict[str, dict[str, None]] = {}
        self._removed: dict[str, set[str]] = {}
        self._sorted_reach: dict[str, list[str]] = {}
        self._codes: dict[str, AuthCode] = {}
        self._prune_codes_at = 1000
        self._access: dict[str, _AccessRecord] = {}
        self._refresh: dict[str, _RefreshRecord] = {}
        self._grant_access: dict[str, list[str]] = {}
        self._user_grants: dict[str, list[str]] = {}
        self._next_account = FIRST_ACCOUNT_ID

    def _seed_world(self) -> None:
        rng = random.Random(self.seed)
        companies = rng.sample(_COMPANIES, 6)
        specs: list[NewAccount] = []
        for company in companies:
            currency = rng.choice(_CURRENCIES)
            specs += [NewAccount(f"{company} — {ch}", currency) for ch in rng.sample(_CHANNELS, 2)]
        ids = [a.id for a in self.add_accounts(specs)]
        reach = {"alice": ids[:9], "bob": [*ids[5:9], ids[9]], "carol": ids[10:]}
        self.add_users(
            NewUser(
                username, f"{username}-password", name, f"{username}@sandbox.test", reach[username]
            )
            for username, name in _DEMO_USERS
        )

    # -- users and accounts -------------------------------------------------------------

    def api_key_for(self, username: str) -> str:
        """Deterministic API key of a username in this world."""
        digest = hashlib.sha256(f"{self.seed}:{username}".encode()).hexdigest()
        return f"sbx_{digest[:32]}"

    @_locked
    def add_users(self, specs: Iterable[NewUser]) -> list[SandboxUser]:
        """Create users all-or-nothing; accounts listed in a spec become reachable."""
        specs = list(specs)
        seen: set[str] = set()
        for spec in specs:
            if not spec.username or spec.username in self._by_username or spec.username in seen:
                raise SandboxError("conflict", f"Username {spec.username!r} is taken or empty.")
            seen.add(spec.username)
            self._require_accounts(spec.accounts)
        return [self._insert_user(spec) for spec in specs]

    def add_user(
        self,
        username: str,
        password: str,
        *,
        name: str | None = None,
        email: str | None = None,
        accounts: Sequence[str] = (),
    ) -> SandboxUser:
        """Create one user."""
        return self.add_users([NewUser(username, password, name, email, accounts)])[0]

    def create_users(
        self,
        count: int,
        *,
        prefix: str = "user",
        password: str = "password",
        accounts: Sequence[str] = (),
    ) -> list[SandboxUser]:
        """Bulk helper for benchmarks: `{prefix}{n}` users, numbered after existing ones."""
        start = len(self.users)
        return self.add_users(
            NewUser(f"{prefix}{start + n}", password, accounts=accounts) for n in range(count)
        )

    def _insert_user(self, spec: NewUser) -> SandboxUser:
        user = SandboxUser(
            id=f"u_{spec.username}",
            username=spec.username,
            name=spec.name or spec.username.replace("_", " ").title(),
            email=spec.email or f"{spec.username}@sandbox.test",
            password=spec.password,
            api_key=self.api_key_for(spec.username),
        )
        self.users[user.id] = user
        self._by_username[user.username] = user
        self._by_api_key[user.api_key] = user
        self._reach[user.id] = dict.fromkeys(spec.accounts)
        self._removed[user.id] = set()
        self._user_grants[user.id] = []
        return user

    @_locked
    def add_accounts(self, specs: Iterable[NewAccount]) -> list[SandboxAccount]:
        """Create accounts all-or-nothing and give the listed usernames access to them."""
        specs = list(specs)
        seen: set[str] = set()
        for spec in specs:
            if spec.id is not None:
                if not spec.id or spec.id in self.accounts or spec.id in seen:
                    raise SandboxError("conflict", f"Account id {spec.id!r} is taken or empty.")
                seen.add(spec.id)
            for username in spec.users:
                self.user(username)
        return [self._insert_account(spec) for spec in specs]

    def add_account(
        self,
        name: str,
        *,
        currency: str = "USD",
        account_id: str | None = None,
        users: Sequence[str] = (),
    ) -> SandboxAccount:
        """Create one account."""
        return self.add_accounts([NewAccount(name, currency, account_id, users)])[0]

    def create_accounts(
        self,
        count: int,
        *,
        users: Sequence[str] = (),
        name_prefix: str = "Bulk Account",
        currency: str = "USD",
    ) -> list[SandboxAccount]:
        """Bulk helper for benchmarks: `count` accounts reachable by every listed username."""
        start = len(self.accounts)
        specs = (
            NewAccount(f"{name_prefix} {start + n}", currency, None, users) for n in range(count)
        )
        return self.add_accounts(specs)

    def _insert_account(self, spec: NewAccount) -> SandboxAccount:
        account_id = spec.id
        if account_id is None:
            while str(self._next_account) in self.accounts:
                self._next_account += 1
            account_id = str(self._next_account)
        account = SandboxAccount(id=account_id, name=spec.name, currency=spec.currency.upper())
        self.accounts[account.id] = account
        for username in spec.users:
            self._set_reach(self._by_username[username], account.id, reachable=True)
        return account

    def _require_accounts(self, account_ids: Iterable[str]) -> None:
        for account_id in account_ids:
            if account_id not in self.accounts:
                raise SandboxError("not_found", f"Account {account_id} does not exist.")

    def user(self, username: str) -> SandboxUser:
        """The user with this username, or a `not_found` error."""
        found = self._by_username.get(username)
        if found is None:
            raise SandboxError("not_found", f"User {username!r} does not exist.")
        return found

    @_locked
    def authenticate(self, username: str, password: str) -> SandboxUser | None:
        """The user if the password is right, else None."""
        found = self._by_username.get(username)
        if found is None or not hmac.compare_digest(found.password.encode(), password.encode()):
            return None
        return found

    @_locked
    def change_password(self, username: str, password: str) -> list[Grant]:
        """Set a new password; all the user's grants and pending codes die (`password_changed`)."""
        found = self.user(username)
        found.password = password
        for code in [c for c in self._codes.values() if c.user_id == found.id and not c.used]:
            del self._codes[code.code]
        return self._act_on_user_grants(found, lambda g: self._revoke(g, "password_changed"))

    @_locked
    def remove_access(self, username: str, account_id: str) -> None:
        """The user stops reaching this account (API answers 403 `access_removed`)."""
        found = self.user(username)
        if account_id not in self._reach[found.id]:
            raise SandboxError("not_found", f"{username} does not reach account {account_id}.")
        self._set_reach(found, account_id, reachable=False)

    @_locked
    def restore_access(self, username: str, account_id: str) -> None:
        """Give (back) the user access to an existing account."""
        found = self.user(username)
        self._require_accounts([account_id])
        self._set_reach(found, account_id, reachable=True)

    def _set_reach(self, user: SandboxUser, account_id: str, *, reachable: bool) -> None:
        if reachable:
            self._reach[user.id][account_id] = None
            self._removed[user.id].discard(account_id)
        else:
            self._reach[user.id].pop(account_id, None)
            self._removed[user.id].add(account_id)
        self._sorted_reach.pop(user.id, None)

    @_locked
    def reachable_account_ids(self, user_id: str) -> list[str]:
        """Ids of the accounts a user reaches now, in stable (numeric) order."""
        cached = self._sorted_reach.get(user_id)
        if cached is None:
            cached = sorted(self._reach.get(user_id, {}), key=account_order)
            self._sorted_reach[user_id] = cached
        return cached

    @_locked
    def page_accounts(
        self, user_id: str, page_size: int, after: str | None = None
    ) -> tuple[list[SandboxAccount], str | None]:
        """One page of reachable accounts after a cursor id, plus the cursor of the next page."""
        ids = self.reachable_account_ids(user_id)
        start = 0 if after is None else bisect_right(ids, account_order(after), key=account_order)
        page = ids[start : start + page_size]
        more = start + page_size < len(ids)
        return [self.accounts[i] for i in page], (page[-1] if more and page else None)

    @_locked
    def account_for(self, user_id: str, account_id: str) -> SandboxAccount:
        """An account the user reaches, or `access_removed` / `not_found`."""
        if account_id in self._reach.get(user_id, {}):
            return self.accounts[account_id]
        if account_id in self._removed.get(user_id, set()):
            raise SandboxError(
                "access_removed", f"You no longer have access to account {account_id}."
            )
        raise SandboxError("not_found", f"Account {account_id} was not found.")

    # -- settings and faults ------------------------------------------------------------

    @_locked
    def update_settings(self, **changes: Any) -> Settings:
        """Change some settings; unknown names are refused."""
        _apply(self.settings, changes)
        return self.settings

    @_locked
    def set_faults(self, **changes: Any) -> Faults:
        """Change some faults (`down`, `throttle_retry_after`, `slow_ms`)."""
        _apply(self.faults, changes)
        return self.faults

    @_locked
    def clear_faults(self) -> Faults:
        """Turn every fault off."""
        self.faults = Faults()
        return self.faults

    @_locked
    def summary(self) -> dict[str, Any]:
        """Counts, settings and faults, for the control API."""
        live = sum(1 for g in self.grants.values() if g.revoked_reason is None)
        return {
            "seed": self.seed,
            "users": len(self.users),
            "accounts": len(self.accounts),
            "grants": len(self.grants),
            "live_grants": live,
            "settings": asdict(self.settings),
            "faults": asdict(self.faults),
        }

    # -- OAuth: clients, codes, grants and tokens ---------------------------------------

    def client_known(self, client_id: str) -> bool:
        """Whether an OAuth client id is registered."""
        return client_id in self.clients

    def client_valid(self, client_id: str, client_secret: str) -> bool:
        """Whether the client credentials are right."""
        expected = self.clients.get(client_id)
        return expected is not None and hmac.compare_digest(
            expected.encode(), client_secret.encode()
        )

    @_locked
    def issue_code(
        self, *, client_id: str, redirect_uri: str, code_challenge: str, user_id: str, scope: str
    ) -> str:
        """A single-use code bound to client, redirect URI, PKCE challenge and user."""
        now = time.time()
        if len(self._codes) >= self._prune_codes_at:
            self._codes = {k: c for k, c in self._codes.items() if c.expires_at > now}
            # Doubling the threshold keeps pruning amortised O(1) when many codes are live.
            self._prune_codes_at = max(1000, 2 * len(self._codes))
        code = AuthCode(
            code=secrets.token_urlsafe(32),
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            user_id=user_id,
            scope=scope or DEFAULT_SCOPE,
            expires_at=now + CODE_LIFETIME,
        )
        self._codes[code.code] = code
        return code.code

    @_locked
    def exchange_code(
        self, *, client_id: str, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Redeem an authorization code (any attempt uses it up); raises `OAuthError`."""
        record = self._codes.get(code)
        if record is None:
            raise OAuthError("invalid_grant", "The authorization code is not recognised.")
        if record.used:
            if record.grant_id is not None:
                self._revoke(self.grants[record.grant_id], "code_reused")
            raise OAuthError(
                "invalid_grant",
                "The authorization code was already used; the grant it produced is now revoked.",
            )
        record.used = True
        _check_code(record, client_id, redirect_uri, code_verifier)
        grant, tokens = self._new_grant(record.user_id, client_id, record.scope)
        record.grant_id = grant.id
        return tokens

    def _new_grant(self, user_id: str, client_id: str, scope: str) -> tuple[Grant, TokenSet]:
        now, s = time.time(), self.settings
        refresh_expiry = None
        if s.refreshable and s.refresh_token_lifetime is not None:
            refresh_expiry = now + s.refresh_token_lifetime
        grant = Grant(
            id=f"g_{secrets.token_hex(8)}",
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            access_token="",
            refresh_token=None,
            access_expires_at=now,
            refresh_expires_at=refresh_expiry,
            created_at=now,
        )
        self.grants[grant.id] = grant
        self._grant_access[grant.id] = []
        self._user_grants[user_id].append(grant.id)
        lifetime = s.access_token_lifetime if s.refreshable else s.non_refreshable_lifetime
        if s.refreshable:
            self._issue_refresh(grant)
        return grant, self._issue_access(grant, lifetime)

    def _issue_access(self, grant: Grant, lifetime: int) -> TokenSet:
        now = time.time()
        token = f"sbx_at_{secrets.token_urlsafe(32)}"
        grant.access_token, grant.access_expires_at = token, now + lifetime
        self._access[token] = _AccessRecord(grant.id, grant.access_expires_at)
        kept = self._grant_access[grant.id]
        kept.append(token)
        for old in kept[:-KEPT_ACCESS_TOKENS]:
            self._access.pop(old, None)
        del kept[:-KEPT_ACCESS_TOKENS]
        refresh_in = None
        if grant.refresh_token is not None and grant.refresh_expires_at is not None:
            refresh_in = max(0, round(grant.refresh_expires_at - now))
        return TokenSet(grant.id, token, lifetime, grant.refresh_token, refresh_in, grant.scope)

    def _issue_refresh(self, grant: Grant) -> None:
        if grant.refresh_token is not None:
            self._refresh[grant.refresh_token].current = False
        grant.refresh_token = f"sbx_rt_{secrets.token_urlsafe(32)}"
        self._refresh[grant.refresh_token] = _RefreshRecord(grant.id)

    @_locked
    def refresh(self, *, client_id: str, refresh_token: str) -> TokenSet:
        """A new access token (and, when rotating, a new refresh token); raises `OAuthError`."""
        record = self._refresh.get(refresh_token)
        if record is None:
            raise OAuthError("invalid_grant", "The refresh token is not recognised.")
        grant = self.grants[record.grant_id]
        if grant.client_id != client_id:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        if grant.revoked_reason is not None:
            raise OAuthError("invalid_grant", REVOKE_DESCRIPTIONS[grant.revoked_reason])
        if not record.current:
            raise OAuthError(
                "invalid_grant", "The refresh token was rotated; only the newest one is valid."
            )
        if grant.refresh_expires_at is not None and time.time() >= grant.refresh_expires_at:
            raise OAuthError("invalid_grant", "The refresh token has expired.")
        if self.settings.rotate_refresh_tokens:
            self._issue_refresh(grant)
        return self._issue_access(grant, self.settings.access_token_lifetime)

    @_locked
    def revoke_token(self, token: str, client_id: str) -> bool:
        """RFC 7009: revoke the grant owning an access or refresh token of this client."""
        record = self._access.get(token) or self._refresh.get(token)
        if record is None:
            return False
        grant = self.grants[record.grant_id]
        if grant.client_id != client_id or grant.revoked_reason is not None:
            return False
        self._revoke(grant, "token_revoked")
        return True

    @_locked
    def user_for_access_token(self, token: str) -> SandboxUser:
        """The user behind a live access token; raises `SandboxError` saying why not."""
        record = self._access.get(token)
        if record is None:
            raise SandboxError("invalid_token", "The access token is not recognised.")
        grant = self.grants[record.grant_id]
        if grant.revoked_reason == "password_changed":
            raise SandboxError(
                "password_changed",
                "The access token stopped working because the user changed their password.",
            )
        if grant.revoked_reason is not None:
            raise SandboxError("token_revoked", "The access token was revoked.")
        if time.time() >= record.expires_at:
            raise SandboxError("token_expired", "The access token has expired.")
        return self.users[grant.user_id]

    @_locked
    def user_for_api_key(self, api_key: str) -> SandboxUser:
        """The user owning an API key; raises `invalid_api_key`."""
        found = self._by_api_key.get(api_key)
        if found is None:
            raise SandboxError("invalid_api_key", "The API key is not recognised.")
        return found

    @_locked
    def grants_for(self, username: str | None = None) -> list[Grant]:
        """All grants, or those of one user, oldest first."""
        if username is None:
            return list(self.grants.values())
        return [self.grants[g] for g in self._user_grants[self.user(username).id]]

    def grant(self, grant_id: str) -> Grant:
        """One grant, or a `not_found` error."""
        found = self.grants.get(grant_id)
        if found is None:
            raise SandboxError("not_found", f"Grant {grant_id!r} does not exist.")
        return found

    @_locked
    def expire_access(self, grant_id: str) -> Grant:
        """Only the access tokens expire now; a refresh recovers."""
        grant = self.grant(grant_id)
        now = time.time()
        for token in self._grant_access[grant.id]:
            record = self._access[token]
            record.expires_at = min(record.expires_at, now)
        grant.access_expires_at = min(grant.access_expires_at, now)
        return grant

    @_locked
    def expire_grant(self, grant_id: str) -> Grant:
        """Access and refresh tokens expire now; the user has to consent again."""
        grant = self.expire_access(grant_id)
        if grant.refresh_token is not None:
            grant.refresh_expires_at = time.time()
        return grant

    @_locked
    def revoke_grant(self, grant_id: str, reason: str = "token_revoked") -> Grant:
        """Revoke a grant, as if the user removed the app."""
        return self._revoke(self.grant(grant_id), reason)

    def _revoke(self, grant: Grant, reason: str) -> Grant:
        if reason not in REVOKE_DESCRIPTIONS:
            raise SandboxError("invalid_request", f"Unknown revocation reason {reason!r}.")
        if grant.revoked_reason is None:
            grant.revoked_reason = reason
        return grant

    def _action(self, action: str) -> Callable[[Grant], Grant]:
        actions: dict[str, Callable[[Grant], Grant]] = {
            "expire": lambda g: self.expire_grant(g.id),
            "expire-access": lambda g: self.expire_access(g.id),
            "revoke": lambda g: self._revoke(g, "token_revoked"),
        }
        if action not in actions:
            raise SandboxError("not_found", f"Unknown grant action {action!r}.")
        return actions[action]

    @_locked
    def act_on_grant(self, grant_id: str, action: str) -> Grant:
        """Apply `expire`, `expire-access` or `revoke` to one grant."""
        act = self._action(action)
        return act(self.grant(grant_id))

    @_locked
    def act_on_user_grants(self, username: str, action: str) -> list[Grant]:
        """Apply `expire`, `expire-access` or `revoke` to every live grant of a user."""
        act = self._action(action)
        return self._act_on_user_grants(self.user(username), act)

    def _act_on_user_grants(self, user: SandboxUser, act: Callable[[Grant], Grant]) -> list[Grant]:
        live = [g for g in self.grants_for(user.username) if g.revoked_reason is None]
        return [act(g) for g in live]


def _check_code(record: AuthCode, client_id: str, redirect_uri: str, verifier: str | None) -> None:
    if time.time() >= record.expires_at:
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if record.client_id != client_id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if record.redirect_uri != redirect_uri:
        raise OAuthError(
            "invalid_grant", "The redirect_uri differs from the one in the authorization request."
        )
    if not verifier:
        raise OAuthError("invalid_request", "The code_verifier parameter is missing.")
    if not hmac.compare_digest(pkce_challenge(verifier), record.code_challenge):
        raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.")


def _apply(target: Any, changes: dict[str, Any]) -> None:
    names = {f.name for f in fields(target)}
    unknown = set(changes) - names
    if unknown:
        raise SandboxError("invalid_request", f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(target, name, value)
