/*
 * "Report" from a message's ⋯ menu (issue 19): a small dialog under the message asking for an
 * optional reason (at most 200 characters, counted as the server counts them, with a counter),
 * Send / Cancel, Esc cancels and focus goes back to the message's menu button. After Send it
 * stays open until the server answers, and shows that answer ("Thank you…" or why not). The
 * server checks everything again (chat/moderation.py `report`); the pure parts are usable
 * under Node (tests/browser/js/report-dialog.test.js). Exported as `window.ChatReportDialog`.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatReportDialog = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var MAX_REASON = 200; // chat/moderation.py MAX_REASON_LENGTH
  var SENDING = "Sending…";
  var NOT_SENT = "Not sent: the chat is not connected. Try again in a moment.";

  /** Length as the server counts it: code points (Python's len), not UTF-16 units. */
  function countChars(text) {
    return Array.from(String(text || "")).length;
  }

  /** The counter's text and whether the reason is too long: {text, over}. */
  function counter(text) {
    var n = countChars(text);
    var over = n > MAX_REASON;
    return {
      text: n + " / " + MAX_REASON + (over ? " (" + (n - MAX_REASON) + " too many)" : ""),
      over: over,
    };
  }

  /** The frame a report sends: the reason trimmed (an empty one is fine). */
  function reportFrame(room, id, reason) {
    return { type: "report", room: room, id: id, reason: String(reason || "").trim() };
  }

  /**
   * Whether a received frame answers a report of message `id` in `room` that is waiting for
   * its answer: the "reported" notice for that id, or a refusal about that room (or about no
   * room). Returns the text to show, or null.
   */
  function answerText(data, room, id) {
    if (!data || data.type !== "system" || typeof data.message !== "string") return null;
    if (data.event === "reported") return data.id === id && data.room === room ? data.message : null;
    if (data.event !== "rejected") return null;
    if (typeof data.room === "string" && data.room !== room) return null;
    return data.message.indexOf("Not done") === 0 ? data.message : null;
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  var serial = 0;

  /**
   * Build the dialog for `item` ({room, id, from}). opts: {send(frame) -> bool, close() (remove
   * it: the caller owns where it is), anchor (focus goes back there)}. Returns {element,
   * focus(), answer(data) -> bool}.
   */
  function build(item, opts) {
    serial += 1;
    var ids = "report-" + serial;
    var waiting = false;
    var box = node("form", "message-menu report-dialog");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", ids + "-title");
    box.dataset.testid = "report-dialog";
    box.noValidate = true;
    var title = node("p", "report-dialog-title", "Report this message to the admins");
    title.id = ids + "-title";
    var label = node("label", "report-dialog-label", "Reason (optional)");
    label.htmlFor = ids + "-reason";
    var input = node("textarea", "input report-reason");
    input.id = ids + "-reason";
    input.rows = 2;
    input.setAttribute("aria-describedby", ids + "-count " + ids + "-status");
    var count = node("span", "report-count", counter("").text);
    count.id = ids + "-count";
    var status = node("p", "report-status");
    status.id = ids + "-status";
    status.setAttribute("role", "status");
    var send = node("button", "menu-item report-send", "Send report");
    send.type = "submit";
    var cancel = node("button", "menu-item", "Cancel");
    cancel.type = "button";
    var buttons = node("div", "report-dialog-buttons");
    buttons.append(send, cancel);
    box.append(title, label, input, count, buttons, status);

    function close() {
      opts.close();
      if (opts.anchor) opts.anchor.focus();
    }

    input.addEventListener("input", function () {
      var shown = counter(input.value);
      count.textContent = shown.text;
      count.dataset.over = shown.over ? "true" : "false";
    });
    input.addEventListener("keydown", function (ev) {
      // Enter sends (as in the message box); Shift+Enter is a new line.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        box.requestSubmit();
      }
    });
    box.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (waiting) return;
      if (counter(input.value).over) {
        status.textContent = "The reason can be at most " + MAX_REASON + " characters.";
        input.focus();
        return;
      }
      if (!opts.send(reportFrame(item.room, item.id, input.value))) {
        status.textContent = NOT_SENT;
        return;
      }
      waiting = true;
      status.textContent = SENDING;
      input.readOnly = true;
      send.hidden = true;
      cancel.textContent = "Close";
      cancel.focus();
    });
    cancel.addEventListener("click", close);
    box.addEventListener("keydown", function (ev) {
      // The log walks its lines with the arrows, Home and End: not while typing a reason.
      ev.stopPropagation();
      if (ev.key === "Escape") {
        ev.preventDefault();
        close();
      } else if (ev.key === "Tab") {
        // Keep Tab inside the dialog while it is open (it is modal: Esc or Cancel leave it).
        var stops = [input, send, cancel].filter(function (n) {
          return !n.hidden;
        });
        var at = stops.indexOf(document.activeElement);
        var next = ev.shiftKey ? (at <= 0 ? stops.length - 1 : at - 1) : (at + 1) % stops.length;
        ev.preventDefault();
        stops[next].focus();
      }
    });

    return {
      element: box,
      focus: function () {
        input.focus();
      },
      /** A received frame: shown when it answers this report. True when it did. */
      answer: function (data) {
        if (!waiting) return false;
        var text = answerText(data, item.room, item.id);
        if (text === null) return false;
        waiting = false;
        status.textContent = text;
        box.dataset.answered = data.event === "reported" ? "reported" : "rejected";
        return true;
      },
    };
  }

  return {
    MAX_REASON: MAX_REASON,
    countChars: countChars,
    counter: counter,
    reportFrame: reportFrame,
    answerText: answerText,
    build: build,
  };
});
