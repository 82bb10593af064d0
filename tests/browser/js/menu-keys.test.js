// Unit tests of static/menu-keys.js (the small menus' arrow keys) under Node's test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const keys = require("../../../static/menu-keys.js");

test("the arrows move one item and wrap at either end", () => {
  assert.equal(keys.move("ArrowDown", 0, 3), 1);
  assert.equal(keys.move("ArrowDown", 2, 3), 0);
  assert.equal(keys.move("ArrowUp", 0, 3), 2);
  assert.equal(keys.move("ArrowUp", 2, 3), 1);
  assert.equal(keys.move("ArrowRight", 1, 3), 2);
  assert.equal(keys.move("ArrowLeft", 1, 3), 0);
});

test("Home and End jump; from outside the items the arrows enter at an end", () => {
  assert.equal(keys.move("Home", 2, 4), 0);
  assert.equal(keys.move("End", 0, 4), 3);
  assert.equal(keys.move("ArrowDown", -1, 4), 0);
  assert.equal(keys.move("ArrowUp", -1, 4), 3);
  assert.equal(keys.move("ArrowDown", 9, 4), 0); // a stale index is "outside"
});

test("other keys and empty menus are not the menu's business", () => {
  for (const key of ["Enter", " ", "Escape", "Tab", "a"]) assert.equal(keys.move(key, 0, 3), -1);
  assert.equal(keys.move("ArrowDown", 0, 0), -1);
});
