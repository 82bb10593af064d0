// Unit tests of static/slow-mode.js (slow mode's pure parts) under Node's test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const slow = require("../../../static/slow-mode.js");

test("custom seconds are whole numbers from 0 to 21,600 (the server's bound)", () => {
  assert.equal(slow.parseSeconds("0"), 0);
  assert.equal(slow.parseSeconds(" 45 "), 45);
  assert.equal(slow.parseSeconds("21600"), 21600);
  for (const bad of ["", "21601", "-5", "1.5", "1e3", "ten", "99999999", null]) {
    assert.equal(slow.parseSeconds(bad), null, String(bad));
    assert.match(slow.customProblem(bad), /whole seconds from 0 to 21600/);
  }
  assert.equal(slow.customProblem("30"), "");
});

test("the indicator says the rate, and nothing when slow mode is off", () => {
  assert.equal(slow.indicator(30), "Slow mode: one message every 30 s");
  assert.equal(slow.indicator(0), "");
  assert.equal(slow.indicator(undefined), "");
});

test("the server's refusal gives the wait; other refusals give nothing", () => {
  const text = "Message not sent: modroom is in slow mode (one message per 30 s). Wait 17 s.";
  assert.deepEqual(slow.parseRefusal(text), { every: 30, wait: 17 });
  assert.equal(slow.parseRefusal("Message not sent: you are muted in modroom until it is lifted."), null);
  assert.equal(slow.parseRefusal(undefined), null);
});

test("the countdown rounds up and ends at zero", () => {
  assert.equal(slow.waitText(12001), "Slow mode: you can post again in 13 s");
  assert.equal(slow.waitText(1000), "Slow mode: you can post again in 1 s");
  assert.equal(slow.waitText(0), "");
  assert.equal(slow.waitText(-50), "");
});

test("the control's choice for a room's seconds", () => {
  assert.equal(slow.choiceOf(0), "0");
  assert.equal(slow.choiceOf(3600), "3600");
  assert.equal(slow.choiceOf(45), "custom");
  assert.deepEqual(slow.CHOICES.map((c) => c.seconds), [0, 5, 30, 60, 300, 3600]);
});
