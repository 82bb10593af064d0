/*
 * Pure room logic for the page: no DOM, no sockets, no timers (unit-tested under Node).
 *
 * Room names, the room in the URL, the remembered room list, the frames that belong to a
 * room (presence, typing, chat, notices), merging a history page with what arrived live
 * (deduplicated by id), and the members of a room. Exported as `window.ChatRooms`.
 */
(function (root, factory) {
  "use strict";
  var core =
    typeof module === "object" && module.exports ? require("./chat-core.js") : root.ChatCore;
  var api = factory(core);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatRooms = api;
  }
})(typeof self !== "undefined" ? self : this, function (core) {
  "use strict";

  var LOBBY = "lobby";
  /** The server's rule: 1-64 characters of A-Z a-z 0-9 _ - (it refuses anything else). */
  var ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
  /** The server keeps a connection in at most 20 rooms, the lobby included. */
  var MAX_ROOMS = 20;
  /** How long "x is typing…" stays up after the last typing notice. */
  var TYPING_SHOW_MS = 4000;
  /** The page sends at most one typing notice per room this often (the server throttles too). */
  var TYPING_SEND_MS = 2500;

  var isObject = core.isObject; // chat-core.js (loaded first)

  function validateRoom(input) {
    var name = typeof input === "string" ? input.trim() : "";
    if (!name) return { ok: false, error: "Please enter a room name." };
    if (name.length > 64) return { ok: false, error: "Room names have at most 64 characters." };
    if (!ROOM_PATTERN.test(name)) {
      return { ok: false, error: "Use only letters A-Z, digits, '_' and '-' (no spaces)." };
    }
    return { ok: true, name: name };
  }

  /** The room named in the URL's fragment ("#room=dev"), or the lobby. */
  function roomFromHash(hash) {
    var raw = typeof hash === "string" ? hash.replace(/^#/, "") : "";
    var params;
    try {
      params = new URLSearchParams(raw);
    } catch (_err) {
      return LOBBY;
    }
    var room = params.get("room");
    return room && ROOM_PATTERN.test(room) ? room : LOBBY;
  }

  function hashForRoom(room) {
    return room === LOBBY ? "" : "#room=" + encodeURIComponent(room);
  }

  /** The remembered list, cleaned: the lobby first, valid names, no repeats, at most 20. */
  function normaliseRooms(list) {
    var rooms = [LOBBY];
    if (Array.isArray(list)) {
      for (var i = 0; i < list.length && rooms.length < MAX_ROOMS; i += 1) {
        var room = list[i];
        if (typeof room === "string" && ROOM_PATTERN.test(room) && rooms.indexOf(room) === -1) {
          rooms.push(room);
        }
      }
    }
    return rooms;
  }

  function parseRemembered(text) {
    try {
      return normaliseRooms(JSON.parse(text || "[]"));
    } catch (_err) {
      return [LOBBY];
    }
  }

  /**
   * Room frames the base parser does not know: the presence snapshot and typing notices.
   * Returns {kind: "presence", room, users} or {kind: "typing", room, user}, else null.
   */
  function parseRoomFrame(text) {
    var data;
    try {
      data = JSON.parse(typeof text === "string" ? text : String(text));
    } catch (_err) {
      return null;
    }
    if (!isObject(data) || typeof data.room !== "string" || !ROOM_PATTERN.test(data.room)) {
      return null;
    }
    if (data.type === "presence" && Array.isArray(data.users)) {
      var users = data.users.filter(function (u) {
        return typeof u === "string" && u;
      });
      return { kind: "presence", room: data.room, users: users, partial: data.partial === true };
    }
    if (data.type === "typing" && typeof data.user === "string" && data.user) {
      return { kind: "typing", room: data.room, user: data.user };
    }
    return null;
  }

  /** Which room a frame belongs to: its `room`, else `fallback` (the lobby by default). */
  function roomOf(text, fallback) {
    try {
      var data = JSON.parse(text);
      if (isObject(data) && typeof data.room === "string" && ROOM_PATTERN.test(data.room)) {
        return data.room;
      }
    } catch (_err) {
      // not JSON: a plain frame
    }
    return fallback || LOBBY;
  }

  /**
   * Merge a history page (oldest first) in front of the items already shown: items whose id
   * is already there are skipped, so a message seen live and again in history shows once.
   * Returns the new items to put at the top, oldest first.
   */
  function olderItems(page, seen) {
    var fresh = [];
    var list = isObject(page) && Array.isArray(page.messages) ? page.messages : [];
    for (var i = 0; i < list.length; i += 1) {
      var m = list[i];
      // A deleted message comes without text (a tombstone): it keeps its place in the log.
      var deleted = isObject(m) && m.deleted === true;
      if (!isObject(m) || typeof m.id !== "string" || (typeof m.message !== "string" && !deleted)) {
        continue;
      }
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      var item = {
        kind: "chat",
        id: m.id,
        from: typeof m.from === "string" ? m.from : "unknown",
        message: deleted ? "" : m.message,
        time: typeof m.time === "string" ? m.time : "",
      };
      // As it is now: edits, replies, mentions and reactions (static/message-actions.js).
      var acts = typeof window !== "undefined" ? window.ChatMessageActions : null;
      if (acts) acts.extras(item, m);
      // Sign-in mode: the sender's id and provider, so a history line can be told as one's own
      // (as live lines are; a line may reach the page first through history).
      if (typeof m.userId === "string") item.userId = m.userId;
      if (typeof m.idp === "string") item.idp = m.idp;
      if (m.lookalike === true) item.lookalike = true;
      fresh.push(item);
    }
    return fresh;
  }

  /** The history URL, relative to the page (/api/index -> /api/rooms/<room>/messages). */
  function historyUrl(room, limit, before) {
    var url = "rooms/" + encodeURIComponent(room) + "/messages?limit=" + (limit || 50);
    return before ? url + "&before=" + encodeURIComponent(before) : url;
  }

  /** Members after a notice: "joined" adds, "left" removes (the snapshot replaces all). */
  function applyNotice(members, event, user) {
    var next = members.slice();
    var at = next.indexOf(user);
    if (event === "joined" && at === -1 && user) next.push(user);
    if (event === "left" && at !== -1) next.splice(at, 1);
    return next;
  }

  /**
   * "alice is typing…", "alice and bob are typing…", "3 people are typing…", or "".
   * `typists` is a Map of name -> time the notice ends (a Map: names are data, and any
   * name, "__proto__" too, must count as itself).
   */
  function typingText(typists, now) {
    var names = [];
    if (typists instanceof Map) {
      typists.forEach(function (until, name) {
        if (until > now) names.push(name);
      });
    }
    names.sort();
    if (names.length === 0) return "";
    if (names.length === 1) return names[0] + " is typing…";
    if (names.length === 2) return names[0] + " and " + names[1] + " are typing…";
    return names.length + " people are typing…";
  }

  function unreadLabel(count) {
    if (!count) return "";
    return count > 99 ? "99+" : String(count);
  }

  return {
    LOBBY: LOBBY,
    MAX_ROOMS: MAX_ROOMS,
    TYPING_SHOW_MS: TYPING_SHOW_MS,
    TYPING_SEND_MS: TYPING_SEND_MS,
    validateRoom: validateRoom,
    roomFromHash: roomFromHash,
    hashForRoom: hashForRoom,
    normaliseRooms: normaliseRooms,
    parseRemembered: parseRemembered,
    parseRoomFrame: parseRoomFrame,
    roomOf: roomOf,
    olderItems: olderItems,
    historyUrl: historyUrl,
    applyNotice: applyNotice,
    typingText: typingText,
    unreadLabel: unreadLabel,
  };
});
