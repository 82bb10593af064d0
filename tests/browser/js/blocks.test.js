"use strict";
const test = require("node:test");
const assert = require("node:assert");
const b = require("../../../static/blocks.js");

test("a block is by account: the name part of a user id does not matter", () => {
  assert.strictEqual(b.accountOf("aad:a-1:Alice"), "aad:a-1");
  assert.strictEqual(b.accountOf("aad:a-1:Someone else"), "aad:a-1");
  for (const bad of ["alice", "", null, 5, "aad::x", ":x:y", "a:b:c:d"]) {
    assert.strictEqual(b.accountOf(bad), "", String(bad));
  }
});

test("the list and the frames are checked", () => {
  assert.deepStrictEqual(
    b.parseList({ blocks: [{ userId: "github:2:Bob" }, { userId: "bob" }, null, 7] }),
    ["github:2"]
  );
  assert.deepStrictEqual(b.parseList({ blocks: "no" }), []);
  assert.deepStrictEqual(b.parseList(null), []);
  assert.deepStrictEqual(b.parseFrame({ type: "block", user: "github:2:Bob" }), {
    kind: "block",
    account: "github:2",
  });
  assert.strictEqual(b.parseFrame({ type: "unblock", user: "bob" }), null);
  assert.strictEqual(b.parseFrame({ type: "message", user: "github:2:Bob" }), null);
});

test("frames from another tab update what is hidden", () => {
  let changes = 0;
  const view = b.create({ fetch: null, send: null, onChange: () => (changes += 1) });
  const line = { kind: "chat", userId: "github:2:Robert" };
  assert.strictEqual(view.hides(line), false);
  assert.strictEqual(view.frame({ type: "block", user: "github:2:Bob" }), true);
  assert.strictEqual(view.hides(line), true);
  assert.strictEqual(view.hides({ kind: "system", userId: "github:2:Bob" }), false);
  assert.strictEqual(view.frame({ type: "unblock", user: "github:2:Bob" }), true);
  assert.strictEqual(view.hides(line), false);
  assert.strictEqual(view.frame({ type: "system" }), false);
  assert.strictEqual(changes, 2);
});

test("Block / Unblock is a member-menu entry, never on yourself", () => {
  assert.deepStrictEqual(b.blockEntry("github:2:Bob", "Bob", "aad:1:Ann", false), {
    label: "Block",
    aria: "Block Bob",
    command: { type: "block", user: "github:2:Bob" },
  });
  assert.deepStrictEqual(b.blockEntry("github:2:Bob", "Bob", "aad:1:Ann", true).command, {
    type: "unblock",
    user: "github:2:Bob",
  });
  // Yourself under another name, a chosen name (no account), nothing: no entry.
  assert.strictEqual(b.blockEntry("aad:1:Annie", "Annie", "aad:1:Ann", false), null);
  assert.strictEqual(b.blockEntry("bob", "bob", "aad:1:Ann", false), null);
  assert.strictEqual(b.blockEntry(undefined, "", "aad:1:Ann", false), null);

  const sent = [];
  const view = b.create({
    fetch: null,
    send: (frame) => sent.push(frame),
    me: () => "aad:1:Ann",
    onChange: () => {},
  });
  const [entry] = view.memberEntries({ room: "r", user: "github:2:Bob", who: "Bob" });
  assert.strictEqual(entry.label, "Block");
  entry.run();
  view.frame({ type: "block", user: "github:2:Bob" });
  const [again] = view.memberEntries({ room: "r", user: "github:2:Bob", who: "Bob" });
  assert.strictEqual(again.aria, "Unblock Bob");
  assert.deepStrictEqual(view.memberEntries({ room: "r", user: "aad:1:Ann", who: "Ann" }), []);
  assert.deepStrictEqual(sent, [{ type: "block", user: "github:2:Bob" }]);
});
