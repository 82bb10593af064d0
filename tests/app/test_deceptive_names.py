"""Names that deceive: invisible fillers, look-alike scripts, stacked combining marks. Pure."""

from __future__ import annotations

import azure.functions as func
import pytest

import function_app
from chat import identity, message_text
from chat.errors import BadRequest

from .conftest import RecordingService, event_request

ACCEPTED = [
    ("plain", "alice"),
    ("spaces inside", "Mary Ann"),
    ("Latin with accents", "Zo\u00eb J\u00f6rg Jos\u00e9"),
    ("decomposed accent", "Jose\u0301"),
    ("Vietnamese, two marks", "Vie\u0323\u0302t"),
    ("pointed Hebrew, three marks on a letter", "\u05e9\u05bc\u05c1\u05b8\u05dc"),
    ("Cyrillic, one script", "\u0418\u0432\u0430\u043d"),  # Иван
    ("Greek, one script", "\u0391\u03b8\u03b7\u03bd\u03ac"),  # Αθηνά
    ("Japanese", "\u5c71\u7530\u592a\u90ce"),  # 山田太郎
    ("Japanese kana and kanji", "\u3055\u304f\u3089\u5b50"),  # さくら子
    ("katakana beside look-alike Han", "\u7530\u4e2d\u30bf\u30ed\u30a6"),  # 田中タロウ
    ("Latin with a digit", "alice0"),
    ("Arabic", "\u0645\u062d\u0645\u062f"),  # محمد
    ("Hebrew", "\u05d3\u05e0\u05d4"),  # דנה
    ("Hindi", "\u0905\u0928\u093f\u0932"),  # अनिल
    ("Korean", "\ud55c\uc9c0\ubbfc"),  # 한지민
    ("emoji", "alice \U0001f600"),
    ("emoji with ZWJ", "dev \U0001f469\u200d\U0001f4bb"),  # woman technologist
    ("family ZWJ sequence", "\U0001f468\u200d\U0001f469\u200d\U0001f467"),
    ("emoji with VS16", "\u2764\ufe0f bob"),
    ("skin tone", "\U0001f44b\U0001f3fd wave"),
    ("keycap", "agent 0\ufe0f\u20e3"),
    ("flag", "\U0001f1ef\U0001f1f5 fan"),
    ("tag flag", "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f fan"),
    ("email", "dana@contoso.com"),
]


@pytest.mark.parametrize(("case", "name"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_genuine_names_are_accepted(case: str, name: str) -> None:
    assert identity.validate_name(name) == name


REFUSED = [
    # invisible fillers, alone or hidden in a name
    ("Hangul filler alone", "\u3164", "invisible"),
    ("alice + Hangul filler", "alice\u3164", "invisible"),
    ("Braille blank alone", "\u2800\u2800", "invisible"),
    ("alice + Braille blank", "alice\u2800", "invisible"),
    ("Hangul choseong filler", "\u115f", "invisible"),
    ("Hangul jungseong filler", "al\u1160ice", "invisible"),
    ("halfwidth Hangul filler", "\uffa0alice", "invisible"),
    ("combining grapheme joiner", "ali\u034fce", "invisible"),
    ("Khmer invisible vowel", "alice\u17b4", "invisible"),
    ("Mongolian vowel separator", "al\u180eice", "invisible"),
    # default-ignorable format characters
    ("zero-width space", "ali\u200bce", "control"),
    ("soft hyphen", "ali\u00adce", "control"),
    ("word joiner", "ali\u2060ce", "control"),
    ("ZWJ between letters", "ali\u200dce", "control"),
    ("ZWNJ", "ali\u200cce", "control"),
    ("bidi isolate", "\u2067alice", "control"),
    ("variation selector on a letter", "alice\ufe00", "invisible"),
    ("tag characters", "alice\U000e0041", "control"),
    # confusable mixtures of scripts
    ("Cyrillic a in alice", "\u0430lice", "mixes scripts"),
    ("Cyrillic o in bob", "b\u043eb", "mixes scripts"),
    ("Greek omicron", "b\u03bfb", "mixes scripts"),
    ("Cyrillic name with Latin a", "\u0418\u0432aн", "mixes scripts"),
    # combining-mark towers
    ("four marks on a letter", "x\u0301\u0302\u0303\u0304", "combining marks"),
    ("zalgo", "a" + "\u0301" * 5, "combining marks"),  # NFC folds the first into á
    ("zalgo in the middle", "bo" + "\u0300\u0301" * 10 + "b", "combining marks"),
    ("starts with a mark", "\u0301alice", "combining mark"),
]


@pytest.mark.parametrize(("case", "name", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_deceptive_names_are_refused(case: str, name: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        identity.validate_name(name)


@pytest.mark.parametrize("name", ["alice\u3164", "\u0430lice", "\u2800", "a" + "\u0301" * 5])
async def test_negotiate_refuses_deceptive_names(app: RecordingService, name: str) -> None:
    request = func.HttpRequest(
        "GET", "http://h/api/negotiate", params={"id": name}, headers={}, body=b""
    )
    response = await function_app.negotiate(request)
    assert response.status_code == 400
    assert response.get_body().startswith(b"user id ")


async def test_deceptive_ce_user_id_is_not_broadcast(app: RecordingService) -> None:
    response = await function_app.eventhandler(
        event_request(
            "azure.webpubsub.user.message",
            user="\u0430lice",
            body=b"hi",
            content_type="text/plain",
        )
    )
    assert response.status_code == 400
    assert app.requests == []


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("a" + "\u0301" * 300 + "b", "\u00e1\u0301\u0301\u0301b"),  # NFC, then 3 marks
        ("x" + "\u0300\u0301\u0302\u0303\u0304" + " y", "x\u0300\u0301\u0302 y"),
        ("Jose\u0301", "Jos\u00e9"),  # NFC first: a composed letter has no mark left
        ("\u05e9\u05bc\u05c1\u05b8", "\u05e9\u05b8\u05bc\u05c1"),  # pointed Hebrew keeps 3
        (
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",
            "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("1\ufe0f\u20e3", "1\ufe0f\u20e3"),
    ],
)
def test_message_combining_marks_are_capped(raw: str, cleaned: str) -> None:
    assert message_text.clean(raw, 2000) == cleaned


async def test_zalgo_message_is_broadcast_capped(app: RecordingService) -> None:
    body = ("a" + "\u0301" * 300).encode()
    response = await function_app.eventhandler(
        event_request("azure.webpubsub.user.message", body=body, content_type="text/plain")
    )
    assert response.status_code == 204
    assert [b["message"] for b in app.broadcasts] == ["\u00e1\u0301\u0301\u0301"]


@pytest.mark.parametrize(
    "raw", ["\u3164", "\u3164 \u3164", "\u2800\u2800\u2800", "\u200b\u200b", "\u115f\u1160"]
)
def test_a_message_of_invisible_fillers_is_empty(raw: str) -> None:
    with pytest.raises(message_text.Rejected, match="it is empty"):
        message_text.clean(raw, 2000)


@pytest.mark.parametrize("raw", ["\u3164x", "\U0001f44d", "\u05e9\u05dc\u05d5\u05dd", "\u00a0a"])
def test_a_message_with_something_visible_is_kept(raw: str) -> None:
    assert message_text.clean(raw, 2000)
