/*
 * Slow mode on the page (issue 19): everyone sees "Slow mode: one message every N s" under the
 * room's name, and after posting (or when the server refuses with "Wait W s") the wait counts
 * down under the message box; moderators get a control to set it (0-21,600 s). The server
 * enforces every part (chat/moderation.py): the countdown is a courtesy, never a gate, so the
 * box stays usable and the server's refusal remains the word that counts.
 * The pure parts run under Node (tests/browser/js/slow-mode.test.js); `create` wires them.
 * Exported as `window.ChatSlowMode`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatSlowMode = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var MAX_SECONDS = 21600; // the server's bound (Discord's too)
  var CHOICES = [
    { label: "Off", seconds: 0 },
    { label: "5 s", seconds: 5 },
    { label: "30 s", seconds: 30 },
    { label: "1 min", seconds: 60 },
    { label: "5 min", seconds: 300 },
    { label: "1 h", seconds: 3600 },
  ];
  var WAIT = /is in slow mode \(one message per (\d+) s\)\. Wait (\d+) s\./;

  /** Whole seconds 0..MAX_SECONDS from a text field, or null (said why by `customProblem`). */
  function parseSeconds(text) {
    var t = String(text == null ? "" : text).trim();
    if (!/^\d{1,5}$/.test(t)) return null;
    var n = Number(t);
    return n <= MAX_SECONDS ? n : null;
  }

  function customProblem(text) {
    return parseSeconds(text) === null
      ? "Slow mode takes whole seconds from 0 to " + MAX_SECONDS + " (6 h)."
      : "";
  }

  /** The indicator's text: "" when slow mode is off. */
  function indicator(seconds) {
    var n = Number(seconds) || 0;
    return n > 0 ? "Slow mode: one message every " + n + " s" : "";
  }

  /** {every, wait} from the server's slow-mode refusal, or null for any other text. */
  function parseRefusal(message) {
    var m = WAIT.exec(String(message || ""));
    return m ? { every: Number(m[1]), wait: Number(m[2]) } : null;
  }

  /** The composer's countdown text for `ms` left: "" once it is over. */
  function waitText(ms) {
    var s = Math.ceil(ms / 1000);
    return s > 0 ? "Slow mode: you can post again in " + s + " s" : "";
  }

  /** The choice for `seconds`, or "custom". */
  function choiceOf(seconds) {
    for (var i = 0; i < CHOICES.length; i += 1) {
      if (CHOICES[i].seconds === seconds) return String(seconds);
    }
    return "custom";
  }

  /**
   * deps: {indicator: element, wait: element (the composer's countdown), now() -> ms}.
   * Rooms are told their seconds by `show`; `posted`/`refused` start a room's countdown.
   */
  function create(deps) {
    var now = deps.now || Date.now;
    var waits = new Map(); // room -> ms when this person may post again (as far as we know)
    var shown = ""; // the room on screen
    var timer = 0;

    function tick() {
      var until = waits.get(shown) || 0;
      var text = waitText(until - now());
      deps.wait.textContent = text;
      deps.wait.hidden = !text;
      window.clearTimeout(timer);
      timer = 0;
      // Wake when the shown whole second changes.
      if (text) timer = window.setTimeout(tick, ((until - now()) % 1000 || 1000) + 5);
      else waits.delete(shown);
    }

    /** The room on screen: its seconds (0: off) on the indicator, its countdown under the box. */
    function show(room, seconds) {
      shown = room;
      var text = indicator(seconds);
      deps.indicator.textContent = text;
      deps.indicator.hidden = !text;
      tick();
    }

    /** We posted in `room` (our echo): the next is allowed `seconds` later, unless exempt. */
    function posted(room, seconds, exempt) {
      if (exempt || !(seconds > 0)) return;
      waits.set(room, now() + seconds * 1000);
      if (room === shown) tick();
    }

    /** A refusal's text: true (and the countdown started) when it was slow mode's. */
    function refused(room, message) {
      var r = parseRefusal(message);
      if (!r) return false;
      waits.set(room, now() + r.wait * 1000);
      if (room === shown) tick();
      return true;
    }

    /**
     * The moderators' control: a choice of durations plus a custom number of seconds, and Set.
     * `send(seconds)` sends the command.
     */
    function control(current, send) {
      var box = document.createElement("div");
      box.className = "slow-control";
      var id = "slow-choice";
      var label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = "Slow mode";
      var select = document.createElement("select");
      select.id = id;
      select.className = "input slow-choice";
      select.dataset.testid = "slow-choice";
      CHOICES.concat([{ label: "Custom…", seconds: "custom" }]).forEach(function (c) {
        var o = document.createElement("option");
        o.value = String(c.seconds);
        o.textContent = c.label;
        select.append(o);
      });
      select.value = choiceOf(current);
      var custom = document.createElement("input");
      custom.type = "number";
      custom.min = "0";
      custom.max = String(MAX_SECONDS);
      custom.step = "1";
      custom.inputMode = "numeric";
      custom.id = "slow-custom";
      custom.className = "input slow-custom";
      custom.dataset.testid = "slow-custom";
      custom.setAttribute("aria-label", "Seconds between messages (0 to " + MAX_SECONDS + ")");
      custom.value = String(current || 0);
      custom.hidden = select.value !== "custom";
      var set = document.createElement("button");
      set.type = "button";
      set.className = "btn btn-small";
      set.textContent = "Set";
      set.dataset.testid = "slow-set";
      set.setAttribute("aria-label", "Set slow mode");
      var error = document.createElement("p");
      error.className = "field-error";
      error.dataset.testid = "slow-error";
      error.setAttribute("aria-live", "assertive");
      error.id = "slow-error";
      custom.setAttribute("aria-describedby", error.id);
      select.addEventListener("change", function () {
        custom.hidden = select.value !== "custom";
        error.textContent = "";
        if (!custom.hidden) custom.focus();
      });
      function apply() {
        var text = select.value === "custom" ? custom.value : select.value;
        var problem = customProblem(text);
        error.textContent = problem;
        if (!problem) send(parseSeconds(text));
      }
      set.addEventListener("click", apply);
      custom.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          ev.preventDefault();
          apply();
        }
      });
      box.append(label, select, custom, set, error);
      return box;
    }

    return { show: show, posted: posted, refused: refused, control: control };
  }

  return {
    MAX_SECONDS: MAX_SECONDS,
    CHOICES: CHOICES,
    parseSeconds: parseSeconds,
    customProblem: customProblem,
    indicator: indicator,
    parseRefusal: parseRefusal,
    waitText: waitText,
    choiceOf: choiceOf,
    create: create,
  };
});
