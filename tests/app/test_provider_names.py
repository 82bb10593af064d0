"""Names from identity providers (issue 15, item 6): they cannot be refused at sign-in, so they
are cleaned (invisible characters dropped, stacked marks capped) and a mixed-script look-alike
is marked `lookalike: true` wherever its sender fields go: messages, presence notices, history.
Pure, then through the registered functions with real Azurite."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from chat import identity, rooms, text_rules
from chat.settings import Settings

from .conftest import RecordingService, event_request
from .test_sign_in_mode import CONNECTED, MESSAGE, principal_headers, signed_in_app  # noqa: F401

REQUIRED = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp", sign_in=True)
SPOOF = "\u0430lice"  # a Cyrillic U+0430 among Latin letters


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("alice", "alice"),
        ("e" + "\u0301" * 40, "\u00e9\u0301\u0301\u0301"),  # NFC composes one, three stay
        ("x" + "\u0301" * 40 + "y", "x\u0301\u0301\u0301y"),
        ("alice\u3164", "alice"),  # Hangul filler
        ("\u2800bob\u115f", "bob"),  # Braille blank, Hangul choseong filler
        ("ali\u034fce", "alice"),  # combining grapheme joiner
        ("\u0301alice", "alice"),  # a mark with nothing to sit on
        ("dev \U0001f469\u200d\U0001f4bb", "dev \U0001f469\u200d\U0001f4bb"),  # ZWJ emoji kept
        ("\u2764\ufe0f bob", "\u2764\ufe0f bob"),  # VS16 kept inside its emoji
        ("\u05e9\u05bc\u05c1\u05b8", "\u05e9\u05b8\u05bc\u05c1"),  # pointed Hebrew: 3 marks
        (SPOOF, SPOOF),  # look-alikes are shown, but marked
        ("\u3164\u3164", ""),
    ],
)
def test_display_hygiene(raw: str, shown: str) -> None:
    assert text_rules.display_name(raw) == shown


def test_look_alikes_are_detected_and_genuine_names_are_not() -> None:
    for spoof in (SPOOF, "b\u043eb", "b\u03bfb", "\u0418\u0432a\u043d"):
        assert text_rules.is_lookalike(spoof), spoof
    for genuine in (
        "alice",
        "\u0418\u0432\u0430\u043d",
        "\u7530\u4e2d\u30bf\u30ed\u30a6",
        "Zo\u00eb",
    ):
        assert not text_rules.is_lookalike(genuine), genuine


def signed_in(idp: str, user: str, name: str) -> dict[str, str]:
    return {
        "x-ms-client-principal-idp": idp,
        "x-ms-client-principal-id": user,
        "x-ms-client-principal-name": name,
    }


def test_the_caller_carries_the_cleaned_name() -> None:
    who = identity.caller(signed_in("github", "1", "e" + "\u0301" * 40), {}, REQUIRED)
    assert who.name == "\u00e9\u0301\u0301\u0301"
    assert who.user_id == "github:1:\u00e9\u0301\u0301\u0301"
    # Nothing visible left: the provider's id stands in, never an empty name.
    assert identity.caller(signed_in("github", "42", "\u3164"), {}, REQUIRED).name == "42"


def test_the_sender_of_a_look_alike_is_marked() -> None:
    assert identity.sender(f"github:1:{SPOOF}", REQUIRED) == {
        "from": SPOOF,
        "userId": f"github:1:{SPOOF}",
        "idp": "github",
        "lookalike": True,
    }
    assert "lookalike" not in (identity.sender("github:1:alice", REQUIRED) or {})
    # A token issued before the cleaning: its name is cleaned when shown.
    old = "github:1:x" + "\u0301" * 40
    assert (identity.sender(old, REQUIRED) or {})["from"] == "x\u0301\u0301\u0301"


async def test_negotiate_signs_the_cleaned_name(signed_in_app: RecordingService) -> None:  # noqa: F811
    from .negotiate_requests import decode, request

    response = await function_app.negotiate(
        request({}, principal_headers("github", "583231", "x" + "\u0301" * 40 + "\u3164"))
    )
    assert response.status_code == 200
    sub = decode(json.loads(response.get_body())["url"], signed_in_app.endpoint)["sub"]
    assert sub == "github:583231:x\u0301\u0301\u0301"


async def test_look_alikes_are_marked_live_and_in_history(
    signed_in_app: RecordingService,  # noqa: F811
) -> None:
    user = f"github:583231:{SPOOF}"
    signed_in_app.connect("conn-1", user, "r.lobby", rooms.presence_group("lobby", user))
    await function_app.eventhandler(event_request(CONNECTED, user=user))
    response = await function_app.eventhandler(
        event_request(MESSAGE, user=user, body=b"hi", content_type="text/plain", ce_id="2")
    )
    assert response.status_code == 204
    notice, chat = [sent.json() for sent in signed_in_app.sends("groups")]
    assert (notice["event"], notice["lookalike"], notice["idp"]) == ("joined", True, "github")
    assert (chat["from"], chat["lookalike"], chat["idp"]) == (SPOOF, True, "github")
    page = await function_app.room_messages(
        func.HttpRequest(
            "GET",
            "http://localhost/api/rooms/lobby/messages",
            params={},
            headers=principal_headers("github", "583231", "alice"),
            route_params={"room": "lobby"},
            body=b"",
        )
    )
    assert page.status_code == 200
    [stored] = json.loads(page.get_body())["messages"]
    assert stored == chat  # exactly as it was broadcast, mark included
