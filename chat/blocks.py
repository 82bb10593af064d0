"""Blocks (issue 19): a signed-in person stops hearing from another. Pure.

`{"type": "block", "user": USER_ID}` / `{"type": "unblock", "user": USER_ID}`, by anyone signed
in. A block is kept by *account* (`<idp>:<provider id>`, chat/roles.py), so it outlives a
change of the blocked person's display name, in one `chatstate` row per (blocker, blocked).

How blocked messages stay away, with no table read on the message path: every connection of
a blocker is in one Web PubSub group per person they block, `b.<32 hex of that account>`
(`group`). Each room send, mention, typing notice, edit and reaction then carries the filter
`not('b.<sender>' in groups)` (`filtered`), which depends on the sender alone: the service
skips the blocker's connections. A block puts all the blocker's open connections in that group
at once (add-user-to-group), an unblock takes them out, and `connect` puts a new connection
in the groups of its account's blocks (one partition read beside the chat-wide ban's).
A blocked person's DM to the blocker is refused (one point read beside the recipient check).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from chat import direct, events, history, identity, rate_limit, roles
from chat.plan import (
    AddUserToGroups,
    DropBlock,
    Failed,
    KnownUser,
    ListBlocks,
    Outcomes,
    Plan,
    RemoveUserFromGroups,
    SaveBlock,
    SendToUser,
    after,
    done,
)
from chat.reply import text
from chat.settings import Settings

BLOCK, UNBLOCK = "block", "unblock"
KINDS = (BLOCK, UNBLOCK)
MAX_BLOCKS = 1000  # per person: each is a group their connections are in
GROUP_PREFIX = "b."  # room groups are "r.", presence groups "p2.": no collision
PARTITION_PREFIX = "blocks|"
# Each block costs a partition read and writes: a connection may send BLOCK_COMMANDS at once,
# then one per BLOCK_COMMANDS_WINDOW_S / BLOCK_COMMANDS (3 s), kept in its state.
BLOCK_COMMANDS = 10
BLOCK_COMMANDS_WINDOW_S = 30.0

NEED_SIGN_IN = "Not done: blocks need sign-in."
NOT_A_USER = 'Not done: "user" must be the user id of a signed-in person.'
NOT_YOURSELF = "Not done: you cannot block yourself."
UNKNOWN = "Not done: there is no such person in this chat."
TOO_MANY = f"Not done: you may block at most {MAX_BLOCKS} people. Unblock someone first."
TOO_FAST = "Not done: too many blocks at once. Wait a moment."
NOT_SAVED = "Not done: the change cannot be saved right now. Try again."
# A DM to someone who blocks its sender: the reason does not say that it is a block.
REFUSED_DM = "Message not sent: this person does not accept your messages."


def key(account: str) -> str:
    """32 hex digits of SHA-256 of the account (adapters.table_store.user_key's hash)."""
    return hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def partition(account: str) -> str:
    """The blocker's partition: whom they block, one row each (RowKey: `key(blocked)`)."""
    return PARTITION_PREFIX + key(account)


def group(blocked_key: str) -> str:
    """The group every connection of everyone who blocks this account is in."""
    return GROUP_PREFIX + blocked_key


def groups(rows: list[dict[str, Any]]) -> list[str]:
    """A connecting blocker's groups, from their rows (at most MAX_BLOCKS)."""
    return [group(str(row["RowKey"])) for row in rows[:MAX_BLOCKS] if row.get("RowKey")]


def filter_out(sender: str) -> str | None:
    """The OData filter that keeps a sender's frame from those who block them (None for a
    chosen name: without sign-in nobody blocks)."""
    account = roles.account(sender)
    if account is None:
        return None
    return f"not('{group(key(account))}' in groups)"  # hex: nothing to escape


def filtered(sender: str, settings: Settings, also: str | None = None) -> str | None:
    """`also` (another filter) and the sender's block filter, in sign-in mode."""
    mine = filter_out(sender) if settings.sign_in else None
    if mine is None:
        return also
    return mine if also is None else f"{also} and {mine}"


def entity(blocker_account: str, person: identity.Caller, now: float) -> dict[str, Any]:
    """The blocker's row for one blocked person: enough to list them (`GET /api/me/blocks`)."""
    account = roles.account(person.user_id) or ""
    return {
        "PartitionKey": partition(blocker_account),
        "RowKey": key(account),
        **direct.peer(person),
        "time": history.iso_time(now),
    }


def body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`GET /api/me/blocks`: `{"blocks": [{"userId", "name", "idp"}, ...]}`, oldest first."""
    listed = sorted(rows, key=lambda row: str(row.get("time", "")))
    return {
        "blocks": [
            {
                "userId": str(row.get("userId", "")),
                "name": str(row.get("name", "")),
                "idp": str(row.get("idp", "")),
            }
            for row in listed
        ]
    }


def frame(kind: str, person: identity.Caller) -> dict[str, Any]:
    """To every connection of the blocker: another tab or device updates at once."""
    return {"type": kind, "user": person.user_id, "with": direct.peer(person)}


@dataclass(frozen=True)
class Turn:
    user: str
    account: str
    target: identity.Caller
    target_key: str
    state: dict[str, Any]
    now: float


def command(
    kind: str, user: str, state: dict[str, Any], settings: Settings, now: float, raw: Any
) -> Plan:
    """block or unblock: checked, then the row, then the groups, then the frame."""
    if not settings.sign_in:
        return events.refuse(NEED_SIGN_IN, None, state, "block")
    account = roles.account(user)
    if account is None:
        return events.refuse(events.SIGN_IN_FIRST, None, state, "not signed in")
    bucket = rate_limit.Bucket.from_state(state.get("blocks"), BLOCK_COMMANDS, now)
    allowed, bucket = rate_limit.take(bucket, BLOCK_COMMANDS, BLOCK_COMMANDS_WINDOW_S, now)
    if not allowed:
        return events.refuse(TOO_FAST, None, state, "block-rate")
    state = state | {"blocks": bucket.to_state()}
    person = (
        direct.recipient(raw) if isinstance(raw, str) and len(raw) <= direct.MAX_TO_LENGTH else None
    )
    target_account = roles.account(person.user_id) if person else None
    if person is None or target_account is None:
        return events.refuse(NOT_A_USER, None, state, "block")
    if target_account == account:
        return events.refuse(NOT_YOURSELF, None, state, "block")
    turn = Turn(user, account, person, key(target_account), state, now)
    if kind == UNBLOCK:
        return after(partial(_dropped, turn), DropBlock(account, turn.target_key))
    return after(partial(_checked, turn), KnownUser(person.user_id), ListBlocks(account))


def _checked(turn: Turn, outcomes: Outcomes) -> Plan:
    known, rows = outcomes
    if isinstance(known, Failed) or isinstance(rows, Failed):
        return events.refuse(NOT_SAVED, None, turn.state, "store")
    present = any(str(row.get("RowKey")) == turn.target_key for row in rows)
    if known is not True and not present:
        return events.refuse(UNKNOWN, None, turn.state, "block")
    if not present and len(rows) >= MAX_BLOCKS:
        return events.refuse(TOO_MANY, None, turn.state, "block")
    # Written again when present (an upsert): a retried event after a failed group add
    # comes here and adds the groups again; nothing else changes twice.
    save = SaveBlock(entity(turn.account, turn.target, turn.now))
    return after(partial(_saved, turn), save)


def _saved(turn: Turn, outcomes: Outcomes) -> Plan:
    (saved,) = outcomes
    if isinstance(saved, Failed):
        return events.refuse(NOT_SAVED, None, turn.state, "store")
    add = AddUserToGroups(turn.user, (group(turn.target_key),))
    return after(partial(_grouped, turn, BLOCK), add)


def _dropped(turn: Turn, outcomes: Outcomes) -> Plan:
    (dropped,) = outcomes
    if isinstance(dropped, Failed):
        return events.refuse(NOT_SAVED, None, turn.state, "store")
    remove = RemoveUserFromGroups(turn.user, (group(turn.target_key),))
    return after(partial(_grouped, turn, UNBLOCK), remove)


def _grouped(turn: Turn, kind: str, outcomes: Outcomes) -> Plan:
    (changed,) = outcomes
    if isinstance(changed, Failed):
        # The row is written (or gone) but the open connections are not in step: the service
        # retries the event, which writes the row again and changes the groups again.
        error = f"{kind}: the connections' groups were not changed: {changed.reason}"
        return Plan(reply=text(changed.status, events.UNREACHABLE), errors=(error,))
    tell = SendToUser(turn.user, frame(kind, turn.target))
    return replace(done(events.ok(turn.state), tell), notes={kind: "1"})
