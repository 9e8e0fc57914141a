"""OAuth side of the sandbox: clients, authorization codes, grants and their tokens."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tether.sandbox.common import OAuthError, SandboxError, SandboxUser, Settings, locked
from tether.sandbox.tokens import (
    CODE_LIFETIME,
    DEFAULT_CLIENTS,
    DEFAULT_SCOPE,
    EXPIRED_DESCRIPTION,
    IDLE_DESCRIPTION,
    KEPT_ACCESS_TOKENS,
    REPLACED_DESCRIPTION,
    REUSE_DETECTED_DESCRIPTION,
    REVOKE_DESCRIPTIONS,
    AccessRecord,
    AuthCode,
    Grant,
    RefreshRecord,
    TokenRules,
    TokenSet,
    check_code,
)


class GrantsMixin:
    """OAuth clients, codes, grants and tokens of `SandboxState`.

    A mixin: the host class provides `_lock`, `settings`, `users` and `user()`, and calls
    `_clear_grants()` whenever it (re)builds its world.
    """

    settings: Settings
    users: dict[str, SandboxUser]

    if TYPE_CHECKING:

        def user(self, username: str) -> SandboxUser: ...

    def _clear_grants(self) -> None:
        self.clients: dict[str, str] = dict(DEFAULT_CLIENTS)
        self.grants: dict[str, Grant] = {}
        self._codes: dict[str, AuthCode] = {}
        self._prune_codes_at = 1000
        self._access: dict[str, AccessRecord] = {}
        self._refresh: dict[str, RefreshRecord] = {}
        self._grant_access: dict[str, list[str]] = {}
        self._user_grants: dict[str, list[str]] = {}

    def _grants_snapshot(self) -> dict[str, Any]:
        """OAuth clients and grants with every token they answer to (not the short-lived codes)."""
        refresh_tokens: dict[str, list[str]] = {grant_id: [] for grant_id in self.grants}
        for token, record in self._refresh.items():
            refresh_tokens[record.grant_id].append(token)
        grants = []
        for grant in self.grants.values():
            access = [
                [token, self._access[token].expires_at, self._access[token].generation]
                for token in self._grant_access[grant.id]
            ]
            rules = asdict(grant.rules) if grant.rules is not None else None
            saved = {**vars(grant), "rules": rules, "access_tokens": access}
            grants.append({**saved, "refresh_tokens": refresh_tokens[grant.id]})
        return {"clients": dict(self.clients), "grants": grants}

    def _restore_grants(self, snapshot: dict[str, Any]) -> None:
        """Clients and grants as `_grants_snapshot()` gave them; their users exist already."""
        self.clients = dict(snapshot["clients"])
        for saved in snapshot["grants"]:
            fields = dict(saved)
            access_tokens = fields.pop("access_tokens")
            refresh_tokens = fields.pop("refresh_tokens")
            rules = fields.pop("rules", None)
            grant = Grant(**fields, rules=TokenRules(**rules) if rules is not None else None)
            if grant.user_id not in self.users:
                raise ValueError("A saved grant belongs to a user who does not exist.")
            self.grants[grant.id] = grant
            self._user_grants[grant.user_id].append(grant.id)
            self._grant_access[grant.id] = [token for token, _, _ in access_tokens]
            for token, expires_at, generation in access_tokens:
                self._access[token] = AccessRecord(grant.id, float(expires_at), int(generation))
            for token in refresh_tokens:
                self._refresh[token] = RefreshRecord(grant.id)

    def _password_changed(self, user: SandboxUser) -> list[Grant]:
        """Drop the user's pending codes and revoke their live grants (`password_changed`)."""
        for code in [c for c in self._codes.values() if c.user_id == user.id and not c.used]:
            del self._codes[code.code]
        return self._act_on_user_grants(user, lambda g: self._revoke(g, "password_changed"))

    def client_known(self, client_id: str) -> bool:
        """Whether an OAuth client id is registered."""
        return client_id in self.clients

    def client_valid(self, client_id: str, client_secret: str) -> bool:
        """Whether the client credentials are right."""
        expected = self.clients.get(client_id)
        return expected is not None and hmac.compare_digest(
            expected.encode(), client_secret.encode()
        )

    @locked
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

    @locked
    def exchange_code(
        self,
        *,
        client_id: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        rules: TokenRules | None = None,
    ) -> TokenSet:
        """Redeem an authorization code (any attempt uses it up); raises `OAuthError`.

        With `rules`, the grant follows a dialect's own token rules whatever the settings say
        (Meta's hour without a refresh token, LinkedIn's 60 days and 365-day refresh)."""
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
        check_code(record, client_id, redirect_uri, code_verifier)
        grant, tokens = self._new_grant(record.user_id, client_id, record.scope, rules)
        record.grant_id = grant.id
        return tokens

    def _new_grant(
        self, user_id: str, client_id: str, scope: str, rules: TokenRules | None = None
    ) -> tuple[Grant, TokenSet]:
        now, s = time.time(), self.settings
        if rules is None:
            refreshable, lifetime = s.refreshable, s.access_token_lifetime
            if not refreshable:
                lifetime = s.non_refreshable_lifetime
            refresh_lifetime = s.refresh_token_lifetime if refreshable else None
        else:
            refreshable, lifetime = rules.refreshable, rules.access_seconds
            refresh_lifetime = rules.refresh_fixed_seconds or rules.refresh_idle_seconds
        grant = Grant(
            id=f"g_{secrets.token_hex(8)}",
            user_id=user_id,
            client_id=client_id,
            scope=scope,
            access_token="",
            refresh_token=None,
            access_expires_at=now,
            refresh_expires_at=now + refresh_lifetime if refresh_lifetime else None,
            created_at=now,
            rules=rules,
        )
        self.grants[grant.id] = grant
        self._grant_access[grant.id] = []
        self._user_grants[user_id].append(grant.id)
        if refreshable:
            self._issue_refresh(grant)
        return grant, self._issue_access(grant, lifetime)

    def _issue_access(self, grant: Grant, lifetime: int) -> TokenSet:
        now = time.time()
        token = f"sbx_at_{secrets.token_urlsafe(32)}"
        grant.access_token, grant.access_expires_at = token, now + lifetime
        self._access[token] = AccessRecord(grant.id, grant.access_expires_at, grant.generation)
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
        # The token it replaces is remembered (in `_refresh`) so that it is refused as replaced
        # rather than as unknown; `_rotate` decides which token stays in grace.
        grant.refresh_token = f"sbx_rt_{secrets.token_urlsafe(32)}"
        grant.generation += 1
        self._refresh[grant.refresh_token] = RefreshRecord(grant.id)

    def _rotate(self, grant: Grant, presented: str) -> None:
        """Replace the refresh token; the presented one stays usable until the successor is used.

        Presenting the token in grace again discards its unused successor for a newer one, so
        a client that lost a refresh response (crash, timeout) is never locked out.
        """
        if presented == grant.refresh_token:
            grant.previous_refresh_token = presented
        self._issue_refresh(grant)

    @staticmethod
    def _successor_used(grant: Grant) -> None:
        """The client holds the newest refresh token: its predecessor is replaced for good."""
        grant.previous_refresh_token = None

    @locked
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
        if refresh_token == grant.refresh_token:
            self._successor_used(grant)
        elif refresh_token != grant.previous_refresh_token:
            if self.settings.reuse_detection:
                self._revoke(grant, "token_revoked")
                raise OAuthError("invalid_grant", REUSE_DETECTED_DESCRIPTION)
            raise OAuthError("invalid_grant", REPLACED_DESCRIPTION)
        now, rules = time.time(), grant.rules
        if grant.refresh_expires_at is not None and now >= grant.refresh_expires_at:
            idle = rules is not None and rules.refresh_idle_seconds is not None
            raise OAuthError("invalid_grant", IDLE_DESCRIPTION if idle else EXPIRED_DESCRIPTION)
        if rules is None:
            rotate = self.settings.rotate_refresh_tokens
            lifetime = self.settings.access_token_lifetime
        else:
            rotate, lifetime = rules.rotate, rules.access_seconds
            if rules.refresh_idle_seconds is not None:
                grant.refresh_expires_at = now + rules.refresh_idle_seconds
        if rotate:
            self._rotate(grant, refresh_token)
        return self._issue_access(grant, lifetime)

    @locked
    def exchange_access(self, *, client_id: str, access_token: str, lifetime: int) -> TokenSet:
        """A new access token of the grant behind a live one, living `lifetime` seconds (Meta's
        long-lived token exchange); raises `SandboxError` as `user_for_access_token` does, or
        `OAuthError` for another client's token."""
        self.user_for_access_token(access_token)
        grant = self.grants[self._access[access_token].grant_id]
        if grant.client_id != client_id:
            raise OAuthError("invalid_grant", "The access token was issued to another client.")
        return self._issue_access(grant, lifetime)

    @locked
    def sign_grant(self, grant_id: str) -> str:
        """OAuth 1.0a: the secret the grant's access token signs with, made at the grant's first
        ask and kept with it (X's dialect answers it with the token)."""
        grant = self.grant(grant_id)
        if grant.token_secret is None:
            grant.token_secret = secrets.token_urlsafe(30)
        return grant.token_secret

    @locked
    def token_secret_of(self, access_token: str) -> str | None:
        """The secret an access token signs with (OAuth 1.0a), if it was ever issued one."""
        record = self._access.get(access_token)
        return None if record is None else self.grants[record.grant_id].token_secret

    @locked
    def revoke_access_token(self, access_token: str) -> Grant:
        """Revoke the grant behind a live access token, as when the user removes the app from
        their settings (Meta's `DELETE /me/permissions`); raises like `user_for_access_token`."""
        self.user_for_access_token(access_token)
        return self._revoke(self.grants[self._access[access_token].grant_id], "token_revoked")

    @locked
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

    @locked
    def code_owner(self, code: str) -> str | None:
        """Username behind an authorization code, if known; changes nothing."""
        record = self._codes.get(code)
        return None if record is None else self.users[record.user_id].username

    @locked
    def token_owner(self, token: str, *, refresh_only: bool = False) -> str | None:
        """Username behind an access or refresh token ever issued; changes nothing."""
        access = None if refresh_only else self._access.get(token)
        record = access or self._refresh.get(token)
        if record is None:
            return None
        return self.users[self.grants[record.grant_id].user_id].username

    @locked
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
        if record.generation == grant.generation:
            # Issued alongside the newest refresh token, so the client has that one too.
            self._successor_used(grant)
        if time.time() >= record.expires_at:
            raise SandboxError("token_expired", "The access token has expired.")
        return self.users[grant.user_id]

    @locked
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

    @locked
    def grant_holding(self, token: str) -> Grant:
        """The grant an access or refresh token was issued under, or a `not_found` error."""
        record = self._access.get(token) or self._refresh.get(token)
        if record is None:
            raise SandboxError("not_found", "No grant holds this token.")
        return self.grants[record.grant_id]

    @locked
    def expire_access(self, grant_id: str) -> Grant:
        """Only the access tokens expire now; a refresh recovers."""
        grant = self.grant(grant_id)
        now = time.time()
        for token in self._grant_access[grant.id]:
            record = self._access[token]
            record.expires_at = min(record.expires_at, now)
        grant.access_expires_at = min(grant.access_expires_at, now)
        return grant

    @locked
    def expire_grant(self, grant_id: str) -> Grant:
        """Access and refresh tokens expire now; the user has to consent again."""
        grant = self.expire_access(grant_id)
        if grant.refresh_token is not None:
            grant.refresh_expires_at = time.time()
        return grant

    @locked
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

    @locked
    def act_on_grant(self, grant_id: str, action: str) -> Grant:
        """Apply `expire`, `expire-access` or `revoke` to one grant."""
        act = self._action(action)
        return act(self.grant(grant_id))

    @locked
    def act_on_user_grants(self, username: str, action: str) -> list[Grant]:
        """Apply `expire`, `expire-access` or `revoke` to every live grant of a user."""
        act = self._action(action)
        return self._act_on_user_grants(self.user(username), act)

    def _act_on_user_grants(self, user: SandboxUser, act: Callable[[Grant], Grant]) -> list[Grant]:
        live = [g for g in self.grants_for(user.username) if g.revoked_reason is None]
        return [act(g) for g in live]
