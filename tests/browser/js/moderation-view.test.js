// Unit tests of static/moderation-view.js's role rules (which member-menu entries the page
// offers) under Node's test runner. The server decides again; these only hide buttons.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const mod = require("../../../static/moderation-view.js");

const INFO = { owner: "aad:o:olivia", moderators: ["github:m:max"] };

test("roles come from the room's answer, and admins hold every room", () => {
  assert.equal(mod.roleOf(INFO, "aad:o:olivia", false), "owner");
  assert.equal(mod.roleOf(INFO, "github:m:max", false), "moderator");
  assert.equal(mod.roleOf(INFO, "github:x:sam", false), "member");
  assert.equal(mod.roleOf(null, "github:x:sam", false), "member");
  assert.equal(mod.roleOf(null, "aad:a:ada", true), "admin");
  assert.equal(mod.roleOf(INFO, "", true), "member"); // not signed in: nobody
});

function labels(mine, theirs) {
  return mod
    .moderationEntries({ room: "r", user: "u", who: "u", mine, theirs })
    .map((e) => e.label);
}

const ACTIONS = ["Kick", "Ban 10 min", "Ban 1 day", "Ban forever", "Mute 10 min", "Mute 1 h", "Unmute"];

test("each role acts only on lower ranks (the server's rule)", () => {
  const table = {
    member: { member: [], moderator: [], owner: [] },
    moderator: { member: ACTIONS, moderator: [], owner: [] },
    owner: {
      member: ACTIONS.concat(["Make moderator"]),
      moderator: ACTIONS.concat(["Remove moderator"]),
      owner: [],
    },
    admin: {
      member: ACTIONS.concat(["Make moderator"]),
      moderator: ACTIONS.concat(["Remove moderator"]),
      owner: ACTIONS,
    },
  };
  for (const [mine, row] of Object.entries(table)) {
    for (const [theirs, expected] of Object.entries(row)) {
      assert.deepEqual(labels(mine, theirs), expected, `${mine} on ${theirs}`);
    }
  }
});

test("the entries send the frames of docs/protocol.md", () => {
  const ctx = { room: "r", user: "u", who: "u", mine: "owner", theirs: "moderator" };
  const sent = Object.fromEntries(mod.moderationEntries(ctx).map((e) => [e.label, e.command(ctx)]));
  assert.deepEqual(sent["Kick"], { type: "kick", room: "r", user: "u" });
  assert.deepEqual(sent["Ban forever"], { type: "ban", room: "r", user: "u", minutes: null });
  assert.deepEqual(sent["Mute 1 h"], { type: "mute", room: "r", user: "u", minutes: 60 });
  assert.deepEqual(sent["Unmute"], { type: "unmute", room: "r", user: "u" });
  assert.deepEqual(sent["Remove moderator"], { type: "mod", room: "r", user: "u", on: false });
});

test("only our own copy of a moderation notice goes in the notice line", () => {
  const room = { type: "system", event: "moderation", action: "mute", room: "r", user: "me",
    message: "max was muted in r by olivia until …" };
  const ours = { ...room, message: "You were muted in r by olivia until …", personal: true };
  assert.equal(mod.personalNotice(ours, "me"), ours.message);
  assert.equal(mod.personalNotice(room, "me"), null); // the room's copy, arriving after ours
  assert.equal(mod.personalNotice(ours, "someone else"), null);
  assert.equal(mod.personalNotice({ ...ours, action: "topic" }, "me"), null);
  assert.equal(mod.personalNotice({ ...ours, message: 5 }, "me"), null);
  assert.equal(mod.personalNotice(null, "me"), null);
});
