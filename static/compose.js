/*
 * The message box: Enter sends, Shift+Enter starts a new line, the box grows with its text up
 * to a limit (the stylesheet's max-height), a counter appears near the length limit, a blank
 * box is never sent, and text the server refused comes back into the box.
 *
 * The pure parts (counting, key decisions, the queue of sent texts) run under Node too
 * (`node --test tests/browser/js/`); `attach` wires them to the page's elements.
 * Exported as `window.ChatCompose`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatCompose = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /**
   * The server's default length limit (ChatMaxMessageLength, chat/settings.py), used when the
   * page does not say the configured one (its chat-max-message-length meta, `maxFromMeta`).
   * Only the counter's yardstick: over-long text is still sent, and the server's answer (with
   * its real limit) is what counts.
   */
  var MAX_LENGTH = 2000;
  /** The most ChatMaxMessageLength may be (chat/settings.py): a bigger meta value is not it. */
  var MAX_CONFIGURABLE = 16000;
  /** The counter shows from this share of the limit on. */
  var SHOW_FROM = 0.8;
  /** Sent texts still waiting for their echo or refusal; a bound so nothing grows forever. */
  var MAX_PENDING = 100;

  // What chat/text_rules.py's clean_message() drops: control characters but the line feed, and the
  // bidi embeddings, overrides, isolates, line/paragraph separators and the BOM.
  var DROPPED =
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/g;

  /**
   * The text as the server will keep it: tabs become spaces, dropped characters go, the ends
   * are trimmed and the result is in NFC (the server composes it: "e" + U+0301 is one "é").
   * JavaScript's trim and Python's strip agree on everything a keyboard types.
   */
  function serverText(raw) {
    var text = String(raw == null ? "" : raw).replace(/\t/g, " ").replace(DROPPED, "");
    text = text.trim();
    return typeof text.normalize === "function" ? text.normalize("NFC") : text;
  }

  /**
   * The limit the server advertises in the page (`<meta name="chat-max-message-length">`):
   * a whole number 1-16,000, else the default (no meta, an empty one, or anything odd).
   */
  function maxFromMeta(content) {
    var text = String(content == null ? "" : content).trim();
    if (!/^[0-9]{1,5}$/.test(text)) return MAX_LENGTH;
    var n = Number(text);
    return n >= 1 && n <= MAX_CONFIGURABLE ? n : MAX_LENGTH;
  }

  /** Length as the server counts it: code points (Python's len), not UTF-16 units. */
  function countChars(raw) {
    return Array.from(serverText(raw)).length;
  }

  /** Nothing the server would keep: the page does not send it (and logs nothing). */
  function isBlank(raw) {
    return serverText(raw) === "";
  }

  function grouped(n) {
    // "2,100" whatever the reader's locale: plain and predictable next to the server's wording.
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /**
   * What the counter shows for a count: hidden below 80 % of the limit, "1,700 / 2,000" near
   * it, and "2,100 / 2,000 (100 too many)" past it.
   * Returns {state: "hidden"|"near"|"over", text}.
   */
  function counter(count, max) {
    var limit = max || MAX_LENGTH;
    if (count <= limit * SHOW_FROM) return { state: "hidden", text: "" };
    var text = grouped(count) + " / " + grouped(limit);
    if (count <= limit) return { state: "near", text: text };
    return { state: "over", text: text + " (" + grouped(count - limit) + " too many)" };
  }

  /**
   * What a key in the box does: "send" for Enter alone; null otherwise (Shift+Enter and
   * everything else keep the textarea's own behaviour: Shift+Enter is a new line). An Enter
   * that confirms an input method's composition (Chinese, Japanese, ...) is not a send.
   */
  function keyAction(event) {
    if (!event || event.key !== "Enter") return null;
    if (event.isComposing || event.keyCode === 229) return null;
    if (event.shiftKey || event.altKey) return null;
    return "send";
  }

  /** The box after refused text comes back: the text alone, or after what is there already. */
  function restoreInto(current, text) {
    if (!text) return current;
    return current ? current + "\n" + text : text;
  }

  /**
   * Whether a refusal is about a chat message (the server words all of those "Message not
   * sent: ..."); refusals of a join, a leave or a typing notice answer no text of ours.
   */
  function refusesMessage(reason) {
    return /^Message not sent\b/.test(String(reason || ""));
  }

  /**
   * The texts sent and not yet answered, oldest first, each with the tag sent along with it.
   * The server echoes the tag on the message's broadcast and on its refusal, so both are
   * matched exactly. A frame without a tag (an older server) falls back to order: the server
   * handles one connection's events in order (its connection state depends on it) and
   * answers each message with its echo (a chat line from us, broadcast before the answer) or,
   * to us alone, a refusal; so an untagged refusal belongs to the oldest text still waiting,
   * and an untagged echo is matched by its text (as the server keeps it). Texts older than
   * the one echoed were answered already (in a way not recognised), so they go too, and a
   * later refusal cannot bring back a text that was delivered.
   */
  function createPending() {
    var waiting = [];

    function indexOf(tag) {
      for (var i = 0; i < waiting.length; i += 1) if (waiting[i].tag === tag) return i;
      return -1;
    }

    return {
      sent: function (text, tag) {
        waiting.push({ text: text, tag: tag || "" });
        if (waiting.length > MAX_PENDING) waiting.shift();
      },
      /** Our own message came back (with its tag when the server echoes it): it was accepted. */
      echoed: function (message, tag) {
        var at = tag ? indexOf(tag) : -1;
        var kept = serverText(message);
        for (var i = 0; i < waiting.length && at === -1 && !tag; i += 1) {
          if (serverText(waiting[i].text) === kept) at = i;
        }
        if (at === -1) return false;
        waiting.splice(0, at + 1);
        return true;
      },
      /**
       * The server refused a message: the text it was (the one its tag names, else the
       * oldest), or "" when none is waiting. A tag naming no waiting text is not ours.
       */
      refused: function (tag) {
        if (!tag) return waiting.length ? waiting.shift().text : "";
        var at = indexOf(tag);
        return at === -1 ? "" : waiting.splice(at, 1)[0].text;
      },
      /** The connection dropped: nothing sent on it will be answered. All of them, oldest first. */
      takeAll: function () {
        var all = waiting;
        waiting = [];
        return all.map(function (w) {
          return w.text;
        });
      },
      get size() {
        return waiting.length;
      },
    };
  }

  /**
   * Wire the box (a textarea in a form) and its counter element: Enter submits the form,
   * the box grows with its content, the counter follows the text. Returns {refresh}, to call
   * after the page changes the box's value itself.
   */
  function attach(box, counterEl, options) {
    var opts = options || {};
    var max = opts.max || MAX_LENGTH;

    /** Grow (or shrink) to the text; the stylesheet's max-height caps it, then it scrolls. */
    function fit() {
      // Back to its natural one-row height, then as tall as the text if that is more.
      // CSSOM, not a style attribute: allowed by the page's CSP (style-src 'self').
      box.style.height = "";
      if (box.scrollHeight > box.clientHeight) {
        var borders = box.offsetHeight - box.clientHeight;
        box.style.height = box.scrollHeight + borders + "px";
      }
    }

    function refresh() {
      fit();
      var shown = counter(countChars(box.value), max);
      counterEl.textContent = shown.text;
      counterEl.dataset.state = shown.state;
      counterEl.hidden = shown.state === "hidden";
      box.setAttribute("aria-invalid", shown.state === "over" ? "true" : "false");
      if (opts.onChange) opts.onChange(isBlank(box.value));
    }

    box.addEventListener("keydown", function (event) {
      if (keyAction(event) !== "send") return;
      event.preventDefault();
      box.form.requestSubmit();
    });
    box.addEventListener("input", refresh);
    refresh();
    return { refresh: refresh };
  }

  return {
    MAX_LENGTH: MAX_LENGTH,
    maxFromMeta: maxFromMeta,
    serverText: serverText,
    countChars: countChars,
    isBlank: isBlank,
    counter: counter,
    keyAction: keyAction,
    refusesMessage: refusesMessage,
    restoreInto: restoreInto,
    createPending: createPending,
    attach: attach,
  };
});
