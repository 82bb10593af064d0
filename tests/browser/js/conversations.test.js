"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { webcrypto } = require("node:crypto");
const c = require("../../../static/conversations.js");

test("urls carry ?id= only without sign-in", () => {
  assert.strictEqual(c.myRoomsUrl("al ice", false), "me/rooms?id=al%20ice");
  assert.strictEqual(c.myRoomsUrl("x", true), "me/rooms");
  assert.strictEqual(c.directoryUrl("bob", false, 50), "rooms?limit=50&id=bob");
  assert.strictEqual(
    c.catchUpUrl("dev", "2026-01-01T00:00:00Z", 100),
    "rooms/dev/messages?since=2026-01-01T00%3A00%3A00Z&limit=100"
  );
});

test("the conversation list is checked", () => {
  const rooms = c.parseMyRooms({
    rooms: [
      { room: "dev", kind: "room", unread: 3, mentions: 2 },
      { room: "dm-" + "a".repeat(32), kind: "dm", with: { userId: "u", name: "Bob", idp: "github" }, unread: -1 },
      { room: 5 },
      null,
    ],
  });
  assert.deepStrictEqual(rooms, [
    { room: "dev", kind: "room", peer: null, unread: 3, mentions: 2 },
    { room: "dm-" + "a".repeat(32), kind: "dm", peer: { userId: "u", name: "Bob", idp: "github" }, unread: 0, mentions: 0 },
  ]);
  assert.deepStrictEqual(c.parseMyRooms("nope"), []);
});

test("the directory is searchable and never lists a DM", () => {
  const body = { rooms: [{ room: "dev", members: 2 }, { room: "ops" }, { room: "dm-" + "b".repeat(32) }] };
  assert.deepStrictEqual(c.parseDirectory(body, "").map((r) => r.room), ["dev", "ops"]);
  assert.deepStrictEqual(c.parseDirectory(body, " DE ").map((r) => r.room), ["dev"]);
});

test("a directory room says when it was last active", () => {
  const now = Date.parse("2026-12-07T12:00:00.000Z");
  const ago = (iso) => c.activeAgo(iso, now);
  assert.strictEqual(ago(""), "no messages yet");
  assert.strictEqual(ago(undefined), "no messages yet");
  assert.strictEqual(ago("not a time"), "");
  assert.strictEqual(ago("2026-12-07T11:59:30.000Z"), "active just now");
  assert.strictEqual(ago("2026-12-07T12:00:05.000Z"), "active just now"); // a clock ahead
  assert.strictEqual(ago("2026-12-07T11:55:00.000Z"), "active 5 min ago");
  assert.strictEqual(ago("2026-12-07T09:00:00.000Z"), "active 3 h ago");
  assert.strictEqual(ago("2026-12-06T11:00:00.000Z"), "active 1 day ago");
  assert.strictEqual(ago("2026-12-01T12:00:00.000Z"), "active 6 days ago");
});

test("read frames, DM peers, newest items", () => {
  assert.deepStrictEqual(c.readFrame('{"type":"read","room":"dev","id":"x"}'), { room: "dev", id: "x" });
  assert.strictEqual(c.readFrame("hello"), null);
  const dm = "dm-" + "c".repeat(32);
  const frame = { room: dm, userId: "me", from: "Me", to: { userId: "you", name: "You", idp: "aad" } };
  assert.deepStrictEqual(c.peerOf(frame, "me"), { userId: "you", name: "You", idp: "aad" });
  assert.deepStrictEqual(c.peerOf(frame, "you"), { userId: "me", name: "Me", idp: "" });
  assert.strictEqual(c.peerOf({ room: "dev" }, "me"), null);
  const items = [
    { kind: "chat", id: "a", time: "2026-01-01T00:00:01.000Z" },
    { kind: "system", id: "s", time: "2026-01-01T00:00:09.000Z" },
    { kind: "chat", id: "b", time: "2026-01-01T00:00:02.000Z" },
  ];
  assert.strictEqual(c.latestTime(items), "2026-01-01T00:00:02.000Z");
  assert.strictEqual(c.newestId(items), "b");
  assert.strictEqual(c.latestTime([]), "");
});

test("a DM's name is the server's: SHA-256 of the sorted pair", async () => {
  const a = await c.directName("aad:1:A", "github:2:B", webcrypto.subtle);
  const b = await c.directName("github:2:B", "aad:1:A", webcrypto.subtle);
  assert.strictEqual(a, b);
  const expected = require("node:crypto").createHash("sha256").update("aad:1:A\ngithub:2:B").digest("hex");
  assert.strictEqual(a, "dm-" + expected.slice(0, 32));
});

test("catch-up follows next until null", async () => {
  const asked = [];
  const pages = { "": { messages: [1], next: "c1" }, c1: { messages: [2], next: null } };
  const fetchFn = (url) => {
    asked.push(url);
    const since = decodeURIComponent(url.split("since=")[1].split("&")[0]);
    const page = since === "t0" ? pages[""] : pages[since];
    return Promise.resolve({ ok: true, json: () => Promise.resolve(page) });
  };
  const got = [];
  const n = await c.catchUp(fetchFn, "dev", "t0", (p) => got.push(...p.messages));
  assert.strictEqual(n, 2);
  assert.deepStrictEqual(got, [1, 2]);
});

test("a DM's header says whether the other person is in the lobby now", () => {
  const members = ["aad:1:A", "github:2:B"];
  assert.deepStrictEqual(c.peerStatus(members, "github:2:B", true), { state: "online", text: "online" });
  assert.deepStrictEqual(c.peerStatus(members, "aad:3:C", true), { state: "offline", text: "offline" });
  assert.deepStrictEqual(c.peerStatus(null, "aad:3:C", true).state, "offline");
  assert.deepStrictEqual(c.peerStatus(members, "github:2:B", false).state, "unknown");
  // A lobby past one listing names only some: absent says nothing, present is still online.
  assert.deepStrictEqual(c.peerStatus(members, "aad:3:C", true, true), { state: "unknown", text: "" });
  assert.deepStrictEqual(c.peerStatus(members, "github:2:B", true, true).state, "online");
});
