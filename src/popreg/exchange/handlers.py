"""The registry of message handlers: what each incoming message type means.

The transport (:mod:`popreg.exchange.inbox`) verifies, de-duplicates and drops stale
updates; then it calls the handler registered for the message's type inside a transaction
and records the :class:`Outcome` on the :class:`~popreg.exchange.models.InboxMessage`.
A handler may set ``message.person`` and ``message.candidates`` (they are saved with the
outcome).  A handler that raises :class:`~popreg.registry.errors.RegistryError` leaves
nothing applied and the message is recorded as ``rejected`` with the error's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from popreg.exchange.models import InboxMessage
    from popreg.registry.access import Actor

OutcomeStatus = Literal["applied", "review", "unmatched"]


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    detail: dict[str, Any] = field(default_factory=dict)


Handler = Callable[["Actor", "InboxMessage"], Outcome]

_HANDLERS: dict[str, Handler] = {}


def register(type: str, fn: Handler) -> Handler:  # noqa: A002 - the interface's name
    """Make ``fn`` the handler of messages of ``type`` (the last registration wins)."""
    _HANDLERS[type] = fn
    return fn


def unregister(type: str) -> None:  # noqa: A002
    _HANDLERS.pop(type, None)


def handler_for(type: str) -> Handler | None:  # noqa: A002
    return _HANDLERS.get(type)


def registered_types() -> list[str]:
    return sorted(_HANDLERS)
