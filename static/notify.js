/*
 * Opt-in browser notifications and the unread count in the tab title.
 *
 * - The tab title counts unread: "(3) Chat"; nothing else writes document.title. The count is
 *   the page's unread total of the other rooms and DMs (from /api/me/rooms, kept live) plus the
 *   lines that came into the open room while the tab was hidden (shown, but nobody saw them:
 *   cleared by showing the tab, or by a read on another device).
 * - Notifications are off until the person clicks "Turn on notifications": the permission is
 *   asked only then (browsers ignore or penalise a request that no click started). Once on, a
 *   mention (a frame of type "mention") or a message in a direct-message room (a message frame
 *   with "kind": "dm") raises a notification while the tab is hidden. Nothing else does: a
 *   notification per lobby line would be noise.
 *
 * The pure parts (titleFor, titleState, titleCount, notificationFor) are unit-tested under
 * Node; createNotifier needs the DOM. Exported as `window.ChatNotify`, or via `module.exports`
 * under Node.
 */
(function (root, factory) {
  "use strict";
  var core =
    typeof module === "object" && module.exports ? require("./chat-core.js") : root.ChatCore;
  var api = factory(core);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatNotify = api;
  }
})(typeof self !== "undefined" ? self : this, function (core) {
  "use strict";

  var STORE_KEY = "chat.notify";
  /** Notification bodies are cut here: the whole message is one click away. */
  var BODY_MAX = 140;

  var isObject = core.isObject; // chat-core.js (loaded first)
  var str = core.asString;

  /** "(3) Chat", or the base title when nothing is unread. */
  function titleFor(base, unread) {
    if (!unread) return base;
    return "(" + (unread > 99 ? "99+" : unread) + ") " + base;
  }

  /**
   * The title's count after one change, as a new {unread, away} (never mutated):
   *   {type: "unread", total}        the page's unread total of the other rooms and DMs
   *   {type: "arrived", hidden}      a line from someone else in the open room
   *   {type: "seen"}                 the open room was seen: the tab shown, or read elsewhere
   *   {type: "clear"}                nothing is unread (the person left the chat)
   * Counts are data from the server: anything but a whole number >= 0 counts as 0.
   */
  function titleState(state, change) {
    var now = { unread: count(state && state.unread), away: count(state && state.away) };
    if (!isObject(change)) return now;
    switch (change.type) {
      case "unread":
        return { unread: count(change.total), away: now.away };
      case "arrived":
        return change.hidden ? { unread: now.unread, away: now.away + 1 } : now;
      case "seen":
        return { unread: now.unread, away: 0 };
      case "clear":
        return { unread: 0, away: 0 };
      default:
        return now;
    }
  }

  function count(value) {
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  }

  /** What the title counts for a titleState. */
  function titleCount(state) {
    var checked = titleState(state, null);
    return checked.unread + checked.away;
  }

  function cut(text) {
    return text.length > BODY_MAX ? text.slice(0, BODY_MAX - 1) + "…" : text;
  }

  /**
   * The notification a frame deserves, {title, body, tag, room}, or null. `shownName` turns a
   * user id into the name to show (sign-in ids carry the provider). The frame text is data:
   * a notification shows it as plain text, which is all the Notification API can show.
   */
  function notificationFor(frameText, shownName) {
    var data;
    try {
      data = JSON.parse(frameText);
    } catch (_err) {
      return null;
    }
    if (!isObject(data)) return null;
    var name = shownName || String;
    var from = name(str(data.from) || str(data.user) || "Someone");
    var room = str(data.room);
    if (data.type === "mention") {
      return {
        title: from + " mentioned you" + (room ? " in " + room : ""),
        body: cut(str(data.message)),
        tag: "mention:" + (str(data.id) || room),
        room: room,
      };
    }
    if (data.type === undefined && data.kind === "dm" && typeof data.message === "string") {
      return {
        title: "Message from " + from,
        body: cut(data.message),
        tag: "dm:" + room,
        room: room,
      };
    }
    return null;
  }

  function loadWanted() {
    try {
      return window.localStorage.getItem(STORE_KEY) === "on";
    } catch (_err) {
      return false;
    }
  }

  function saveWanted(on) {
    try {
      window.localStorage.setItem(STORE_KEY, on ? "on" : "off");
    } catch (_err) {
      // not remembered; it still works for this visit
    }
  }

  /**
   * options: button (the opt-in toggle), baseTitle, shownName, onOpen(room) (a notification
   * clicked), openRoom() (the room on screen). Returns:
   *   frame(text, item, own): call it for every received frame; it returns true for a frame
   *     that is only a notification (a mention) and needs no line in the log;
   *   unread(total): the unread total of every room and DM but the open one, on every change;
   *   arrived(): a line from someone else came into the open room some other way (catch-up);
   *   read(room): `room` was read on another tab or device;
   *   clear(): the person left the chat.
   */
  function createNotifier(options) {
    var button = options.button;
    var baseTitle = options.baseTitle || document.title;
    var Api = typeof window.Notification === "function" ? window.Notification : null;
    var counts = titleState(null, null);

    function enabled() {
      return !!Api && Api.permission === "granted" && loadWanted();
    }

    function renderButton() {
      if (!Api) {
        button.hidden = true;
        return;
      }
      button.hidden = false;
      var on = enabled();
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (Api.permission === "denied") {
        button.textContent = "Notifications blocked";
        button.title =
          "The browser blocks notifications for this page: allow them in its site settings.";
      } else {
        button.textContent = on ? "Notifications on" : "Turn on notifications";
        button.title = "Mentions and direct messages while this tab is hidden";
      }
    }

    function onClick() {
      if (!Api) return;
      if (enabled()) {
        saveWanted(false);
        renderButton();
        return;
      }
      saveWanted(true);
      if (Api.permission === "granted") {
        renderButton();
        return;
      }
      // Asked here, in the click, never on page load.
      var asked = Api.requestPermission(renderButton);
      if (asked && typeof asked.then === "function") asked.then(renderButton, renderButton);
    }

    function hidden() {
      return document.visibilityState === "hidden";
    }

    /** The one place document.title is written. */
    function change(what) {
      counts = titleState(counts, what);
      var title = titleFor(baseTitle, titleCount(counts));
      if (document.title !== title) document.title = title;
    }

    function onVisibility() {
      if (!hidden()) change({ type: "seen" });
    }

    function openRoom() {
      return options.openRoom ? options.openRoom() : "";
    }

    function arrived() {
      change({ type: "arrived", hidden: hidden() });
    }

    function frame(text, item, own) {
      // Lines in other rooms reach the count through unread(total), the sidebar's badges.
      if (item && item.kind === "chat" && !own && item.room === openRoom()) arrived();
      var note = own ? null : notificationFor(text, options.shownName);
      if (note && hidden() && enabled()) {
        try {
          var shown = new Api(note.title, { body: note.body, tag: note.tag });
          shown.onclick = function () {
            window.focus();
            if (options.onOpen && note.room) options.onOpen(note.room);
            shown.close();
          };
        } catch (_err) {
          // Some browsers allow notifications only from a service worker; the title still counts.
        }
      }
      return !!note && !(item && item.kind === "chat");
    }

    button.addEventListener("click", onClick);
    document.addEventListener("visibilitychange", onVisibility);
    renderButton();
    return {
      frame: frame,
      render: renderButton,
      unread: function (total) {
        change({ type: "unread", total: total });
      },
      arrived: arrived,
      read: function (room) {
        if (room === openRoom()) change({ type: "seen" });
      },
      clear: function () {
        change({ type: "clear" });
      },
    };
  }

  return {
    STORE_KEY: STORE_KEY,
    titleFor: titleFor,
    titleState: titleState,
    titleCount: titleCount,
    notificationFor: notificationFor,
    createNotifier: createNotifier,
  };
});
