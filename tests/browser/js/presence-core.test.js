// Unit tests of the pure parts of static/presence-core.js, status-view.js, notify.js and
// first-visit.js under Node's built-in test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const presence = require("../../../static/presence-core.js");
const statusView = require("../../../static/status-view.js");
const notify = require("../../../static/notify.js");
const firstVisit = require("../../../static/first-visit.js");
const identity = require("../../../static/chat-identity.js");

test("members are keyed by user id: one name, two accounts, two entries", () => {
  const users = ["github:2:pat", "aad:1:pat", "aad:1:pat", "aad:3:ann", "", 7];
  const entries = presence.memberEntries(users, "github:2:pat", identity.parseUserId);
  assert.deepEqual(
    entries.map((e) => [e.name, e.idp, e.me]),
    [
      ["ann", "aad", false],
      ["pat", "aad", false],
      ["pat", "github", true],
    ]
  );
});

test("without sign-in the id is the name, and data names stay data", () => {
  const entries = presence.memberEntries(["__proto__", "constructor", "bob"], "bob", null);
  assert.deepEqual(
    entries.map((e) => [e.userId, e.name, e.me]),
    [
      ["__proto__", "__proto__", false],
      ["bob", "bob", true],
      ["constructor", "constructor", false],
    ]
  );
});

test("the count says accounts or names, and nothing while disconnected", () => {
  assert.equal(presence.countLabel(2, true, true), "2 here");
  assert.equal(presence.countLabel(1, false, true), "1 name here");
  assert.equal(presence.countLabel(3, false, true), "3 names here");
  assert.equal(presence.countLabel(3, false, false), "Members (not connected)");
  assert.equal(presence.countLabel(3, true, false), "Members (not connected)");
});

test("a join is news only for someone not listed", () => {
  assert.equal(presence.isNewJoin(["a"], "joined", "a"), false);
  assert.equal(presence.isNewJoin(["a"], "joined", "b"), true);
  assert.equal(presence.isNewJoin(["a"], "left", "a"), true);
  assert.equal(presence.isNewJoin([], "joined", "__proto__"), true);
});

test("the echo of a sent line is known by its text as the server cleans it", () => {
  assert.equal(presence.normaliseText("\t hi\u200b there \u202e"), "hi there");
  assert.equal(presence.normaliseText("e\u0301"), "\u00e9");
});

test("the sent tracker claims this tab's echoes once, by tag or by room and text", () => {
  let now = 1000;
  const sent = presence.createSentTracker({ now: () => now, random: () => 0.5 });
  const tag = sent.send("lobby", " hello ");
  assert.match(tag, /^[0-9a-f]{16}$/);
  // Someone else's line, or another room, is not ours.
  assert.equal(sent.claim({ id: "x", message: "hello" }, "dev"), false);
  assert.equal(sent.claim({ id: "a", message: "hello" }, "lobby"), true);
  assert.equal(sent.claim({ id: "b", message: "hello" }, "lobby"), false, "claimed once");
  assert.equal(sent.isMine("a"), true);
  assert.equal(sent.claim({ id: "a", message: "hello" }, "lobby"), true, "a repeat of our id");
  // The server's echoed tag, when it sends one, decides over the text.
  const t2 = sent.send("lobby", "same");
  assert.equal(sent.claim({ id: "c", message: "same", tag: "other" }, "lobby"), false);
  assert.equal(sent.claim({ id: "d", message: "whatever", tag: t2 }, "lobby"), true);
  // A send whose echo never came is forgotten after a minute.
  sent.send("lobby", "lost");
  now += presence.PENDING_MS + 1;
  assert.equal(sent.claim({ id: "e", message: "lost" }, "lobby"), false);
  assert.deepEqual(sent.ids(), ["a", "d"]);
  // Ids survive a reload through the tab's session.
  const again = presence.createSentTracker({ ids: sent.ids().concat([5]) });
  assert.equal(again.isMine("d"), true);
  assert.equal(again.isMine("5"), false);
});

test("own, same name or other", () => {
  const line = (from, userId) => ({ from, userId });
  assert.equal(presence.ownership(line("pat"), "pat", false, true), "own");
  assert.equal(presence.ownership(line("pat"), "pat", false, false), "same-name");
  assert.equal(presence.ownership(line("ann"), "pat", false, false), "other");
  // Signed in, the user id is the account: every tab of it is "own", another account is not.
  assert.equal(presence.ownership(line("pat", "aad:1:pat"), "aad:1:pat", true, false), "own");
  assert.equal(presence.ownership(line("pat", "github:2:pat"), "aad:1:pat", true, true), "other");
  assert.equal(presence.ownership(line("pat"), "", false, true), "other");
});

