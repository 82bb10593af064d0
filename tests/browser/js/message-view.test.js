// Unit tests of static/message-view.js (the log's pure parts) under Node's test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const view = require("../../../static/message-view.js");

function links(text) {
  return view.linkParts(text).filter((p) => p.href).map((p) => p.href);
}

test("http and https URLs become links; the parts still spell the message", () => {
  const text = "see https://example.com/a?b=1. and http://x.example/(y) ok";
  const parts = view.linkParts(text);
  assert.equal(parts.map((p) => p.text).join(""), text);
  assert.deepEqual(links(text), ["https://example.com/a?b=1", "http://x.example/(y)"]);
  assert.deepEqual(links("(https://example.com/x)"), ["https://example.com/x"]);
  assert.deepEqual(links("HTTPS://EXAMPLE.COM"), ["https://example.com/"]);
  assert.deepEqual(links("end https://example.com/a, then"), ["https://example.com/a"]);
});

test("no other scheme and no markup is ever a link", () => {
  for (const text of [
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "ftp://example.com/file",
    '<a href="https://example.com">x</a>'.replace("https://", "hxxps://"),
    "file:///etc/passwd",
    "https://",
    "https:// nothing",
    "jav\nascript:alert(1)",
  ]) {
    assert.deepEqual(links(text), [], text);
    assert.equal(view.linkParts(text).map((p) => p.text).join(""), text);
  }
  // Markup next to a URL stays text; the URL ends at the markup's quote or bracket.
  const markup = '<a href="https://evil.example/x">y</a> <https://b.example/>';
  assert.deepEqual(links(markup), ["https://evil.example/x", "https://b.example/"]);
  assert.equal(view.linkParts(markup).map((p) => p.text).join(""), markup);
});

test("day labels: Today, Yesterday, then the date", () => {
  const now = new Date(2026, 11, 7, 0, 30); // just after midnight
  assert.equal(view.dayLabel(new Date(2026, 11, 7, 0, 1), now, "en-GB"), "Today");
  assert.equal(view.dayLabel(new Date(2026, 11, 6, 23, 59), now, "en-GB"), "Yesterday");
  // The comma after the weekday depends on the ICU version.
  assert.match(view.dayLabel(new Date(2026, 11, 4, 12), now, "en-GB"), /^Friday,? 4 December$/);
  assert.match(
    view.dayLabel(new Date(2025, 11, 4, 12), now, "en-GB"),
    /^Thursday,? 4 December 2025$/
  );
});

test("lines group by user id, within five minutes, on one day", () => {
  const t = new Date(2026, 11, 7, 12).getTime();
  const a = { userId: "alice", time: t };
  assert.equal(view.groupsWith(a, { userId: "alice", time: t + 60000 }), true);
  assert.equal(view.groupsWith(a, { userId: "alice", time: t + 5 * 60000 + 1 }), false);
  assert.equal(view.groupsWith(a, { userId: "github:1:alice", time: t + 1000 }), false);
  // Our name from this tab and from another tab (no sign-in): one user id, two sides.
  const own = { userId: "pat", side: "own", time: t };
  assert.equal(view.groupsWith(own, { userId: "pat", side: "same-name", time: t + 1 }), false);
  assert.equal(view.groupsWith(own, { userId: "pat", side: "own", time: t + 1 }), true);
  assert.equal(view.groupsWith(null, a), false);
  assert.equal(view.groupsWith({ userId: "", time: t }, { userId: "", time: t }), false);
  const late = new Date(2026, 11, 7, 23, 59).getTime();
  const nextDay = { userId: "a", time: late + 120000 };
  assert.equal(view.groupsWith({ userId: "a", time: late }, nextDay), false);
});

test("initials and a colour from the user id", () => {
  assert.equal(view.initials("Pat Smith"), "PS");
  assert.equal(view.initials("pat@contoso.com"), "P");
  assert.equal(view.initials("jean-luc picard"), "JL");
  assert.equal(view.initials("  ünsal"), "Ü");
  assert.equal(view.initials("דנה"), "ד");
  assert.equal(view.initials("\u2800 !!"), "?");
  assert.equal(view.initials(""), "?");
  const a = view.colourIndex("aad:1:alice");
  assert.equal(a, view.colourIndex("aad:1:alice"));
  assert.ok(a >= 0 && a < view.AVATAR_COLOURS);
  // The two same-name people of the sign-in tests get different colours.
  const spread = new Set(["a", "b", "c", "d", "e", "f", "g", "h"].map((u) => view.colourIndex(u)));
  assert.ok(spread.size >= 5, [...spread].join());
});

test("announcements say who, from where, and what, and stay short", () => {
  assert.equal(view.announcement("alice", "", "hi"), "alice: hi");
  assert.equal(
    view.announcement("pat@contoso.com", "Microsoft", "hello"),
    "pat@contoso.com (Microsoft): hello"
  );
  const long = view.announcement("a", "", "x".repeat(1000));
  assert.ok(long.length < 320 && long.endsWith("…"));
});
