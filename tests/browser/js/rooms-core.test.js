// Unit tests of static/rooms-core.js under Node's built-in test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const rooms = require("../../../static/rooms-core.js");

test("room names follow the server's rule", () => {
  for (const ok of ["lobby", "a", "dev-team_2", "x".repeat(64)]) {
    assert.deepEqual(rooms.validateRoom(ok), { ok: true, name: ok });
  }
  assert.equal(rooms.validateRoom("  dev ").name, "dev");
  for (const bad of ["", "   ", "a b", "x".repeat(65), "café", "a.b", "a/b", null]) {
    assert.equal(rooms.validateRoom(bad).ok, false, String(bad));
  }
});

test("the URL says the room", () => {
  assert.equal(rooms.roomFromHash(""), "lobby");
  assert.equal(rooms.roomFromHash("#room=dev"), "dev");
  assert.equal(rooms.roomFromHash("#room=bad%20room"), "lobby");
  assert.equal(rooms.roomFromHash("#room=<script>"), "lobby");
  assert.equal(rooms.hashForRoom("dev"), "#room=dev");
  assert.equal(rooms.hashForRoom("lobby"), "");
  assert.equal(rooms.roomFromHash(rooms.hashForRoom("a-b_c")), "a-b_c");
});

test("the remembered list is cleaned", () => {
  assert.deepEqual(rooms.parseRemembered('["dev","dev","lobby","bad name",3]'), ["lobby", "dev"]);
  assert.deepEqual(rooms.parseRemembered("not json"), ["lobby"]);
  assert.deepEqual(rooms.parseRemembered('{"a":1}'), ["lobby"]);
  const many = Array.from({ length: 40 }, (_, i) => "r" + i);
  assert.equal(rooms.normaliseRooms(many).length, rooms.MAX_ROOMS);
});

test("presence and typing frames", () => {
  assert.deepEqual(
    rooms.parseRoomFrame('{"type":"presence","room":"dev","users":["a","",5,"b"]}'),
    { kind: "presence", room: "dev", users: ["a", "b"], partial: false }
  );
  assert.equal(
    rooms.parseRoomFrame('{"type":"presence","room":"dev","users":["a"],"partial":true}').partial,
    true
  );
  assert.deepEqual(rooms.parseRoomFrame('{"type":"typing","room":"dev","user":"a"}'), {
    kind: "typing",
    room: "dev",
    user: "a",
  });
  assert.equal(rooms.parseRoomFrame('{"type":"typing","room":"bad room","user":"a"}'), null);
  assert.equal(rooms.parseRoomFrame('{"id":"1","room":"dev","from":"a","message":"m"}'), null);
  assert.equal(rooms.parseRoomFrame("plain"), null);
  assert.equal(rooms.roomOf('{"room":"dev","message":"m"}'), "dev");
  assert.equal(rooms.roomOf('{"message":"m"}'), "lobby");
  assert.equal(rooms.roomOf("plain text"), "lobby");
  assert.equal(rooms.roomOf('{"type":"system","event":"rejected"}', "dev"), "dev");
  assert.equal(rooms.roomOf('{"room":"x y"}', "dev"), "dev");
});

test("history merges without duplicates", () => {
  const seen = new Set(["2"]);
  const page = {
    messages: [
      { id: "1", from: "a", message: "one", time: "t" },
      { id: "2", from: "a", message: "two", time: "t" },
      { id: 3, from: "a", message: "bad id" },
      { id: "4", from: "a", message: "four", time: "t" },
    ],
  };
  const items = rooms.olderItems(page, seen);
  assert.deepEqual(
    items.map((i) => i.id),
    ["1", "4"]
  );
  assert.deepEqual(rooms.olderItems(page, seen), []); // the same page again adds nothing
  assert.deepEqual(rooms.olderItems(null, seen), []);
});

test("history keeps the sender's user id and provider (sign-in mode)", () => {
  const page = {
    messages: [
      { id: "1", from: "Frank", userId: "aad:f1:Frank", idp: "aad", message: "hi", time: "t" },
      { id: "2", from: "bob", userId: 7, message: "no id", time: "t" },
    ],
  };
  const [signedIn, plain] = rooms.olderItems(page, new Set());
  assert.equal(signedIn.userId, "aad:f1:Frank");
  assert.equal(signedIn.idp, "aad");
  assert.equal(plain.userId, undefined);
});

