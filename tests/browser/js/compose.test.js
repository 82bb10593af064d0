// Unit tests of static/compose.js (the message box's pure parts) under Node's test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const compose = require("../../../static/compose.js");

test("characters are counted as the server counts them", () => {
  assert.equal(compose.countChars("hello"), 5);
  // Ends trimmed, tabs are spaces, controls and bidi overrides dropped (chat/text_rules.py).
  assert.equal(compose.countChars("  hi\t!  \n"), 4);
  assert.equal(compose.countChars("a\u202eb\u0007c\r"), 3);
  // Code points, not UTF-16 units: an emoji is one; NFC: "e" + U+0301 is one "é".
  assert.equal(compose.countChars("😀"), 1);
  assert.equal(compose.countChars("e\u0301".repeat(10)), 10);
  assert.equal(compose.countChars("line 1\nline 2"), 13);
});

test("a blank box is blank however it is blank", () => {
  for (const blank of ["", "   ", "\n\n", "\t \n", "\u202e ", "\ufeff"]) {
    assert.equal(compose.isBlank(blank), true, JSON.stringify(blank));
  }
  for (const text of ["a", " . ", "\u200b"]) {
    // A zero-width space is the server's call (it refuses it as empty, with its reason).
    assert.equal(compose.isBlank(text), false, JSON.stringify(text));
  }
});

test("the counter shows near the limit and warns past it", () => {
  assert.deepEqual(compose.counter(0, 2000), { state: "hidden", text: "" });
  assert.deepEqual(compose.counter(1600, 2000), { state: "hidden", text: "" });
  assert.deepEqual(compose.counter(1601, 2000), { state: "near", text: "1,601 / 2,000" });
  assert.deepEqual(compose.counter(2000, 2000), { state: "near", text: "2,000 / 2,000" });
  assert.deepEqual(compose.counter(2100, 2000), {
    state: "over",
    text: "2,100 / 2,000 (100 too many)",
  });
  assert.equal(compose.counter(1700).state, "near"); // the default limit is the server's 2000
});

test("Enter sends; Shift+Enter and an input method's Enter do not", () => {
  assert.equal(compose.keyAction({ key: "Enter" }), "send");
  assert.equal(compose.keyAction({ key: "Enter", shiftKey: true }), null);
  assert.equal(compose.keyAction({ key: "Enter", isComposing: true }), null);
  assert.equal(compose.keyAction({ key: "Enter", keyCode: 229 }), null);
  assert.equal(compose.keyAction({ key: "a" }), null);
  assert.equal(compose.keyAction(null), null);
});

test("refused text comes back after what is in the box", () => {
  assert.equal(compose.restoreInto("", "lost"), "lost");
  assert.equal(compose.restoreInto("lost 1", "lost 2"), "lost 1\nlost 2");
  assert.equal(compose.restoreInto("draft", ""), "draft");
});

test("a refusal belongs to the oldest text still waiting; echoes settle theirs", () => {
  const pending = compose.createPending();
  pending.sent("one");
  pending.sent("  two\t");
  pending.sent("three");
  assert.equal(pending.refused(), "one");
  // The server echoes "two" cleaned ("two"); it still settles the text sent as "  two\t".
  assert.equal(pending.echoed("someone else's"), false);
  assert.equal(pending.echoed("two"), true);
  assert.equal(pending.refused(), "three");
  assert.equal(pending.refused(), "");
  pending.sent("x");
  pending.sent("y");
  assert.deepEqual(pending.takeAll(), ["x", "y"]);
  assert.equal(pending.size, 0);
});

test("an echo settles the texts sent before it too", () => {
  const pending = compose.createPending();
  pending.sent("Z\u0301\u0301\u0301\u0301\u0301"); // the server trims the marks: no match
  pending.sent("next");
  assert.equal(pending.echoed("next"), true);
  // Answered in order, the first one was answered already: a refusal now is not about it.
  assert.equal(pending.refused(), "");
});

test("the server's echoed tag names the text exactly, not its place or its words", () => {
  const pending = compose.createPending();
  pending.sent("hi", "a1");
  pending.sent("hi", "b2");
  pending.sent("long one", "c3");
  // The second "hi" is refused: the first, with the same words, stays waiting.
  assert.equal(pending.refused("b2"), "hi");
  assert.equal(pending.refused("ffff"), ""); // a tag of no text waiting here: not ours
  // Someone with our name sent "hi" too (their tag): it settles nothing of ours.
  assert.equal(pending.echoed("hi", "dd"), false);
  assert.equal(pending.size, 2);
  assert.equal(pending.echoed("long one", "c3"), true); // and the older "hi" was answered
  assert.equal(pending.size, 0);
  pending.sent("old server", "e5");
  assert.equal(pending.refused(), "old server"); // no tag in the frame: the oldest
});

test("only refusals of a message bring text back", () => {
  for (const reason of [
    "Message not sent: it has 2100 characters; the limit is 2000.",
    "Message not sent: you are sending too fast. Wait a moment.",
  ]) {
    assert.equal(compose.refusesMessage(reason), true, reason);
  }
  for (const reason of [
    "Could not join x: a connection can be in at most 20 rooms. Leave one first.",
    "Not done: join the room dev first.",
  ]) {
    assert.equal(compose.refusesMessage(reason), false, reason);
  }
  assert.equal(compose.refusesMessage(undefined), false);
});

test("the counter's limit is the page's meta when it is a usable number", () => {
  assert.equal(compose.maxFromMeta("100"), 100);
  assert.equal(compose.maxFromMeta(" 16000 "), 16000);
  for (const odd of ["", null, undefined, "0", "16001", "-5", "1e3", "12px", "99999999", "NaN"]) {
    assert.equal(compose.maxFromMeta(odd), compose.MAX_LENGTH, String(odd));
  }
});
