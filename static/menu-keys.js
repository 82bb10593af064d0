/*
 * The keyboard of the page's small menus (the member menu, the message menu, the reports
 * list): Up/Down move between the items and wrap, Home/End jump, Esc closes and the caller
 * puts focus back on the button that opened it (the WAI-ARIA menu-button pattern). Enter and
 * Space are the buttons' own. `move` is pure (tested under Node); `attach` wires it.
 * Exported as `window.ChatMenuKeys`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatMenuKeys = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** The index focus goes to for `key` from `index` among `count` items; -1: not ours. */
  function move(key, index, count) {
    if (count <= 0) return -1;
    var at = index >= 0 && index < count ? index : -1;
    switch (key) {
      case "ArrowDown":
      case "ArrowRight":
        return at < 0 ? 0 : (at + 1) % count;
      case "ArrowUp":
      case "ArrowLeft":
        return at < 0 ? count - 1 : (at - 1 + count) % count;
      case "Home":
        return 0;
      case "End":
        return count - 1;
      default:
        return -1;
    }
  }

  /**
   * Arrow keys over `box`'s items (`selector`, default its menu items); Esc calls
   * `onEscape`. The items stay Tab stops only as one: the first (roving tabindex), so Tab
   * leaves the menu rather than walking it.
   */
  function attach(box, onEscape, selector) {
    var which = selector || '[role="menuitem"]';
    function items() {
      return Array.prototype.filter.call(box.querySelectorAll(which), function (b) {
        return !b.disabled && !b.hidden;
      });
    }
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        onEscape();
        return;
      }
      var list = items();
      var next = move(ev.key, list.indexOf(document.activeElement), list.length);
      if (next < 0) return;
      // Left/Right stay the text field's own inside one (the custom slow-mode seconds).
      if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
      ev.preventDefault();
      ev.stopPropagation(); // the log walks its lines with the same keys (message-view.js)
      list[next].focus();
    });
  }

  return { move: move, attach: attach };
});
