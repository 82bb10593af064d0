// Unit tests for static/chat-identity.js (sign-in mode). Run: node --test tests/browser/js/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const identity = require(path.join(__dirname, "..", "..", "..", "static", "chat-identity.js"));
const core = require(path.join(__dirname, "..", "..", "..", "static", "chat-core.js"));

test("providersFromMeta: known providers only, in order, once", () => {
  assert.deepEqual(identity.providersFromMeta("aad github"), ["aad", "github"]);
  assert.deepEqual(identity.providersFromMeta(" github  aad github evil <b> "), ["github", "aad"]);
  assert.deepEqual(identity.providersFromMeta(""), []);
  assert.deepEqual(identity.providersFromMeta(undefined), []);
  assert.deepEqual(identity.providersFromMeta("constructor __proto__"), []);
});

test("parseUserId mirrors chat/identity.py", () => {
  assert.deepEqual(identity.parseUserId("github:583231:alice"), {
    idp: "github",
    id: "583231",
    name: "alice",
  });
  assert.deepEqual(identity.parseUserId("aad:a%3Ab:name%3A with colons%2C and a comma"), {
    idp: "aad",
    id: "a:b",
    name: "name: with colons, and a comma",
  });
  for (const bad of ["alice", "aad:x", "aad::x", "aad:x:", ":x:y", "A B:x:y", "aad:%E0%A4%A:x", "aad:1:a:b", 5, null]) {
    assert.equal(identity.parseUserId(bad), null, String(bad));
  }
});

test("isOwn: by user id when signed in, never by name", () => {
  const me = "aad:1:alice";
  assert.equal(identity.isOwn({ from: "alice", userId: me }, me, true), true);
  assert.equal(identity.isOwn({ from: "alice", userId: "github:2:alice" }, me, true), false);
  assert.equal(identity.isOwn({ from: me }, me, true), false); // no userId: not ours
  assert.equal(identity.isOwn({ from: "bob" }, "bob", false), true);
  assert.equal(identity.isOwn({ from: "bob" }, "", false), false);
});

test("login and logout URLs come back to this page only", () => {
  assert.equal(identity.returnPath({ pathname: "/api/index", search: "?room=a" }), "/api/index?room=a");
  assert.equal(identity.returnPath({ pathname: "//evil.example/", search: "" }), "/");
  assert.equal(
    identity.loginUrl("github", "/api/index?room=a"),
    "/.auth/login/github?post_login_redirect_uri=%2Fapi%2Findex%3Froom%3Da"
  );
  assert.equal(identity.logoutUrl("/api/index"), "/.auth/logout?post_logout_redirect_uri=%2Fapi%2Findex");
  assert.equal(identity.providerLabel("aad"), "Microsoft");
  assert.equal(identity.providerLabel("github"), "GitHub");
});

test("parseFrame keeps the sender's user id and provider when the server sends them", () => {
  const chat = core.parseFrame(
    JSON.stringify({ id: "1", from: "alice", userId: "github:2:alice", idp: "github", message: "hi", time: "" })
  );
  assert.equal(chat.userId, "github:2:alice");
  assert.equal(chat.idp, "github");
  const notice = core.parseFrame(
    JSON.stringify({ type: "system", event: "joined", user: "alice", userId: "aad:1:alice", idp: "aad" })
  );
  assert.equal(notice.userId, "aad:1:alice");
  const odd = core.parseFrame(JSON.stringify({ from: "x", message: "m", userId: 5, idp: {} }));
  assert.equal("userId" in odd, false);
  assert.equal("idp" in odd, false);
});

test("lookalikeWarning: only for a sender the server marked, and the mark survives parsing", () => {
  assert.match(identity.lookalikeWarning({ lookalike: true }), /look-alike/);
  for (const item of [{}, { lookalike: "true" }, { lookalike: 1 }, null, undefined]) {
    assert.equal(identity.lookalikeWarning(item), "");
  }
  const frame = { id: "1", from: "\u0430lice", userId: "github:1:%D0%B0lice", idp: "github" };
  assert.equal(core.parseFrame(JSON.stringify({ ...frame, message: "hi", lookalike: true })).lookalike, true);
  assert.equal("lookalike" in core.parseFrame(JSON.stringify({ ...frame, message: "hi" })), false);
  const notice = { type: "system", event: "joined", user: frame.userId, lookalike: true };
  assert.equal(core.parseFrame(JSON.stringify(notice)).lookalike, true);
});