test("history URLs", () => {
  assert.equal(rooms.historyUrl("dev"), "rooms/dev/messages?limit=50");
  assert.equal(
    rooms.historyUrl("dev", 50, "123-abc"),
    "rooms/dev/messages?limit=50&before=123-abc"
  );
});

test("members and typing text", () => {
  assert.deepEqual(rooms.applyNotice(["a"], "joined", "b"), ["a", "b"]);
  assert.deepEqual(rooms.applyNotice(["a", "b"], "joined", "b"), ["a", "b"]);
  assert.deepEqual(rooms.applyNotice(["a", "b"], "left", "a"), ["b"]);
  assert.deepEqual(rooms.applyNotice(["a"], "left", "zed"), ["a"]);
  const typing = (entries) => new Map(Object.entries(entries));
  assert.equal(rooms.typingText(new Map(), 0), "");
  assert.equal(rooms.typingText(typing({ bob: 10 }), 5), "bob is typing…");
  assert.equal(rooms.typingText(typing({ bob: 10 }), 11), "");
  assert.equal(rooms.typingText(typing({ bob: 10, al: 10 }), 5), "al and bob are typing…");
  assert.equal(rooms.typingText(typing({ a: 9, b: 9, c: 9 }), 5), "3 people are typing…");
  assert.equal(rooms.unreadLabel(0), "");
  assert.equal(rooms.unreadLabel(7), "7");
  assert.equal(rooms.unreadLabel(120), "99+");
});

// Issue 15 item 2: names that every plain object already has. Each must be itself, and
// nothing may be written into what all objects inherit.
const OBJECT_KEYS = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"];

function inheritedNames() {
  return OBJECT_KEYS.map((key) => [key, Object.getOwnPropertyNames({}[key]).sort()]);
}

test("rooms named like object keys are rooms like any other", () => {
  const before = inheritedNames();
  for (const name of OBJECT_KEYS) {
    assert.deepEqual(rooms.validateRoom(name), { ok: true, name });
    assert.equal(rooms.roomFromHash(rooms.hashForRoom(name)), name);
    assert.deepEqual(rooms.parseRemembered(JSON.stringify([name, name])), ["lobby", name]);
    const frame = JSON.stringify({ id: "1", room: name, from: name, message: "m" });
    assert.equal(rooms.roomOf(frame), name);
    assert.deepEqual(
      rooms.parseRoomFrame(JSON.stringify({ type: "presence", room: name, users: [name, "a"] })),
      { kind: "presence", room: name, users: [name, "a"], partial: false }
    );
    assert.deepEqual(
      rooms.parseRoomFrame(JSON.stringify({ type: "typing", room: name, user: name })),
      { kind: "typing", room: name, user: name }
    );
    assert.equal(rooms.historyUrl(name), `rooms/${name}/messages?limit=50`);
  }
  assert.deepEqual(inheritedNames(), before);
});

test("users and message ids named like object keys", () => {
  const before = inheritedNames();
  let members = [];
  for (const name of OBJECT_KEYS) members = rooms.applyNotice(members, "joined", name);
  assert.deepEqual(members, OBJECT_KEYS);
  assert.deepEqual(rooms.applyNotice(members, "left", "__proto__"), [
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
  ]);

  // Each typing user counts, "__proto__" too; a plain object (where "__proto__" is lost and
  // inherited names leak in) is not accepted at all.
  const typing = new Map(OBJECT_KEYS.map((name) => [name, 10]));
  assert.equal(rooms.typingText(typing, 5), "5 people are typing…");
  assert.equal(rooms.typingText(new Map([["__proto__", 10]]), 5), "__proto__ is typing…");
  assert.equal(
    rooms.typingText(new Map([["constructor", 10], ["__proto__", 10]]), 5),
    "__proto__ and constructor are typing…"
  );
  assert.equal(rooms.typingText({ constructor: 10 }, 5), "");

  // History rows with these ids and senders (JSON.parse makes "__proto__" an own key).
  const page = JSON.parse(
    JSON.stringify({
      messages: OBJECT_KEYS.map((name) => ({ id: name, from: name, message: "m", time: "t" })),
    })
  );
  const seen = new Set();
  assert.deepEqual(
    rooms.olderItems(page, seen).map((item) => [item.id, item.from]),
    OBJECT_KEYS.map((name) => [name, name])
  );
  assert.deepEqual(rooms.olderItems(page, seen), []);
  assert.deepEqual(inheritedNames(), before);
});
