"""Turning a user event's body into chat text; the text rules are chat/text_rules.py's."""

from __future__ import annotations

from chat import bounded_json, text_rules


class Rejected(ValueError):
    """The message will not be broadcast; the text is shown to its sender."""


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def extract(body: bytes, content_type: str | None, max_bytes: int) -> str:
    """The text a client sent, in any form the service forwards.

    Plain WebSocket clients arrive as text/plain (text frames) or application/octet-stream
    (binary frames); JSON-subprotocol clients as text/plain, application/json or
    application/octet-stream depending on their dataType. A JSON body may be a string or an
    object with a string `message`.
    """
    if len(body) > max_bytes:
        raise Rejected("Message not sent: it is too long.")
    media = _media_type(content_type)
    if media not in ("text/plain", "application/json", "application/octet-stream", ""):
        raise Rejected("Message not sent: unsupported content type.")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("Message not sent: it is not valid UTF-8 text.") from None
    if media != "application/json":
        return decoded
    try:
        value = bounded_json.loads(decoded, max_bytes=max_bytes)
    except bounded_json.InvalidJson as error:
        raise Rejected(f"Message not sent: it is not usable JSON ({error}).") from None
    if isinstance(value, dict):
        value = value.get("message")
    if not isinstance(value, str):
        raise Rejected('Message not sent: send text, or JSON {"message": "..."}.')
    return value


def clean(raw: str, max_length: int) -> str:
    """The message as it may be broadcast (the rules are chat/text_rules.py's), or Rejected."""
    try:
        return text_rules.clean_message(raw, max_length)
    except text_rules.Refused as error:
        raise Rejected(str(error)) from None
