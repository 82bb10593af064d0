/*
 * The first-visit hint: how rooms work (type a name to create or join one; a room's link,
 * "#room=<name>", brings others into it). Shown until dismissed, and not in a direct
 * conversation (it has no link to share); the dismissal is remembered in localStorage. The
 * link shown is this page's own address, so it is right on any host.
 * Exported as `window.ChatFirstVisit`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var conv =
    typeof module === "object" && module.exports
      ? require("./conversations.js")
      : root.ChatConversations;
  var api = factory(conv);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatFirstVisit = api;
  }
})(typeof self !== "undefined" ? self : this, function (conv) {
  "use strict";

  var STORE_KEY = "chat.hint.rooms";
  var EXAMPLE_ROOM = "design";

  /**
   * The link to share for a room: this page's address with "#room=<name>". The lobby and a
   * direct conversation have none to share: the example room's instead.
   */
  function roomLink(location, room, lobby) {
    var name = room && room !== lobby && !conv.isDirect(room) ? room : EXAMPLE_ROOM;
    return location.origin + location.pathname + "#room=" + encodeURIComponent(name);
  }

  function dismissed() {
    try {
      return window.localStorage.getItem(STORE_KEY) === "dismissed";
    } catch (_err) {
      return false;
    }
  }

  /** Wire the hint element (see index.html); returns {update(room)} to show the room's link. */
  function create(hintEl) {
    var link = hintEl.querySelector("[data-room-link]");
    var close = hintEl.querySelector("[data-dismiss]");
    var closed = dismissed();
    hintEl.hidden = closed;
    close.addEventListener("click", function () {
      closed = true;
      hintEl.hidden = true;
      try {
        window.localStorage.setItem(STORE_KEY, "dismissed");
      } catch (_err) {
        // not remembered: it comes back on the next visit
      }
      // The button is gone: keep keyboard focus somewhere useful.
      var input = document.getElementById("room-input");
      if (input) input.focus();
    });
    return {
      update: function (room) {
        // The hint is about rooms: a direct conversation has no link to share, nor a hint.
        hintEl.hidden = closed || conv.isDirect(room || "");
        link.textContent = roomLink(window.location, room, "lobby");
      },
    };
  }

  return { STORE_KEY: STORE_KEY, roomLink: roomLink, create: create };
});
