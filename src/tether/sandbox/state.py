"""The world of Sandbox Ads: users, accounts, settings and faults; OAuth is in `grants`.

It lives in memory; `snapshot()` and `restored()` turn it into JSON-ready data and back, for
`store`, which keeps it in a file when the sandbox is mounted in Tether.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tether.sandbox.common import OAuthError, SandboxError, SandboxUser, Settings, locked
from tether.sandbox.grants import GrantsMixin
from tether.sandbox.managers import Manager, ManagersMixin
from tether.sandbox.tokens import (
    CODE_LIFETIME,
    DEFAULT_CLIENTS,
    DEFAULT_SCOPE,
    KEPT_ACCESS_TOKENS,
    REVOKE_DESCRIPTIONS,
    AuthCode,
    Grant,
    TokenSet,
    pkce_challenge,
)
from tether.sandbox.traffic import CALL_KINDS, Faults, TrafficMixin, apply_changes

__all__ = [
    "CALL_KINDS",
    "CODE_LIFETIME",
    "DEFAULT_CLIENTS",
    "DEFAULT_SCOPE",
    "FIRST_ACCOUNT_ID",
    "KEPT_ACCESS_TOKENS",
    "REVOKE_DESCRIPTIONS",
    "AuthCode",
    "Faults",
    "Grant",
    "Manager",
    "NewAccount",
    "NewUser",
    "OAuthError",
    "SandboxAccount",
    "SandboxError",
    "SandboxState",
    "SandboxUser",
    "Settings",
    "TokenSet",
    "account_order",
    "pkce_challenge",
]

FIRST_ACCOUNT_ID = 1000001

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


@dataclass(frozen=True)
class SandboxAccount:
    id: str
    name: str
    currency: str


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


def account_order(account_id: str) -> tuple[int, str]:
    """Sort key giving numeric order for numeric ids and a stable order for any other id."""
    return (len(account_id), account_id)


class SandboxState(GrantsMixin, TrafficMixin, ManagersMixin):
    """The whole sandbox platform; every route is a thin wrapper around one method here."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self._revision = 0
        self._clear()

    @classmethod
    def seeded(cls, seed: int = 0) -> SandboxState:
        """The demo world (alice, bob, carol and about a dozen accounts), same for one seed."""
        state = cls(seed)
        state._seed_world()
        return state

    @locked
    def reset(self) -> None:
        """Back to the freshly seeded world: grants, faults, settings and stats are dropped."""
        self._clear()
        self._seed_world()

    def _clear(self) -> None:
        self.settings = Settings()
        self.users: dict[str, SandboxUser] = {}
        self.accounts: dict[str, SandboxAccount] = {}
        self._by_username: dict[str, SandboxUser] = {}
        self._by_api_key: dict[str, SandboxUser] = {}
        self._reach: dict[str, dict[str, None]] = {}
        self._removed: dict[str, set[str]] = {}
        self._sorted_reach: dict[str, list[str]] = {}
        self._next_account = FIRST_ACCOUNT_ID
        self._clear_grants()
        self._clear_traffic()
        self._clear_managers()

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

    @locked
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
        self._index_user(user, reach=spec.accounts)
        return user

    def _index_user(
        self, user: SandboxUser, *, reach: Iterable[str], removed: Iterable[str] = ()
    ) -> None:
        self.users[user.id] = user
        self._by_username[user.username] = user
        self._by_api_key[user.api_key] = user
        self._reach[user.id] = dict.fromkeys(reach)
        self._removed[user.id] = set(removed)
        self._user_grants[user.id] = []

    @locked
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

    @locked
    def authenticate(self, username: str, password: str) -> SandboxUser | None:
        """The user if the password is right, else None."""
        found = self._by_username.get(username)
        if found is None or not hmac.compare_digest(found.password.encode(), password.encode()):
            return None
        return found

    @locked
    def change_password(self, username: str, password: str) -> list[Grant]:
        """Set a new password; all the user's grants and pending codes die (`password_changed`)."""
        found = self.user(username)
        found.password = password
        return self._password_changed(found)

    @locked
    def remove_access(self, username: str, account_id: str) -> None:
        """The user stops reaching this account (API answers 403 `access_removed`)."""
        found = self.user(username)
        if account_id not in self._reach[found.id]:
            raise SandboxError("not_found", f"{username} does not reach account {account_id}.")
        self._set_reach(found, account_id, reachable=False)

    @locked
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

    @locked
    def reachable_account_ids(self, user_id: str) -> list[str]:
        """Ids of the accounts a user reaches now, in stable (numeric) order."""
        cached = self._sorted_reach.get(user_id)
        if cached is None:
            cached = sorted(self._reach.get(user_id, {}), key=account_order)
            self._sorted_reach[user_id] = cached
        return cached

    @locked
    def page_accounts(
        self, user_id: str, page_size: int, after: str | None = None
    ) -> tuple[list[SandboxAccount], str | None]:
        """One page of reachable accounts after a cursor id, plus the cursor of the next page."""
        ids = self.reachable_account_ids(user_id)
        start = 0 if after is None else bisect_right(ids, account_order(after), key=account_order)
        page = ids[start : start + page_size]
        more = start + page_size < len(ids)
        return [self.accounts[i] for i in page], (page[-1] if more and page else None)

    @locked
    def account_for(self, user_id: str, account_id: str) -> SandboxAccount:
        """An account the user reaches, or `access_removed` / `not_found`."""
        if account_id in self._reach.get(user_id, {}):
            return self.accounts[account_id]
        if account_id in self._removed.get(user_id, set()):
            raise SandboxError(
                "access_removed", f"You no longer have access to account {account_id}."
            )
        raise SandboxError("not_found", f"Account {account_id} was not found.")

    # -- settings (faults and call statistics: see TrafficMixin) -----------------------------

    @locked
    def update_settings(self, **changes: Any) -> Settings:
        """Change some settings; unknown names are refused."""
        apply_changes(self.settings, changes)
        return self.settings

    @locked
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
            "user_faults": {name: asdict(f) for name, f in sorted(self.user_faults.items())},
        }

    # -- API keys (OAuth clients, codes, grants and tokens: see GrantsMixin) ------------

    @locked
    def user_for_api_key(self, api_key: str) -> SandboxUser:
        """The user owning an API key; raises `invalid_api_key`."""
        found = self._by_api_key.get(api_key)
        if found is None:
            raise SandboxError("invalid_api_key", "The API key is not recognised.")
        return found

    @locked
    def regenerate_api_key(self, username: str) -> SandboxUser:
        """The user replaces their API key, as in a tool's settings: the old one stops working."""
        user = self.user(username)
        del self._by_api_key[user.api_key]
        user.api_key = f"sbx_{secrets.token_hex(16)}"
        self._by_api_key[user.api_key] = user
        return user

    # -- saving and restoring (the file they go to: see `store`) ------------------------

    @property
    def revision(self) -> int:
        """Changes with every call that may have changed the state; `snapshot()` leaves it."""
        return self._revision

    def snapshot(self) -> dict[str, Any]:
        """Everything a restart must not lose, as JSON-ready data; not auth codes nor stats."""
        with self._lock:  # not @locked, which would bump the revision
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "next_account": self._next_account,
            "settings": asdict(self.settings),
            # vars(), not asdict(): the fields are plain values, and asdict's deep copies are slow.
            "accounts": [vars(account).copy() for account in self.accounts.values()],
            "users": [
                {
                    **vars(user),
                    "reach": list(self._reach[user.id]),
                    "removed": sorted(self._removed[user.id]),
                }
                for user in self.users.values()
            ],
            "managers": self._managers_snapshot(),
            "faults": self._faults_snapshot(),
            **self._grants_snapshot(),
        }

    @classmethod
    def restored(cls, data: dict[str, Any]) -> SandboxState:
        """The state a `snapshot()` describes; raises when the data is not one."""
        state = cls(int(data["seed"]))
        state.settings = Settings(**data["settings"])
        for fields in data["accounts"]:
            account = SandboxAccount(**fields)
            state.accounts[account.id] = account
        state._next_account = int(data["next_account"])
        for fields in data["users"]:
            state._restore_user(dict(fields))
        state._restore_managers(data["managers"])
        state._restore_faults(data["faults"])
        state._restore_grants(data)
        return state

    def _restore_user(self, fields: dict[str, Any]) -> None:
        reach, removed = fields.pop("reach"), fields.pop("removed")
        self._require_accounts([*reach, *removed])
        self._index_user(SandboxUser(**fields), reach=reach, removed=removed)
