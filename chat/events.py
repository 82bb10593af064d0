"""Every webhook event, decided: one pure function per event, each returning a chat.plan.Plan.

`connect` (who the connection is, its lobby groups, and the per-user connection cap),
`connected` and `disconnected` (presence), and `command` for the user events `join`, `leave`,
`typing` and `message`. adapters/effects.py carries the plans out; where a decision needs an
effect's outcome, it names the next decision (`then`), defined right below it here.

The message path keeps two promises:
- store first, then broadcast: a message is in the history table before anyone sees it, and
  one the store refuses is never broadcast (its sender is told why);
- a retried event (same ce-id) is stored once and broadcast once: the message's row key comes
  from the event's id and its ce-time, both the same on a retry, so a second insert answers
  409 (StoreMessage's outcome False) and nothing is sent again.

Everything a sender or the room reads is written here: the refusals and the frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from chat import (
    blocks,
    bounded_json,
    chat_bans,
    connection_state,
    direct,
    direct_typing,
    edits,
    event_time,
    history,
    identity,
    mentions,
    message_text,
    moderation,
    rate_limit,
    read_marks,
    replies,
    roles,
    rooms,
    token_lease,
    typing_notice,
)
from chat.cloudevents import CONNECT, CONNECTED, DISCONNECTED, USER_PREFIX, CloudEvent
from chat.errors import BadRequest, Refused
from chat.plan import (
    AddToGroups,
    ClaimRoom,
    DeleteMessage,
    Effect,
    Failed,
    FindMessage,
    ForgetJoined,
    Found,
    IsBlocked,
    KeepJoined,
    KnownUser,
    ListBlocks,
    ListConnections,
    NoteActivity,
    Outcomes,
    Plan,
    ReadChatBan,
    Reconcile,
    RemoveFromGroups,
    SendToGroup,
    SendToUser,
    Snapshot,
    StoreMessage,
    UpdateMessage,
    after,
    done,
)
from chat.reply import Reply, json_reply, text
from chat.settings import Settings

MESSAGE = USER_PREFIX + "message"
# A connect event carries the client's query, headers, claims and certificates.
CONNECT_MAX_BYTES = 64 * 1024
# Joining or leaving a room costs ~5 service and store calls and a member list: a connection
# may change rooms ROOM_CHANGES times at once, then one every ROOM_CHANGES_WINDOW_S /
# ROOM_CHANGES (3 s); a user, over all their connections and every instance (a table bucket),
# USER_ROOM_CHANGES at once, then one a second: enough for a page reload of many tabs, or a
# tab flapping through dozens of reconnects, while reconnecting for a fresh connection's
# allowance gains a flood nothing.
ROOM_CHANGES = 10
ROOM_CHANGES_WINDOW_S = 30.0
USER_ROOM_CHANGES = 60
USER_ROOM_CHANGES_WINDOW_S = 60.0
# Read positions (issue 17): a connection may report READS at once, then one a second.
READS = 10
READS_WINDOW_S = 10.0

ANONYMOUS = "Not done: anonymous connections cannot chat."
SIGN_IN_FIRST = "Not done: sign in first, then reconnect."
STAYS_IN_LOBBY = "Not done: every connection stays in the lobby."
TOO_FAST = "Message not sent: you are sending too fast. Wait a moment."
ROOMS_TOO_FAST = "Not done: you are joining and leaving rooms too fast. Wait a moment."
NOT_SAVED = "Message not sent: the chat history cannot be saved right now. Try again."
UNREACHABLE = "could not reach the Web PubSub service"
CANNOT_CHECK_BAN = "could not check for a chat-wide ban: try again"
UNSUPPORTED = "unsupported event type"  # not echoed back: the log line names the type


def not_member(room: str) -> str:
    return f"Not done: join the room {room} first."


def unavailable(verb: str, room: str) -> str:
    return f"Could not {verb} {room}: the service is unavailable. Try again."


def too_many_connections(cap: int) -> str:
    return (
        f"too many connections: a user may have at most {cap} open at once "
        "(close another tab or device, then reconnect)"
    )


def stable_id(event: CloudEvent) -> str:
    """The same for every retry of one event, different for every other event."""
    seed = f"{event.connection_id}\n{event.type}\n{event.id}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


def rejection(reason: str, room: str | None, tag: str | None = None) -> dict[str, Any]:
    """The frame a refused command answers its sender with; a refused message's `tag` (the
    client's, rooms.tag_of) says which of the sender's texts it answers."""
    body: dict[str, Any] = {"type": "system", "event": "rejected", "message": reason}
    return body | ({"room": room} if room else {}) | ({"tag": tag} if tag else {})


def refuse(
    reason: str, room: str | None, state: dict[str, Any], why: str, tag: str | None = None
) -> Plan:
    headers = {connection_state.HEADER: connection_state.encode(state)}
    return done(json_reply(200, rejection(reason, room, tag), headers), rejected=why)


def ok(state: dict[str, Any]) -> Reply:
    return Reply(204, headers={connection_state.HEADER: connection_state.encode(state)})


def lobby_groups(user: str) -> list[str]:
    return [rooms.group(rooms.LOBBY), rooms.presence_group(rooms.LOBBY, user)]


# --- system events ---------------------------------------------------------------------------


def system(event: CloudEvent, body: bytes, settings: Settings, now: float) -> Plan:
    """connect, connected, disconnected; any other system event type is refused."""
    if event.type == CONNECT:
        return connect(event, body, settings, now)
    if event.type == CONNECTED:
        return connected(event, now)
    if event.type == DISCONNECTED:
        return disconnected(event, now)
    return done(text(400, UNSUPPORTED))


def connect(event: CloudEvent, body: bytes, settings: Settings, now: float = 0.0) -> Plan:
    """Who the connection is (or the refusal); then, once the user's open connections are
    counted (the service's truth: their lobby presence group), admit or refuse it."""
    user = _connecting_user(event, body, settings)
    if isinstance(user, Reply):
        return done(user)
    # Lazy auth names the user in the reply; a token's user is kept as the token says.
    named = settings.lazy_auth and not settings.sign_in and not event.user_id
    accept = {"userId": user} if named else {}
    reply = json_reply(200, accept | {"groups": lobby_groups(user)})
    cap = settings.max_connections_per_user
    count = ListConnections(rooms.presence_group(rooms.LOBBY, user), top=cap)
    account = roles.account(user) if settings.sign_in else None
    if account is None:
        return after(partial(admit, reply, cap), count)
    # A token issued before a chat-wide ban cannot reconnect (read beside the count), and a
    # blocker's connection starts in the groups of those they block (chat/blocks.py).
    shown = accept | {"groups": lobby_groups(user)}
    checks = (count, ReadChatBan(account), ListBlocks(account))
    return after(partial(admit, reply, cap, now=now, body=shown), *checks)


def admit(
    reply: Reply, cap: int, outcomes: Outcomes, now: float = 0.0, body: dict[str, Any] | None = None
) -> Plan:
    """The second decision of connect: the new connection is not counted yet (its groups
    come with this reply), so `cap` open ones already is one too many. In sign-in mode the
    second outcome is the account's chat-wide ban (chat/chat_bans.py), the third whom the
    account blocks (their groups join the reply's)."""
    listed = outcomes[0]
    if len(outcomes) > 1:
        until = outcomes[1]
        if isinstance(until, Failed):
            # Fail closed: a ban that cannot be read is not known to be absent.
            return done(text(503, CANNOT_CHECK_BAN), failed=until.reason)
        why = chat_bans.refusal(until, now)
        if why is not None:
            return done(text(403, why), refused="chatban")
    if isinstance(listed, Failed):
        # Fail closed: the cap is what keeps one user from taking the unit's connections.
        return done(text(listed.status, UNREACHABLE), failed=listed.reason)
    if len(listed) >= cap:
        return done(text(403, too_many_connections(cap)), refused="connections")
    if len(outcomes) > 2 and body is not None:
        rows = outcomes[2]
        if isinstance(rows, Failed):
            # Fail closed: without its groups the connection would hear those its person blocks.
            return done(text(rows.status, UNREACHABLE), failed=rows.reason)
        groups = body["groups"] + blocks.groups(list(rows))
        return done(json_reply(200, body | {"groups": groups}))
    return done(reply)


def _connecting_user(event: CloudEvent, body: bytes, settings: Settings) -> str | Reply:
    if settings.sign_in:
        # Only tokens negotiate issued to a signed-in user: no lazy auth, no chosen names
        # (not even from tokens issued before sign-in was turned on).
        if identity.parse_user_id(event.user_id) is None:
            return text(401, identity.SIGN_IN_REQUIRED)
        return event.user_id or ""
    if event.user_id:
        # The client holds a token we signed for this user: keep what it says. Every
        # connection starts in the lobby, joined by the reply so that `connected` finds it.
        return event.user_id
    if not settings.lazy_auth:
        return text(401, "missing user id (connect through negotiate)")
    try:
        request = bounded_json.loads(body or b"{}", max_bytes=CONNECT_MAX_BYTES)
    except bounded_json.InvalidJson as error:
        return text(400, f"connect body is not usable JSON: {error}")
    query = request.get("query") if isinstance(request, dict) else None
    try:
        user = identity.from_connect_query(query or {})
    except BadRequest as error:
        return text(401, str(error))
    if identity.is_reserved(user):
        return text(401, identity.RESERVED)
    return user


def connected(event: CloudEvent, now: float) -> Plan:
    """The connect reply put it in the lobby: announce the user, send the member list."""
    if not event.user_id:
        return done(Reply(200))
    user = event.user_id
    return done(
        Reply(200),
        Reconcile(rooms.LOBBY, user, now, arrived=True),
        Snapshot(rooms.LOBBY, event.connection_id, user),
    )


def disconnected(event: CloudEvent, now: float) -> Plan:
    """The service has dropped the connection from its groups: who is gone for good?"""
    if not event.user_id:
        return done(Reply(200))
    state = connection_state.decode(event.connection_state)
    user = event.user_id
    return done(Reply(200), *(Reconcile(room, user, now) for room in rooms.rooms_of(state)))


# --- user events -----------------------------------------------------------------------------


def command(
    event: CloudEvent, body: bytes, content_type: str | None, settings: Settings, now: float
) -> Plan:
    state = connection_state.decode(event.connection_state)
    # Room for 4-byte UTF-8, JSON escapes and the command's own keys.
    max_bytes = settings.max_message_length * 6 + 1024
    try:
        parsed = rooms.parse(body, content_type, max_bytes)
    except Refused as error:
        return refuse(error.reason, error.room, state, "command")
    if not event.user_id:
        return refuse(ANONYMOUS, parsed.room, state, "anonymous")
    if identity.sender(event.user_id, settings) is None:
        # Sign-in mode, a connection from before sign-in was required: a chosen name.
        return refuse(SIGN_IN_FIRST, parsed.room, state, "not signed in")
    turn = _Turn(event, event.user_id, parsed.room, state, settings, now)
    if parsed.kind in (*rooms.MODERATION, rooms.RESOLVE, rooms.CHAT_BAN, rooms.CHAT_UNBAN):
        acting = moderation.Turn(event, event.user_id, state, settings, now)
        if parsed.kind in (rooms.CHAT_BAN, rooms.CHAT_UNBAN):
            return moderation.chat_ban(acting, parsed.frame or {})
        if parsed.kind == rooms.RESOLVE:
            delete = partial(_delete_of, turn)
            return moderation.resolve(acting, parsed.frame or {}, delete)
        if parsed.kind == moderation.REPORT:
            return moderation.report(acting, parsed.room, parsed.frame or {})
        return moderation.command(acting, parsed.room, parsed.frame or {})
    if parsed.kind in blocks.KINDS:
        raw = (parsed.frame or {}).get("user")
        return blocks.command(parsed.kind, turn.user, state, settings, now, raw)
    if parsed.kind == rooms.DM:
        return direct_message(turn, parsed.to or "", parsed.text or "")
    if parsed.kind == rooms.JOIN:
        return _gated(turn, rooms.JOIN, join)
    if parsed.kind == rooms.READ:
        return read(turn, parsed.message_id or "")
    if parsed.kind == rooms.TYPING and rooms.is_direct(parsed.room):
        to = (parsed.frame or {}).get("to")
        return direct_typing.typing(turn.user, parsed.room, to, state, settings, now)
    if parsed.room not in rooms.rooms_of(state):
        return refuse(not_member(parsed.room), parsed.room, state, "member")
    if parsed.kind == rooms.LEAVE:
        return leave(turn)
    if parsed.kind == rooms.TYPING:
        return typing(turn)
    if parsed.kind == rooms.EDIT:
        edit = partial(edits.edit, message_id=parsed.message_id or "", raw=parsed.text or "")
        return _gated(turn, rooms.EDIT, edit)
    if parsed.kind == rooms.DELETE:
        return edits.delete(turn, parsed.message_id or "")
    if parsed.kind == rooms.REACT:
        react = partial(
            edits.react, message_id=parsed.message_id or "", raw_emoji=parsed.emoji or ""
        )
        return _gated(turn, rooms.REACT, react)
    send = partial(message, raw=parsed.text or "", reply_to=parsed.message_id, tag=parsed.tag)
    return _gated(turn, rooms.MESSAGE, send)


def _delete_of(turn: _Turn, room: str, message_id: str, state: dict[str, Any]) -> Plan:
    """A report resolved by deleting its message (the admin need not be in the room)."""
    return edits.delete(turn.with_room(room).with_state(state), message_id)


def _gated(turn: _Turn, kind: str, carry_on: Callable[[_Turn], Plan]) -> Plan:
    """Bans, mutes and slow mode (chat/moderation.py) are read before a join, a message, an
    edit or a reaction is decided. Without sign-in nobody can moderate: nothing to read."""
    if not turn.settings.sign_in:
        return carry_on(turn)
    check = moderation.Gate(kind, turn.room, turn.user, turn.state, turn.settings, turn.now)
    return moderation.gate(check, lambda passed: carry_on(turn.passed(passed)))


@dataclass(frozen=True)
class _Turn:
    """One user event, as every decision below it needs it."""

    event: CloudEvent
    user: str
    room: str
    state: dict[str, Any]
    settings: Settings
    now: float
    # A join of a room the gate found with no record: the joiner's claim to own it, made
    # only once the join has succeeded (_joined).
    claim: ClaimRoom | None = None

    def with_state(self, state: dict[str, Any]) -> _Turn:
        return _Turn(self.event, self.user, self.room, state, self.settings, self.now, self.claim)

    def with_room(self, room: str) -> _Turn:
        return _Turn(self.event, self.user, room, self.state, self.settings, self.now, self.claim)

    def passed(self, passed: moderation.Passed) -> _Turn:
        """The turn as the moderation gate let it through."""
        return _Turn(
            self.event, self.user, self.room, passed.state, self.settings, self.now, passed.claim
        )


def read(turn: _Turn, message_id: str) -> Plan:
    """A read position (chat/read_marks.py). A direct conversation is in no connection
    state: only its two participants have a row there, and the position moves only in one."""
    if not rooms.is_direct(turn.room) and turn.room not in rooms.rooms_of(turn.state):
        return refuse(not_member(turn.room), turn.room, turn.state, "member")
    bucket = rate_limit.Bucket.from_state(turn.state.get("reads"), READS, turn.now)
    allowed, bucket = rate_limit.take(bucket, READS, READS_WINDOW_S, turn.now)
    state = turn.state | {"reads": bucket.to_state()}
    if not allowed:
        # Each costs a bounded read and a write; a page sends one when it shows new messages.
        return done(ok(state), read="throttled")
    return read_marks.read(
        turn.user, turn.event.connection_id, turn.room, message_id, state, turn.now
    )


def typing(turn: _Turn) -> Plan:
    allowed, state = typing_notice.allow(turn.state, turn.room, turn.now)
    if not allowed:
        return done(ok(state), typing="throttled")
    # To the room's other members: none of the typist's own tabs. A failure is only logged.
    notice = SendToGroup(
        rooms.group(turn.room),
        typing_notice.typing(turn.room, turn.user),
        filter=blocks.filtered(turn.user, turn.settings, f"userId ne {_odata_string(turn.user)}"),
    )
    return done(ok(state), notice)


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- join and leave: limited per connection (its state) and per user (a leased table bucket) --


def _room_change(turn: _Turn, verb: str, carry_on: Callable[[_Turn], Plan]) -> Plan:
    """Spend one of the connection's room changes, then one of the user's; then `carry_on`."""
    bucket = rate_limit.Bucket.from_state(turn.state.get("moves"), ROOM_CHANGES, turn.now)
    allowed, bucket = rate_limit.take(bucket, ROOM_CHANGES, ROOM_CHANGES_WINDOW_S, turn.now)
    turn = turn.with_state(turn.state | {"moves": bucket.to_state()})
    if not allowed:
        return refuse(ROOMS_TOO_FAST, turn.room, turn.state, "room-rate")
    spent, state = token_lease.spend_from_state(
        turn.state, token_lease.ROOM_CHANGES, *_user_room_limit(), turn.now
    )
    if spent:
        return carry_on(turn.with_state(state))
    lease = token_lease.request(
        turn.user, state, token_lease.ROOM_CHANGES, *_user_room_limit(), turn.now
    )
    return after(partial(_room_change_leased, turn.with_state(state), verb, carry_on), lease)


def _user_room_limit() -> tuple[int, float]:
    return USER_ROOM_CHANGES, USER_ROOM_CHANGES_WINDOW_S


def _room_change_leased(
    turn: _Turn, verb: str, carry_on: Callable[[_Turn], Plan], outcomes: Outcomes
) -> Plan:
    allowed, state = token_lease.on_lease(
        outcomes[0], turn.state, token_lease.ROOM_CHANGES, *_user_room_limit(), turn.now
    )
    if isinstance(allowed, Failed):
        return refuse(unavailable(verb, turn.room), turn.room, turn.state, "store")
    if not allowed:
        return refuse(ROOMS_TOO_FAST, turn.room, state, "user-room-rate")
    return carry_on(turn.with_state(state))


def join(turn: _Turn) -> Plan:
    try:
        rooms.with_room(turn.state, turn.room)  # too many rooms: refused before any cost
    except Refused as error:
        return refuse(error.reason, turn.room, turn.state, "rooms")
    return _room_change(turn, "join", _join)


def _join_groups(turn: _Turn) -> tuple[str, str]:
    return rooms.group(turn.room), rooms.presence_group(turn.room, turn.user)


def _join(turn: _Turn) -> Plan:
    add = AddToGroups(turn.event.connection_id, _join_groups(turn))
    return after(partial(_joined, turn), add)


def _joined(turn: _Turn, outcomes: Outcomes) -> Plan:
    """The room goes into the connection's state only once the service has added it: a state
    naming a room the connection is not in would let it write there as a member."""
    if isinstance(outcomes[0], Failed):
        reason = unavailable("join", turn.room)
        if turn.room in rooms.rooms_of(turn.state):  # joined before: this retry changed nothing
            return refuse(reason, turn.room, turn.state, "service")
        # Either group's add may have gone through: take both back (best effort, logged).
        undo = RemoveFromGroups(turn.event.connection_id, _join_groups(turn))
        refusal = refuse(reason, turn.room, turn.state, "service")
        return Plan((undo,), refusal.reply, notes=refusal.notes)
    joined = done(
        ok(rooms.with_room(turn.state, turn.room)),
        Reconcile(turn.room, turn.user, turn.now, arrived=True),
        Snapshot(turn.room, turn.event.connection_id, turn.user),
        KeepJoined(turn.user, turn.room, turn.now),  # /api/me/rooms, on every device
        joined=turn.room,
    )
    if turn.claim is None:
        return joined
    # In: now the joiner may own the room (won, lost to another first joiner, or failed and
    # left to the next joiner, the join stands). Claimed before the joined notice goes out:
    # the page reads the room's roles again on its own notice.
    return after(lambda _: joined, turn.claim)


def leave(turn: _Turn) -> Plan:
    if turn.room == rooms.LOBBY:
        return refuse(STAYS_IN_LOBBY, turn.room, turn.state, "lobby")
    return _room_change(turn, "leave", _leave)


def _leave(turn: _Turn) -> Plan:
    groups = (rooms.group(turn.room), rooms.presence_group(turn.room, turn.user))
    remove = RemoveFromGroups(turn.event.connection_id, groups)
    return after(partial(_left, turn), remove)


def _left(turn: _Turn, outcomes: Outcomes) -> Plan:
    if isinstance(outcomes[0], Failed):
        return refuse(unavailable("leave", turn.room), turn.room, turn.state, "service")
    state = rooms.without_room(turn.state, turn.room, turn.now)
    return done(
        ok(state),
        Reconcile(turn.room, turn.user, turn.now),
        ForgetJoined(turn.user, turn.room),
        left=turn.room,
    )


# --- message: check, store (with the user's limit), then broadcast ---------------------------


@dataclass(frozen=True)
class _Message:
    turn: _Turn
    frame: dict[str, Any]
    store: StoreMessage
    tag: str | None = None  # the client's tag: echoed on the broadcast and refusals, not stored
    deliver: tuple[Effect, ...] = ()  # a DM's user-addressed sends (else: the room's group)


# --- direct messages (chat/direct.py): check the recipient, keep both rows, then the path ---


def direct_message(turn: _Turn, to: str, raw: str) -> Plan:
    if not turn.settings.sign_in:
        return refuse(direct.NEED_SIGN_IN, None, turn.state, "dm")
    sender, person = identity.parse_user_id(turn.user), direct.recipient(to)
    if sender is None or person is None:
        return refuse(direct.UNKNOWN, None, turn.state, "dm")
    turn = turn.with_room(direct.conversation(turn.user, to))
    # The guard and the policy before any row: a refused DM must not put a conversation
    # into the recipient's list (nor cost the table anything).
    checked = _checked_text(turn, raw, None)
    if isinstance(checked, Plan):
        return checked
    turn, cleaned = checked
    # Does the recipient block the sender? One point read, beside the recipient's look-up.
    recipient_account, sender_account = roles.account(to), roles.account(turn.user)
    assert recipient_account is not None and sender_account is not None
    blocked = IsBlocked(recipient_account, blocks.key(sender_account))
    return after(partial(_recipient_known, turn, sender, person, cleaned), KnownUser(to), blocked)


def _recipient_known(
    turn: _Turn,
    sender: identity.Caller,
    person: identity.Caller,
    cleaned: str,
    outcomes: Outcomes,
) -> Plan:
    known, blocked = outcomes
    if isinstance(known, Failed) or isinstance(blocked, Failed):
        return refuse(NOT_SAVED, None, turn.state, "store")  # a block unread: fail closed
    if known is not True:
        return refuse(direct.UNKNOWN, None, turn.state, "dm")
    if blocked is True:  # nothing stored, nothing sent
        return refuse(blocks.REFUSED_DM, None, turn.state, "blocked")
    # Both rows before the message: they are what lets the two (and no one else) read it.
    # Joined as of the message's own key time (its ce-time), not this clock: a retry seconds
    # later, or a clock a moment into the next second, would else put the first DM before
    # the recipient's join position, never counted as unread.
    key_time = _key_time(turn)
    keep = direct.rows(sender, person, turn.room, min(turn.now, key_time[0] / 1000))
    return after(partial(_rows_kept, turn, person, cleaned, key_time), *keep)


def _rows_kept(
    turn: _Turn,
    person: identity.Caller,
    cleaned: str,
    key_time: tuple[int, bool],
    outcomes: Outcomes,
) -> Plan:
    if any(isinstance(outcome, Failed) for outcome in outcomes):
        return refuse(NOT_SAVED, None, turn.state, "store")
    # No room to quote from or mention in: straight to the frame, its row and the store.
    return _compose(turn, cleaned, {}, None, person, key_time)


def no_reply_target(room: str) -> str:
    return f"Message not sent: the message it replies to is not in {room}."


def _checked_text(turn: _Turn, raw: str, tag: str | None) -> tuple[_Turn, str] | Plan:
    """A free guard per connection (kept in its state; the user's shared bucket comes with
    the store), then the message policy: the turn with the guard spent and the cleaned
    text, or the refusal."""
    settings, now = turn.settings, turn.now
    capacity, window = settings.rate_limit_messages, settings.rate_limit_window_seconds
    bucket = rate_limit.Bucket.from_state(turn.state.get("rate"), capacity, now)
    allowed, bucket = rate_limit.take(bucket, capacity, window, now)
    state = turn.state | {"rate": bucket.to_state()}
    room = turn.room
    if not allowed:
        return refuse(TOO_FAST, room, state, "rate", tag)
    try:
        cleaned = message_text.clean(raw, settings.max_message_length)
    except Refused as error:
        return refuse(error.reason, room, state, "policy", tag)
    return turn.with_state(state), cleaned


def message(
    turn: _Turn,
    raw: str,
    reply_to: str | None = None,
    tag: str | None = None,
) -> Plan:
    checked = _checked_text(turn, raw, tag)
    if isinstance(checked, Plan):
        return checked
    turn, cleaned = checked
    room = turn.room
    # A reply needs the message it answers, an "@" the room's members: both read at once.
    lookups = (
        # Fresh: a quote writes nothing that could prove a copy current (text deleted on
        # another instance must not come back in a quote).
        *((FindMessage(room, reply_to, fresh=True),) if reply_to is not None else ()),
        *((ListConnections(rooms.group(room), mentions.LISTED),) if "@" in cleaned else ()),
    )
    if lookups:
        return after(partial(_looked_up, turn, cleaned, reply_to, tag), *lookups)
    return _compose(turn, cleaned, {}, tag)


def _looked_up(
    turn: _Turn, cleaned: str, reply_to: str | None, tag: str | None, outcomes: Outcomes
) -> Plan:
    extra: dict[str, Any] = {}
    rest = list(outcomes)
    found = rest.pop(0) if reply_to is not None else None
    warnings: tuple[str, ...] = ()
    if rest:
        listed = rest.pop(0)
        if isinstance(listed, Failed):  # mentions are advisory: the message goes out as text
            warnings = (f"Members of {turn.room} not listed for mentions: {listed.reason}",)
        else:
            users = {str(c.get("userId")) for c in listed if c.get("userId")}
            named = [
                (u, str((identity.sender(u, turn.settings) or {}).get("from", u))) for u in users
            ]
            found_ids = mentions.resolve(cleaned, sorted(named))
            if found_ids:
                extra["mentions"] = found_ids
    if reply_to is not None:
        return _quote(_Quoting(turn, cleaned, reply_to, tag, extra, warnings), 0, found)
    return _composed(turn, cleaned, extra, tag, warnings)


@dataclass(frozen=True)
class _Quoting:
    """A reply on its way: the original is read (fresh), marked as quoted, then quoted."""

    turn: _Turn
    cleaned: str
    reply_to: str
    tag: str | None
    extra: dict[str, Any]
    warnings: tuple[str, ...]


def _quote(q: _Quoting, tries: int, found: Any) -> Plan:
    turn = q.turn
    if isinstance(found, Failed):
        return refuse(NOT_SAVED, turn.room, turn.state, "store", q.tag)
    if not isinstance(found, Found):
        return refuse(no_reply_target(turn.room), turn.room, turn.state, "reply", q.tag)
    extra = {"replyTo": replies.reply_to(found.entity)} | q.extra
    marked = replies.marked(found.entity)
    if marked is None:
        return _composed(turn, q.cleaned, extra, q.tag, q.warnings)
    # The first reply to it: marked before the reply is stored (a delete that wins the race
    # fails this write, and the quote, read again, says "deleted").
    mark = UpdateMessage(marked, found.etag)
    return after(partial(_quote_marked, q, tries, extra), mark)


def _quote_marked(q: _Quoting, tries: int, extra: dict[str, Any], outcomes: Outcomes) -> Plan:
    (marked,) = outcomes
    turn = q.turn
    if marked is True:
        return _composed(turn, q.cleaned, extra, q.tag, q.warnings)
    if isinstance(marked, Failed) or tries + 1 >= edits.TRIES:
        return refuse(NOT_SAVED, turn.room, turn.state, "store", q.tag)
    find = FindMessage(turn.room, q.reply_to, fresh=True)  # changed meanwhile: read again
    return after(lambda outcomes: _quote(q, tries + 1, outcomes[0]), find)


def _composed(
    turn: _Turn, cleaned: str, extra: dict[str, Any], tag: str | None, warnings: tuple[str, ...]
) -> Plan:
    plan = _compose(turn, cleaned, extra, tag)
    return Plan(plan.effects, plan.reply, plan.then, plan.notes, warnings=plan.warnings + warnings)


def _compose(
    turn: _Turn,
    cleaned: str,
    extra: dict[str, Any],
    tag: str | None,
    to: identity.Caller | None = None,
    key_time: tuple[int, bool] | None = None,
) -> Plan:
    """The message frame and its row (with a reply's quote and mentions), then the store.
    `key_time`: `_key_time(turn)`, when the caller has it already (a DM)."""
    settings, room, now, state = turn.settings, turn.room, turn.now, turn.state
    capacity, window = settings.rate_limit_messages, settings.rate_limit_window_seconds
    frame = {
        "id": stable_id(turn.event),
        "room": room,
        # Sign-in mode: `from` is the name shown, plus `userId` and `idp` (chat/identity.py).
        **(identity.sender(turn.user, settings) or {"from": turn.user}),
        **({"to": direct.peer(to)} if to is not None else {}),
        "message": cleaned,
        "time": history.iso_time(now),
        **extra,
    }
    # The key's time is the event's own (ce-time): a retry makes the same key, so one insert
    # is idempotent. Without a usable ce-time the key comes from this clock, and a marker row
    # for the id keeps the insert idempotent instead.
    key_ms, stable = key_time or _key_time(turn)
    entity = history.to_entity(frame, key_ms)
    marker = None if stable else history.marker(frame, entity["RowKey"])
    warnings = (
        ()
        if stable
        else (f"Event ce-id={turn.event.id} has no usable ce-time: keyed by the handler's clock",)
    )
    # The user's limit: a token this connection leased earlier costs no table call; without
    # one, a new lease and the insert go to the store together (one round trip of latency,
    # not two), and a message the bucket refuses is deleted before anyone sees it.
    spent, state = token_lease.spend_from_state(state, token_lease.MESSAGES, capacity, window, now)
    only = blocks.filtered(turn.user, turn.settings)  # a block not yet seen here (adapters)
    deliver = direct.sends(turn.user, to.user_id, frame, only) if to is not None else ()
    store = StoreMessage(entity, marker)
    msg = _Message(turn.with_state(state), frame, store, tag=tag, deliver=deliver)
    if spent:
        step = after(partial(_stored, msg, True), msg.store)
    else:
        lease = token_lease.request(turn.user, state, token_lease.MESSAGES, capacity, window, now)
        step = after(partial(_leased_and_stored, msg), lease, msg.store)
    return Plan(step.effects, then=step.then, warnings=warnings)


def _key_time(turn: _Turn) -> tuple[int, bool]:
    """The message row's key time, and whether it is the event's own (chat.history.row_time)."""
    return history.row_time(event_time.epoch_ms(turn.event.time), int(turn.now * 1000))


def _leased_and_stored(msg: _Message, outcomes: Outcomes) -> Plan:
    turn, settings = msg.turn, msg.turn.settings
    allowed, state = token_lease.on_lease(
        outcomes[0],
        turn.state,
        token_lease.MESSAGES,
        settings.rate_limit_messages,
        settings.rate_limit_window_seconds,
        turn.now,
    )
    kept = _Message(turn.with_state(state), msg.frame, msg.store, msg.tag, msg.deliver)
    return _stored(kept, allowed, outcomes[1:])


def _stored(msg: _Message, allowed: bool | Failed, outcomes: Outcomes) -> Plan:
    """The second decision: what the user's limit and the insert answered."""
    (stored,) = outcomes
    turn = msg.turn
    # Stored, but not allowed (or not known to be): take it out before anyone sees it.
    undo = (
        (DeleteMessage(msg.store.entity, msg.store.marker),)
        if stored is True and allowed is not True
        else ()
    )
    failure = (
        stored if isinstance(stored, Failed) else allowed if isinstance(allowed, Failed) else None
    )
    if failure is not None:
        plan = refuse(NOT_SAVED, turn.room, turn.state, "store", msg.tag)
        error = f"Message {msg.frame['id']} not stored: {failure.reason}"
        return Plan(undo, plan.reply, notes=plan.notes, errors=(error,))
    if allowed is False:
        plan = refuse(TOO_FAST, turn.room, turn.state, "user-rate", msg.tag)
        return Plan(undo, plan.reply, notes=plan.notes)
    if stored is False:
        # A retry of an event whose message is already stored and sent.
        return done(ok(turn.state), duplicate=msg.frame["id"])
    # The tag goes out with this one broadcast only: the entity above was built without it,
    # so history never holds it (a reload has no pending texts to match anyway).
    if msg.deliver:  # a DM: its user-addressed sends carry their own filter
        return after(partial(_sent, msg), *msg.deliver)
    frame = msg.frame | ({"tag": msg.tag} if msg.tag else {})
    # Not to the connections of those who block the sender (chat/blocks.py: no read).
    only = blocks.filtered(turn.user, turn.settings)
    return after(partial(_sent, msg), SendToGroup(rooms.group(turn.room), frame, filter=only))


def _sent(msg: _Message, outcomes: Outcomes) -> Plan:
    # A DM has two sends: if either failed, the retry sends both (the page drops a repeat).
    sent = next((outcome for outcome in outcomes if isinstance(outcome, Failed)), None)
    if isinstance(sent, Failed):
        # Take it back out, so the service's retry of this event stores and sends it.
        undo = DeleteMessage(msg.store.entity, msg.store.marker)
        event = msg.turn.event
        error = (
            f"Broadcast failed for event ce-id={event.id} connection={event.connection_id}: "
            f"{sent.reason}"
        )
        return Plan((undo,), text(sent.status, UNREACHABLE), errors=(error,))
    # Each mentioned user, on every connection (not the author's own mention of themself).
    mentioned = [user for user in msg.frame.get("mentions", ()) if user != msg.turn.user]
    only = blocks.filtered(msg.turn.user, msg.turn.settings) if mentioned else None
    notify = tuple(SendToUser(user, mentions.frame(msg.frame), filter=only) for user in mentioned)
    # The directory's row for the room: the executor writes it at most once per room per
    # 10 s on this instance (chat.directory.due), never once per message.
    activity = (
        () if msg.deliver else (NoteActivity(msg.turn.room, msg.frame["time"], msg.turn.now),)
    )
    effects = (*activity, *notify)
    return Plan(effects, ok(msg.turn.state), notes={"room": msg.turn.room}, delivered=True)
