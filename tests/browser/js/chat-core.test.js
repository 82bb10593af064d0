// Unit tests for static/chat-core.js (pure functions). Run: node --test tests/browser/js/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const core = require(path.join(__dirname, "..", "..", "..", "static", "chat-core.js"));

test("parseFrame: chat message per the wire contract", () => {
  const item = core.parseFrame(
    JSON.stringify({ id: "c1", from: "alice", message: "hi <b>", time: "2024-05-01T10:00:00Z" })
  );
  assert.deepEqual(item, {
    kind: "chat",
    id: "c1",
    from: "alice",
    message: "hi <b>",
    time: "2024-05-01T10:00:00Z",
  });
});

test("parseFrame: joined / left notices", () => {
  for (const event of ["joined", "left"]) {
    const item = core.parseFrame(
      JSON.stringify({ type: "system", event, user: "bob", message: `bob ${event}`, id: "s1", time: "" })
    );
    assert.equal(item.kind, "system");
    assert.equal(item.event, event);
    assert.equal(item.user, "bob");
    assert.equal(item.message, `bob ${event}`);
    assert.equal(item.id, "s1");
  }
});

test("parseFrame: system notice without message gets a fallback text", () => {
  const item = core.parseFrame(JSON.stringify({ type: "system", event: "joined", user: "bob" }));
  assert.equal(item.message, "bob joined");
  assert.equal(item.id, "");
});

test("parseFrame: rejection carries the server's reason", () => {
  const item = core.parseFrame(
    JSON.stringify({ type: "system", event: "rejected", message: "message is too long" })
  );
  assert.deepEqual(item, { kind: "rejected", message: "message is too long" });
  const bare = core.parseFrame(JSON.stringify({ type: "system", event: "rejected" }));
  assert.equal(bare.kind, "rejected");
  assert.ok(bare.message.length > 0);
});

test("parseFrame: anything else is shown as plain text, never thrown on", () => {
  const cases = [
    "hello",
    "",
    "{not json",
    "[1,2]",
    "42",
    "null",
    '"a string"',
    JSON.stringify({ type: "other", message: "x" }),
    JSON.stringify({ from: "a", message: 5 }),
    JSON.stringify({ type: "system", event: "joined", user: 7 }).replace("7", "{}"),
  ];
  for (const raw of cases) {
    const item = core.parseFrame(raw);
    assert.ok(item && typeof item.kind === "string", raw);
    if (item.kind === "text") assert.equal(item.message, raw);
  }
  assert.equal(core.parseFrame("[1,2]").kind, "text");
  assert.equal(core.parseFrame("null").kind, "text");
});

test("parseFrame: chat without a sender still renders", () => {
  const item = core.parseFrame(JSON.stringify({ message: "anon" }));
  assert.equal(item.kind, "chat");
  assert.equal(item.from, "unknown");
  assert.equal(item.id, "");
});

test("parseTime: valid ISO, and a fallback for missing or bad input", () => {
  const fallback = new Date(0);
  assert.equal(core.parseTime("2024-05-01T10:00:00Z", fallback).toISOString(), "2024-05-01T10:00:00.000Z");
  assert.equal(core.parseTime("", fallback), fallback);
  assert.equal(core.parseTime("not a date", fallback), fallback);
  assert.equal(core.parseTime(undefined, fallback), fallback);
});

test("formatClock: short time, robust to a bad locale", () => {
  const d = new Date("2024-05-01T10:07:00Z");
  assert.match(core.formatClock(d, "en-GB"), /\d{2}:07/);
  assert.equal(core.formatClock(d, "not_a_locale!!"), "10:07");
});

test("validateName", () => {
  assert.deepEqual(core.validateName("  alice "), { ok: true, name: "alice" });
  assert.equal(core.validateName("").ok, false);
  assert.equal(core.validateName("   ").ok, false);
  assert.equal(core.validateName(undefined).ok, false);
  assert.equal(core.validateName("a".repeat(64)).ok, true);
  assert.equal(core.validateName("a".repeat(65)).ok, false);
  assert.equal(core.validateName("a\u0007b").ok, false);
  assert.equal(core.validateName("Zoë 漢字").ok, true);
});

