"""Manager accounts of `SandboxState`: an account over client accounts, as Google Ads' MCC.

A user reaches a manager like any account (and loses it the same way); its clients are
reached only through it, never directly, so removing the user's access to the manager cuts
every client under it at once. Dialects decide what that looks like on their platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tether.sandbox.common import SandboxError, locked

if TYPE_CHECKING:
    from tether.sandbox.state import NewAccount, SandboxAccount


@dataclass(frozen=True)
class Manager:
    account: SandboxAccount
    clients: tuple[SandboxAccount, ...]


class ManagersMixin:
    """Manager hierarchies of `SandboxState`.

    A mixin: the host class provides `_lock`, `accounts` and `add_accounts()`, and calls
    `_clear_managers()` whenever it (re)builds its world.
    """

    accounts: dict[str, SandboxAccount]

    if TYPE_CHECKING:

        def add_accounts(self, specs: Iterable[NewAccount]) -> list[SandboxAccount]: ...

    def _clear_managers(self) -> None:
        # Manager id -> its clients' ids, in creation order.
        self._clients: dict[str, list[str]] = {}

    def _managers_snapshot(self) -> dict[str, list[str]]:
        return {manager_id: list(clients) for manager_id, clients in self._clients.items()}

    def _restore_managers(self, clients: dict[str, list[str]]) -> None:
        for manager_id, under in clients.items():
            if not all(account_id in self.accounts for account_id in [manager_id, *under]):
                raise ValueError("A saved manager names an account that does not exist.")
            self._clients[manager_id] = list(under)

    @locked
    def add_manager(
        self, username: str, name: str, clients: int, *, currency: str = "USD"
    ) -> Manager:
        """A manager account the user reaches, over `clients` new client accounts."""
        from tether.sandbox.state import NewAccount  # the state module imports this one

        if clients < 0:
            raise SandboxError("invalid_request", "A manager has zero or more clients.")
        manager, *under = self.add_accounts(
            [NewAccount(name, currency, users=[username])]
            + [NewAccount(f"{name} — Client {n + 1}", currency) for n in range(clients)]
        )
        self._clients[manager.id] = [a.id for a in under]
        return Manager(manager, tuple(under))

    @locked
    def is_manager(self, account_id: str) -> bool:
        """Whether the account is a manager (of any number of clients)."""
        return account_id in self._clients

    @locked
    def clients_of(self, manager_id: str) -> list[SandboxAccount]:
        """The accounts under a manager; none for any other account."""
        return [self.accounts[i] for i in self._clients.get(manager_id, [])]

    @locked
    def manages(self, manager_id: str, account_id: str) -> bool:
        """Whether the account is one of the manager's clients."""
        return account_id in self._clients.get(manager_id, ())
