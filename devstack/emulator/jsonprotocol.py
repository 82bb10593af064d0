"""The json.webpubsub.azure.v1 subprotocol (and its reliable variant): pure parse/build.

Client frames are parsed into small dataclasses or rejected with ProtocolError (the
caller closes with 1007). Server frames are built as JSON text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from . import safejson

JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_JSON_PROTOCOL = "json.reliable.webpubsub.azure.v1"
BUILTIN_PROTOCOLS = (JSON_PROTOCOL, RELIABLE_JSON_PROTOCOL)
DATA_TYPES = ("json", "text", "binary")
EVENT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")
# RFC 7230 token characters: what an HTTP header name may contain.
METADATA_KEY_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MAX_UINT64 = 2**64 - 1
MAX_GROUP_LENGTH = 1024
MAX_TTL_SECONDS = 300


class ProtocolError(ValueError):
    """The frame is not a valid JSON protocol message (close 1007)."""


@dataclass(frozen=True)
class Payload:
    """Message data in a form every kind of client can be served from.

    data_type is "text", "json" or "binary"; data holds UTF-8 text, raw JSON text or bytes.
    """

    data_type: str
    data: bytes
    metadata: tuple[tuple[str, str], ...] = ()

    @functools.cached_property
    def raw_frame(self) -> str | bytes:
        """The bare payload, as raw clients get it; made once however many clients there are."""
        if self.data_type == "binary":
            return self.data
        return self.data.decode("utf-8", errors="replace")

    @classmethod
    def text(cls, value: str) -> Payload:
        return cls("text", value.encode("utf-8"))

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class JoinGroup:
    group: str
    ack_id: int | None


@dataclass(frozen=True)
class LeaveGroup:
    group: str
    ack_id: int | None


@dataclass(frozen=True)
class SendToGroup:
    group: str
    payload: Payload
    no_echo: bool
    ack_id: int | None


@dataclass(frozen=True)
class Event:
    event: str
    payload: Payload
    ack_id: int | None


@dataclass(frozen=True)
class SequenceAck:
    sequence_id: int


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = JoinGroup | LeaveGroup | SendToGroup | Event | SequenceAck | Ping


class _Object(dict):  # type: ignore[type-arg]
    duplicate_keys = False


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.duplicate_keys = len(obj) != len(pairs)
    return obj


def valid_group_name(group: Any) -> bool:
    return isinstance(group, str) and 0 < len(group) <= MAX_GROUP_LENGTH and bool(group.strip())


def _uint64(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
        raise ProtocolError(f"'{name}' must be an unsigned 64-bit integer.")
    return value


def _ack_id(msg: dict[str, Any]) -> int | None:
    if msg.get("ackId") is None:
        return None
    return _uint64(msg["ackId"], "ackId")


def _group(msg: dict[str, Any]) -> str:
    group = msg.get("group")
    if not valid_group_name(group):
        raise ProtocolError("'group' is missing or invalid.")
    return group  # type: ignore[return-value]


def _metadata(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or getattr(value, "duplicate_keys", False):
        raise ProtocolError("'metadata' must be an object with unique keys.")
    total = 0
    items = []
    for key, val in value.items():
        if not isinstance(val, str) or not METADATA_KEY_RE.match(key):
            raise ProtocolError("Invalid metadata entry.")
        key_bytes, val_bytes = len(key.encode()), len(val.encode())
        if key_bytes > 256 or val_bytes > 1024:
            raise ProtocolError("Metadata entry too long.")
        total += key_bytes + val_bytes
        items.append((key, val))
    if total > 8 * 1024:
        raise ProtocolError("Metadata too long.")
    return tuple(items)


def _payload(msg: dict[str, Any]) -> Payload:
    data_type = msg.get("dataType", "json")
    if data_type is None:
        data_type = "json"
    if not isinstance(data_type, str) or data_type.lower() not in DATA_TYPES:
        raise ProtocolError("'dataType' is invalid.")
    data_type = data_type.lower()
    metadata = _metadata(msg.get("metadata"))
    if "data" not in msg:
        if metadata:
            return Payload("text", b"", metadata)
        raise ProtocolError("'data' is missing.")
    data = msg["data"]
    if data_type == "text":
        if not isinstance(data, str):
            raise ProtocolError("'data' must be a string for dataType text.")
        return Payload("text", data.encode("utf-8"), metadata)
    if data_type == "binary":
        if not isinstance(data, str):
            raise ProtocolError("'data' must be a base64 string for dataType binary.")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("'data' is not valid base64.") from exc
        return Payload("binary", raw, metadata)
    if data is None:
        raise ProtocolError("'data' must not be null for dataType json.")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Payload("json", text.encode("utf-8"), metadata)


def _ttl(msg: dict[str, Any]) -> None:
    ttl = msg.get("ttlSeconds")
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS:
        raise ProtocolError("'ttlSeconds' must be an integer between 0 and 300.")


def parse_client_message(text: str) -> ClientMessage:
    """Parse one client text frame; raise ProtocolError when it is invalid."""
    try:
        msg = safejson.loads(text, object_pairs_hook=_pairs)
    except ValueError as exc:
        raise ProtocolError("Invalid JSON.") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("A message must be a JSON object.")
    kind = msg.get("type")
    if kind == "joinGroup":
        return JoinGroup(_group(msg), _ack_id(msg))
    if kind == "leaveGroup":
        return LeaveGroup(_group(msg), _ack_id(msg))
    if kind == "sendToGroup":
        no_echo = msg.get("noEcho", False)
        if no_echo is None:
            no_echo = False
        if not isinstance(no_echo, bool):
            raise ProtocolError("'noEcho' must be a boolean.")
        _ttl(msg)
        return SendToGroup(_group(msg), _payload(msg), no_echo, _ack_id(msg))
    if kind == "event":
        name = msg.get("event")
        if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
            raise ProtocolError("'event' is missing or invalid.")
        _ttl(msg)
        return Event(name, _payload(msg), _ack_id(msg))
    if kind == "sequenceAck":
        return SequenceAck(_uint64(msg.get("sequenceId"), "sequenceId"))
    if kind == "ping":
        return Ping()
    raise ProtocolError("Unknown message type.")


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def encode_data(payload: Payload) -> Any:
    """The JSON value of ``data`` for a payload."""
    if payload.data_type == "binary":
        return base64.b64encode(payload.data).decode("ascii")
    if payload.data_type == "json":
        return json.loads(payload.data.decode("utf-8"))
    return payload.data.decode("utf-8", errors="replace")


def _message(base: dict[str, Any], payload: Payload, sequence_id: int | None) -> str:
    out: dict[str, Any] = {}
    if sequence_id is not None:
        out["sequenceId"] = sequence_id
    out.update(base)
    out["dataType"] = payload.data_type
    out["data"] = encode_data(payload)
    if payload.metadata:
        out["metadata"] = dict(payload.metadata)
    return _dumps(out)


def group_message(
    group: str, payload: Payload, from_user_id: str | None, sequence_id: int | None = None
) -> str:
    base: dict[str, Any] = {"type": "message", "from": "group", "group": group}
    if from_user_id:
        base["fromUserId"] = from_user_id
    return _message(base, payload, sequence_id)


def server_message(payload: Payload, sequence_id: int | None = None) -> str:
    return _message({"type": "message", "from": "server"}, payload, sequence_id)


def connected_message(
    connection_id: str, user_id: str | None, reconnection_token: str | None = None
) -> str:
    out: dict[str, Any] = {
        "type": "system",
        "event": "connected",
        "userId": user_id,
        "connectionId": connection_id,
    }
    if reconnection_token is not None:
        out["reconnectionToken"] = reconnection_token
    return _dumps(out)


def disconnected_message(message: str) -> str:
    return _dumps({"type": "system", "event": "disconnected", "message": message})


def ack_message(ack_id: int, error: tuple[str, str] | None = None) -> str:
    out: dict[str, Any] = {"type": "ack", "ackId": ack_id, "success": error is None}
    if error is not None:
        out["error"] = {"name": error[0], "message": error[1]}
    return _dumps(out)


def pong_message() -> str:
    return _dumps({"type": "pong"})


def raw_frame(payload: Payload) -> str | bytes:
    """What a raw (no subprotocol) client receives: the bare payload."""
    return payload.raw_frame
