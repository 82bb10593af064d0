/*
 * The connection status line while waiting to reconnect: "Reconnecting in 6 s…" counts down
 * every second instead of standing still until the next attempt.
 *
 * The status is a polite live region. A screen reader should hear "Reconnecting in 6 s…" once,
 * not every tick, so the ticks are written with the region switched off (aria-live="off") and
 * the next real state change switches it back on before writing.
 *
 * `secondsLeft` is pure (unit-tested under Node); `createCountdown` needs the DOM and timers.
 * Exported as `window.ChatStatusView`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatStatusView = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** Whole seconds to show until `deadline` (never 0: the attempt starts at the deadline). */
  function secondsLeft(deadline, now) {
    return Math.max(1, Math.ceil((deadline - now) / 1000));
  }

  /** Time until the shown number changes (plus a little, so it lands past the boundary). */
  function msToNextTick(deadline, now) {
    var rest = (deadline - now) % 1000;
    return (rest > 0 ? rest : 1000) + 20;
  }

  /**
   * countdown.show(text, deadline, format): write `text` (announced), then rewrite it with
   * format(secondsLeft) each second (not announced) until `deadline` or the next show/stop.
   * countdown.show(text) alone just writes it, announced.
   */
  function createCountdown(statusEl, timers) {
    var t = timers || window;
    var timer = null;

    function stop() {
      if (timer !== null) t.clearTimeout(timer);
      timer = null;
    }

    function show(text, deadline, format) {
      stop();
      statusEl.setAttribute("aria-live", "polite");
      statusEl.textContent = text;
      if (!deadline || !format) return;
      var tick = function () {
        var now = Date.now();
        if (now >= deadline) {
          timer = null;
          return;
        }
        statusEl.setAttribute("aria-live", "off");
        statusEl.textContent = format(secondsLeft(deadline, now));
        timer = t.setTimeout(tick, msToNextTick(deadline, now));
      };
      timer = t.setTimeout(tick, msToNextTick(deadline, Date.now()));
    }

    return { show: show, stop: stop };
  }

  return {
    secondsLeft: secondsLeft,
    msToNextTick: msToNextTick,
    createCountdown: createCountdown,
  };
});
