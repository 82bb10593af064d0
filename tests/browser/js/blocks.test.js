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