test("the reconnect wait counts whole seconds down to 1", () => {
  assert.equal(statusView.secondsLeft(10000, 4000), 6);
  assert.equal(statusView.secondsLeft(10000, 4001), 6);
  assert.equal(statusView.secondsLeft(10000, 5000), 5);
  assert.equal(statusView.secondsLeft(10000, 9999), 1);
  assert.equal(statusView.secondsLeft(10000, 12000), 1);
  assert.equal(statusView.msToNextTick(10000, 4000), 1020);
  assert.equal(statusView.msToNextTick(10000, 4300), 720);
});

test("the title counts unread", () => {
  assert.equal(notify.titleFor("Chat", 0), "Chat");
  assert.equal(notify.titleFor("Chat", 3), "(3) Chat");
  assert.equal(notify.titleFor("Chat", 250), "(99+) Chat");
});

test("the title's count: the unread total plus what the open room got while hidden", () => {
  const step = (state, ...changes) => changes.reduce(notify.titleState, state);
  const start = notify.titleState(null, null);
  assert.deepEqual(start, { unread: 0, away: 0 });
  // /api/me/rooms says 3; two lines arrive in the open room while hidden, one while shown.
  let s = step(start, { type: "unread", total: 3 }, { type: "arrived", hidden: true });
  s = step(s, { type: "arrived", hidden: true }, { type: "arrived", hidden: false });
  assert.equal(notify.titleCount(s), 5);
  // Back in the tab: the open room's lines are seen; the other rooms' total stays.
  const shown = step(s, { type: "seen" });
  assert.deepEqual(shown, { unread: 3, away: 0 });
  assert.equal(notify.titleFor("Chat", notify.titleCount(shown)), "(3) Chat");
  // Read on another device: the page feeds the new total (a new total never resets `away`).
  assert.deepEqual(step(s, { type: "unread", total: 0 }), { unread: 0, away: 2 });
  assert.equal(notify.titleCount(step(s, { type: "unread", total: 0 }, { type: "seen" })), 0);
  assert.deepEqual(step(s, { type: "clear" }), { unread: 0, away: 0 });
  // Nothing odd counts: the input state is never changed, bad totals are 0, unknown changes no-ops.
  assert.deepEqual(s, { unread: 3, away: 2 });
  for (const bad of [-1, 1.5, "4", NaN, Infinity, null, undefined, {}]) {
    assert.equal(step(s, { type: "unread", total: bad }).unread, 0);
  }
  assert.deepEqual(step(s, { type: "nope" }, null, "seen", []), s);
  assert.equal(notify.titleCount({ unread: "9", away: -2 }), 0);
});

test("only mentions and direct messages deserve a notification", () => {
  const mention = notify.notificationFor(
    JSON.stringify({ type: "mention", room: "dev", from: "zed", message: "@pat look", id: "1" })
  );
  assert.deepEqual(mention, {
    title: "zed mentioned you in dev",
    body: "@pat look",
    tag: "mention:1",
    room: "dev",
  });
  const dm = notify.notificationFor(
    JSON.stringify({ room: "dm-zed", from: "aad:1:zed", kind: "dm", message: "x".repeat(300) }),
    (id) => identity.parseUserId(id).name
  );
  assert.equal(dm.title, "Message from zed");
  assert.equal(dm.body.length, 140);
  assert.equal(notify.notificationFor(JSON.stringify({ room: "dev", from: "a", message: "hi" })), null);
  assert.equal(notify.notificationFor("<b>not json</b>"), null);
  assert.equal(notify.notificationFor("[1]"), null);
});

test("the hint's link is this page's address with the room", () => {
  const here = { origin: "http://localhost:7071", pathname: "/api/index" };
  assert.equal(firstVisit.roomLink(here, "lobby", "lobby"), "http://localhost:7071/api/index#room=design");
  assert.equal(firstVisit.roomLink(here, "dev-2", "lobby"), "http://localhost:7071/api/index#room=dev-2");
  // A direct conversation is not shareable: the example room's link, as in the lobby.
  const dm = "dm-" + "0a".repeat(16);
  assert.equal(firstVisit.roomLink(here, dm, "lobby"), "http://localhost:7071/api/index#room=design");
});
