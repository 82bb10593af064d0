"""End to end in Chromium: two people chatting through the stack as `make run` starts it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from tests.support.stack import LocalStack

from .chat_page import MESSAGE_TIMEOUT_MS, ChatPage, Joined, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

XSS = "<img src=x onerror=alert(1)>"


def lines_of(chat: ChatPage, people: list[str]) -> Locator:
    """The log's lines by or about these people (chat lines and join/leave notices)."""
    selector = ", ".join(f'li[data-from="{p}"], li[data-user="{p}"]' for p in people)
    return chat.log.locator(selector)


def transcript(lines: Locator) -> list[str]:
    """Each line's text without its time: "alice: hello", "bob joined"."""
    return lines.evaluate_all(
        "items => items.map(li => li.querySelector('.bubble, .text').textContent)"
    )


def own_flags(lines: Locator) -> list[bool]:
    return lines.evaluate_all("items => items.map(li => li.classList.contains('own'))")


def test_two_people_see_each_other_in_order_and_the_leave_notice(
    open_chat: OpenChat, unique: Callable[[str], str], artifacts_dir: Path
) -> None:
    alice_name, bob_name = unique("alice"), unique("bob")
    alice = open_chat()
    alice.join(alice_name)
    expect(alice.notices("joined", alice_name)).to_have_count(1)
    bob = open_chat()
    bob.join(bob_name)

    alice.send("hello bob")
    expect(bob.chat_line(alice_name, "hello bob")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    bob.send("hi alice")
    expect(alice.chat_line(bob_name, "hi alice")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    alice.send("how are you?")
    expect(bob.chat_line(alice_name, "how are you?")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    # The whole log, in order, as each person reads it. Only these two people's lines count:
    # a "left" notice of an earlier test's user may still arrive on the shared stack.
    people = [alice_name, bob_name]
    expected_alice = [
        f"{alice_name} joined",
        f"{bob_name} joined",
        f"{alice_name}: hello bob",
        f"{bob_name}: hi alice",
        f"{alice_name}: how are you?",
    ]
    expect(lines_of(alice, people)).to_have_count(len(expected_alice))
    assert transcript(lines_of(alice, people)) == expected_alice
    # Bob joined after Alice, so his log starts with his own arrival.
    expect(lines_of(bob, people)).to_have_count(len(expected_alice) - 1)
    assert transcript(lines_of(bob, people)) == expected_alice[1:]

    # Own lines are told apart from the others' by class (and look different: see screenshot).
    assert own_flags(alice.chat_lines(alice_name)) == [True, True]
    assert own_flags(alice.chat_lines(bob_name)) == [False]
    assert own_flags(bob.chat_lines(bob_name)) == [True]
    assert own_flags(bob.chat_lines(alice_name)) == [False, False]
    own_bg = (
        alice.chat_lines(alice_name)
        .first.locator(".bubble")
        .evaluate("b => getComputedStyle(b).backgroundColor")
    )
    other_bg = (
        alice.chat_lines(bob_name)
        .first.locator(".bubble")
        .evaluate("b => getComputedStyle(b).backgroundColor")
    )
    assert own_bg != other_bg

    alice.page.screenshot(path=str(artifacts_dir / "conversation.png"))
    bob.page.screenshot(path=str(artifacts_dir / "conversation-other-side.png"))

    bob.context.close()
    expect(alice.notices("left", bob_name)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(alice.notices("left", bob_name)).to_have_text(re.compile(f"^{bob_name} left"))
    assert lines_of(alice, people).last.get_attribute("data-event") == "left"


def test_every_line_has_a_timestamp_from_the_server(joined: Joined) -> None:
    chat, name = joined("tim")
    chat.send("what time is it?")
    expect(chat.chat_line(name, "what time is it?")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    now = datetime.now(UTC)
    times = lines_of(chat, [name]).locator("time.time")
    expect(times).to_have_count(2)  # the join notice and the message
    for stamp in times.all():
        moment = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
        assert abs(moment - now) < timedelta(minutes=2)
        # Shown as a short clock time; the full date is in the tooltip.
        expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
        assert stamp.get_attribute("title")


def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(joined: Joined) -> None:
    (sender, sender_name), (reader, _) = joined("mallory"), joined("victim")
    image_requests: list[str] = []
    reader.page.on(
        "request", lambda r: image_requests.append(r.url) if r.url.endswith("/x") else None
    )

    payloads = [
        XSS,
        '<script>window.__pwned = "script"</script>',
        "<svg onload=\"window.__pwned = 'svg'\"></svg>",
        "<b>bold?</b> &amp; &lt;",
    ]
    for payload in payloads:
        sender.send(payload)
    for payload in payloads:
        line = reader.chat_line(sender_name, payload)
        expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
        expect(line.locator("span.text")).to_have_text(payload)

    for page in (sender, reader):
        # Nothing was parsed as markup: the log holds only the page's own elements.
        assert page.log.locator("img, script, svg, b").count() == 0
        assert page.page.evaluate("() => window.__pwned") is None
        assert page.dialogs == []  # alert(1) never ran
    assert image_requests == []


def test_the_servers_explanations_for_refused_messages_are_shown(
    joined: Joined, chat_stack: LocalStack
) -> None:
    (chat, name), (peer, _) = joined("eve"), joined("peer")

    # A blank box never leaves the page (test_browser_compose.py); text that only looks blank
    # (zero-width spaces) does, and the server explains: nothing is broadcast.
    chat.send("\u200b\u200b")
    expect(chat.rejections()).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.rejections().last).to_have_text(re.compile(r"^Message not sent: it is empty\."))
    chat.send("\u2800")
    expect(chat.rejections()).to_have_count(2, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.rejections().last).to_have_text(re.compile(r"^Message not sent: it is empty\."))

    too_long = "x" * 2001
    chat.send(too_long)
    expect(chat.rejections()).to_have_count(3, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.rejections().last).to_have_text(
        re.compile(r"^Message not sent: .*2001 characters.*2000")
    )
    # The longest allowed message goes through whole.
    longest = "y" * 2000
    chat.send(longest)
    expect(peer.chat_line(name, longest)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    # Only the sender hears about its refused messages; still connected, and chat still works.
    expect(peer.rejections()).to_have_count(0)
    assert peer.chat_lines(name).count() == 1
    chat.send("still here")
    expect(peer.chat_line(name, "still here")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.status).to_have_attribute("data-state", "connected")
    assert "reconnecting" not in chat.state_history()
    expect(chat.local_notes("Connection lost")).to_have_count(0)


def test_a_flood_is_answered_by_the_rate_limit_not_dropped_or_disconnected(joined: Joined) -> None:
    (chat, name), (peer, _) = joined("flood"), joined("watcher")

    # The default limit is 20 messages per 10 s per connection; 30 quick sends exceed it.
    sent = [f"flood {i}" for i in range(30)]
    for text in sent:
        chat.send(text)

    # Every message is accounted for: shown to everyone, or explained to the sender.
    shown = chat.chat_lines(name)
    refused = chat.rejections().filter(has_text="sending too fast")
    chat.page.wait_for_function(
        "n => document.querySelectorAll('#messages li.message.own, #messages li.rejected')"
        ".length >= n",
        arg=len(sent),
        timeout=MESSAGE_TIMEOUT_MS,
    )
    assert shown.count() + refused.count() == len(sent)
    assert refused.count() >= 1
    assert chat.rejections().count() == refused.count()
    expect(refused.first).to_have_text(re.compile(r"^Message not sent: you are sending too fast"))
    assert shown.count() >= 20
    expect(peer.chat_lines(name)).to_have_count(shown.count(), timeout=MESSAGE_TIMEOUT_MS)
    # The first messages went through in the order they were sent.
    texts = shown.locator("span.text").all_inner_texts()
    assert texts[:20] == sent[:20]

    expect(chat.status).to_have_attribute("data-state", "connected")
    assert "reconnecting" not in chat.state_history()


def test_lazy_auth_connects_straight_to_the_service_with_id(
    open_chat: OpenChat, unique: Callable[[str], str], chat_stack: LocalStack
) -> None:
    name, peer_name = unique("carol"), unique("dave")
    chat = open_chat(query="?connect=direct")
    sockets: list[str] = []
    negotiations: list[str] = []
    chat.page.on("websocket", lambda ws: sockets.append(ws.url))
    chat.page.on("request", lambda r: negotiations.append(r.url) if "negotiate" in r.url else None)
    chat.join(name)

    assert sockets == [f"{chat_stack.options.client_url}?id={name}"]
    assert negotiations == []

    peer = open_chat()
    peer.join(peer_name)
    chat.send("direct hello")
    expect(peer.chat_line(name, "direct hello")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.chat_line(name, "direct hello")).to_have_class(re.compile(r"\bown\b"))
    peer.send("negotiated hello")
    expect(chat.chat_line(peer_name, "negotiated hello")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    expect(peer.notices("joined", peer_name)).to_have_count(1)
    expect(chat.notices("joined", peer_name)).to_have_count(1)
