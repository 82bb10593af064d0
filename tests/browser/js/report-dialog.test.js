// Unit tests of static/report-dialog.js's pure parts under Node's test runner: the reason's
// counter (counted as the server counts: code points), the frame sent, and which received
// frame answers the report waiting in the dialog.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const r = require("../../../static/report-dialog.js");

test("the counter counts code points up to the server's 200", () => {
  assert.equal(r.MAX_REASON, 200);
  assert.deepEqual(r.counter(""), { text: "0 / 200", over: false });
  assert.deepEqual(r.counter("😀".repeat(200)), { text: "200 / 200", over: false });
  assert.deepEqual(r.counter("a".repeat(203)), { text: "203 / 200 (3 too many)", over: true });
  assert.equal(r.countChars("😀é"), 2);
  assert.equal(r.countChars(null), 0);
});

test("the frame carries the reason trimmed, an empty one too", () => {
  assert.deepEqual(r.reportFrame("dev", "m1", "  spam \n"), {
    type: "report",
    room: "dev",
    id: "m1",
    reason: "spam",
  });
  assert.equal(r.reportFrame("dev", "m1", undefined).reason, "");
});

test("only the answer to this report is shown in the dialog", () => {
  const thanks = {
    type: "system",
    event: "reported",
    room: "dev",
    id: "m1",
    message: "Thank you: the admins will look at it.",
  };
  assert.equal(r.answerText(thanks, "dev", "m1"), thanks.message);
  assert.equal(r.answerText({ ...thanks, id: "m2" }, "dev", "m1"), null);
  assert.equal(r.answerText({ ...thanks, room: "ops" }, "dev", "m1"), null);
  const refused = {
    type: "system",
    event: "rejected",
    room: "dev",
    message: "Not done: that message was deleted already.",
  };
  assert.equal(r.answerText(refused, "dev", "m1"), refused.message);
  assert.equal(r.answerText({ ...refused, room: "ops" }, "dev", "m1"), null);
  // A refusal of a message (slow mode) is not the report's.
  const slow = { ...refused, message: "Message not sent: dev is in slow mode." };
  assert.equal(r.answerText(slow, "dev", "m1"), null);
  assert.equal(r.answerText({ type: "message", message: "x" }, "dev", "m1"), null);
  assert.equal(r.answerText(null, "dev", "m1"), null);
});