test("backoffDelay: doubles from 1 s, caps at 30 s, jitter in the upper half", () => {
  const lo = (n) => core.backoffDelay(n, { random: () => 0 });
  const hi = (n) => core.backoffDelay(n, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(hi), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.deepEqual([0, 1, 2].map(lo), [500, 1000, 2000]);
  assert.equal(hi(1000), 30000);
  assert.equal(lo(1000), 15000);
  for (let i = 0; i < 200; i += 1) {
    const n = i % 8;
    const d = core.backoffDelay(n);
    assert.ok(d >= lo(n) && d <= hi(n), `${n}: ${d}`);
  }
  assert.equal(core.backoffDelay(-3, { random: () => 1 }), 1000);
});

test("negotiateUrl is relative and encodes the name", () => {
  assert.equal(core.negotiateUrl("a b&c=d/é"), "negotiate?id=a%20b%26c%3Dd%2F%C3%A9");
});

test("directUrl: needs both a non-empty meta and ?connect=direct", () => {
  const meta = "ws://localhost:8080/client/hubs/Sample_ChatApp";
  assert.equal(core.directUrl(meta, "?connect=direct", "a b"), meta + "?id=a%20b");
  assert.equal(core.directUrl(meta, "?x=1&connect=direct", "a"), meta + "?id=a");
  assert.equal(core.directUrl(meta + "?hub=x", "?connect=direct", "a"), meta + "?hub=x&id=a");
  assert.equal(core.directUrl(meta, "", "a"), "");
  assert.equal(core.directUrl(meta, "?connect=negotiate", "a"), "");
  assert.equal(core.directUrl("", "?connect=direct", "a"), "");
  assert.equal(core.directUrl("   ", "?connect=direct", "a"), "");
  assert.equal(core.directUrl(null, "?connect=direct", "a"), "");
});

test("socketUrlFromNegotiate", () => {
  assert.equal(core.socketUrlFromNegotiate('{"url":"wss://x/client/hubs/h?access_token=t"}'), "wss://x/client/hubs/h?access_token=t");
  assert.equal(core.socketUrlFromNegotiate('{"url":"https://x/c"}'), "wss://x/c");
  assert.equal(core.socketUrlFromNegotiate('{"url":"http://x/c"}'), "ws://x/c");
  for (const bad of ["", "nope", "{}", '{"url":5}', '{"url":"javascript:alert(1)"}', "[]", "null"]) {
    assert.throws(() => core.socketUrlFromNegotiate(bad), Error, bad);
  }
});

test("userIdFromSocketUrl reads the token's sub claim", () => {
  const b64 = (s) => Buffer.from(s).toString("base64url");
  const token = `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify({ sub: "Zoë", aud: "x" }))}.sig`;
  assert.equal(core.userIdFromSocketUrl(`ws://h/client/hubs/x?access_token=${token}`), "Zoë");
  assert.equal(core.userIdFromSocketUrl("ws://h/client/hubs/x?id=a"), "");
  assert.equal(core.userIdFromSocketUrl("ws://h/x?access_token=abc"), "");
  assert.equal(core.userIdFromSocketUrl("ws://h/x?access_token=a.!!!.c"), "");
  assert.equal(core.userIdFromSocketUrl("not a url"), "");
});

test("isRetryableStatus", () => {
  assert.equal(core.isRetryableStatus(400), false);
  assert.equal(core.isRetryableStatus(403), false);
  assert.equal(core.isRetryableStatus(408), true);
  assert.equal(core.isRetryableStatus(429), true);
  assert.equal(core.isRetryableStatus(500), true);
  assert.equal(core.isRetryableStatus(503), true);
});

test("createSeenIds drops repeats and forgets the oldest beyond its limit", () => {
  const seen = core.createSeenIds(3);
  assert.equal(seen.add("a"), true);
  assert.equal(seen.add("a"), false);
  assert.equal(seen.add(""), true);
  assert.equal(seen.add(""), true);
  seen.add("b");
  seen.add("c");
  seen.add("d");
  assert.equal(seen.size, 3);
  assert.equal(seen.has("a"), false);
  assert.equal(seen.add("d"), false);
});

test("names and ids that every object has are data like any other (issue 15)", () => {
  for (const name of ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"]) {
    const chat = core.parseFrame(JSON.stringify({ id: name, from: name, message: name }));
    assert.equal(chat.kind, "chat");
    assert.equal(chat.id, name);
    assert.equal(chat.from, name);
    const joined = core.parseFrame(JSON.stringify({ type: "system", event: "joined", user: name }));
    assert.equal(joined.user, name);
    assert.equal(joined.message, `${name} joined`);
    const seen = core.createSeenIds();
    assert.equal(seen.add(name), true);
    assert.equal(seen.add(name), false);
  }
  // A "__proto__" key in a frame is only an own key of the parsed object: it neither
  // makes the frame a system notice nor reaches Object.prototype.
  const sneaky = '{"__proto__":{"type":"system","event":"rejected"},"from":"a","message":"m"}';
  assert.equal(core.parseFrame(sneaky).kind, "chat");
  assert.equal({}.event, undefined);
});

test("isNearBottom", () => {
  assert.equal(core.isNearBottom(600, 400, 1000), true);
  assert.equal(core.isNearBottom(560, 400, 1000), true);
  assert.equal(core.isNearBottom(0, 400, 1000), false);
  assert.equal(core.isNearBottom(0, 400, 300), true);
});

test("describeState", () => {
  assert.equal(core.describeState("connecting"), "Connecting…");
  assert.equal(core.describeState("connected", { name: "al" }), "Connected as al");
  assert.equal(core.describeState("reconnecting", { delayMs: 4100 }), "Reconnecting in 5 s…");
  assert.equal(core.describeState("reconnecting", { delayMs: 0 }), "Reconnecting in 1 s…");
  assert.equal(core.describeState("disconnected"), "Disconnected");
  assert.equal(core.describeState("disconnected", { reason: "bad" }), "Disconnected: bad");
});
