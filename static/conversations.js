/*
 * Conversations for the page (issue 17): the server's list of your rooms and direct messages
 * with unread counts, the room directory, read positions, direct messages and catch-up after
 * a reconnect. The pure parts (no DOM, no sockets) are unit-tested under Node; `catchUp` and
 * `getJson` take `fetch` as a parameter. Exported as `window.ChatConversations`.
 */
(function (root, factory) {
  "use strict";
  var core =
    typeof module === "object" && module.exports ? require("./chat-core.js") : root.ChatCore;
  var api = factory(core);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatConversations = api;
  }
})(typeof self !== "undefined" ? self : this, function (core) {
  "use strict";

  var DIRECT = /^dm-[0-9a-f]{32}$/;
  /** Catch-up pages of this size; at most MAX_PAGES per room (then the latest page reloads). */
  var PAGE = 100;
  var MAX_PAGES = 20;

  var isObject = core.isObject; // chat-core.js (loaded first)
  var str = core.asString;

  function isDirect(room) {
    return DIRECT.test(str(room));
  }

  /** `?id=<name>` when sign-in is off (the routes take negotiate's caller rule). */
  function who(name, signedIn) {
    return signedIn || !name ? "" : "id=" + encodeURIComponent(name);
  }

  function myRoomsUrl(name, signedIn) {
    var q = who(name, signedIn);
    return "me/rooms" + (q ? "?" + q : "");
  }

  function directoryUrl(name, signedIn, limit) {
    var q = who(name, signedIn);
    return "rooms?limit=" + (limit || 50) + (q ? "&" + q : "");
  }

  function catchUpUrl(room, since, limit) {
    return (
      "rooms/" + encodeURIComponent(room) + "/messages?since=" + encodeURIComponent(since) +
      "&limit=" + (limit || PAGE)
    );
  }

  /** The server's conversation list, checked: [{room, kind, with, unread, mentions}]. */
  function parseMyRooms(body) {
    var list = isObject(body) && Array.isArray(body.rooms) ? body.rooms : [];
    var out = [];
    list.forEach(function (entry) {
      if (!isObject(entry) || !str(entry.room)) return;
      var peer = isObject(entry["with"]) ? entry["with"] : null;
      out.push({
        room: entry.room,
        kind: entry.kind === "dm" ? "dm" : "room",
        peer: peer ? { userId: str(peer.userId), name: str(peer.name), idp: str(peer.idp) } : null,
        unread: typeof entry.unread === "number" && entry.unread > 0 ? Math.floor(entry.unread) : 0,
        mentions:
          typeof entry.mentions === "number" && entry.mentions > 0 ? Math.floor(entry.mentions) : 0,
      });
    });
    return out;
  }

  /** The directory, checked, and filtered by a search text (case-insensitive, substring). */
  function parseDirectory(body, search) {
    var list = isObject(body) && Array.isArray(body.rooms) ? body.rooms : [];
    var wanted = str(search).trim().toLowerCase();
    return list
      .filter(function (r) {
        return isObject(r) && str(r.room) && !isDirect(r.room);
      })
      .map(function (r) {
        return {
          room: r.room,
          members: typeof r.members === "number" ? r.members : 0,
          lastMessageTime: str(r.lastMessageTime),
        };
      })
      .filter(function (r) {
        return !wanted || r.room.indexOf(wanted) !== -1;
      });
  }

  /**
   * When a directory room last had a message, as people say it: "active just now", "active 5
   * min ago", "active 3 h ago", "active 2 days ago"; "no messages yet" without a time. A time a
   * little ahead of this clock (another machine's) reads "just now"; a bad one reads nothing.
   */
  function activeAgo(lastMessageTime, nowMs) {
    if (!str(lastMessageTime)) return "no messages yet";
    var at = Date.parse(lastMessageTime);
    if (!isFinite(at)) return "";
    var minutes = Math.floor(Math.max(0, nowMs - at) / 60000);
    if (minutes < 1) return "active just now";
    if (minutes < 60) return "active " + minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return "active " + hours + " h ago";
    var days = Math.floor(hours / 24);
    return "active " + days + (days === 1 ? " day ago" : " days ago");
  }

  /** A `read` frame ({room, id}), or null for any other text. */
  function readFrame(text) {
    try {
      var data = JSON.parse(text);
      if (isObject(data) && data.type === "read" && str(data.room) && str(data.id)) {
        return { room: data.room, id: data.id };
      }
    } catch (_err) {
      // not JSON: not a read frame
    }
    return null;
  }

  /** Who the other person of a DM frame is, seen from `me` (null when it is no DM). */
  function peerOf(frame, me) {
    if (!isObject(frame) || !isDirect(frame.room)) return null;
    var to = isObject(frame.to) ? frame.to : null;
    if (frame.userId === me && to) {
      return { userId: str(to.userId), name: str(to.name), idp: str(to.idp) };
    }
    return { userId: str(frame.userId), name: str(frame.from), idp: str(frame.idp) };
  }

  /** The newest time among chat items (what to catch up from), or "" when there is none. */
  function latestTime(items) {
    var best = "";
    (items || []).forEach(function (item) {
      if (item && item.kind === "chat" && str(item.time) > best) best = item.time;
    });
    return best;
  }

  /**
   * Where to catch up from: a few seconds before the newest line held. Catch-up counts whole
   * seconds of the event's own time, which may trail the time a line shows; repeats are
   * dropped by id, so reading a little more is free of duplicates.
   */
  function sinceFor(time) {
    var at = Date.parse(str(time));
    if (!isFinite(at)) return "";
    return new Date(at - 5000).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** The id of the newest chat item (by time; the last of equals), or "". */
  function newestId(items) {
    var best = null;
    (items || []).forEach(function (item) {
      if (item && item.kind === "chat" && item.id && (!best || str(item.time) >= str(best.time))) {
        best = item;
      }
    });
    return best ? best.id : "";
  }

  /** `dm-<32 hex>` of two user ids, as the server names it (SHA-256 of the sorted pair). */
  function directName(a, b, subtle) {
    var pair = [a, b].sort();
    var data = new TextEncoder().encode(pair[0] + "\n" + pair[1]);
    return subtle.digest("SHA-256", data).then(function (digest) {
      var hex = Array.prototype.map
        .call(new Uint8Array(digest), function (byte) {
          return byte.toString(16).padStart(2, "0");
        })
        .join("");
      return "dm-" + hex.slice(0, 32);
    });
  }

  /**
   * Whether the other person of a DM is online: in the lobby's member list (everyone is in the
   * lobby). {state: "online" | "offline" | "unknown", text} for the DM's header. A `partial`
   * list (a lobby past one listing) names only some of those online: absent is not offline.
   */
  function peerStatus(lobbyMembers, peerUserId, connected, partial) {
    if (!connected) return { state: "unknown", text: "status unknown (not connected)" };
    var here = Array.isArray(lobbyMembers) && lobbyMembers.indexOf(peerUserId) !== -1;
    if (here) return { state: "online", text: "online" };
    return partial ? { state: "unknown", text: "" } : { state: "offline", text: "offline" };
  }

  function getJson(fetchFn, url) {
    return fetchFn(url, { headers: { Accept: "application/json" }, cache: "no-store" }).then(
      function (res) {
        if (!res.ok) throw new Error(url + " answered " + res.status);
        return res.json();
      }
    );
  }

  /**
   * Every message of `room` since `since` (RFC 3339), page by page: `onPage(page)` for each.
   * Resolves with the number of pages read.
   */
  function catchUp(fetchFn, room, since, onPage) {
    var pages = 0;
    function next(cursor) {
      return getJson(fetchFn, catchUpUrl(room, cursor)).then(function (page) {
        pages += 1;
        onPage(page);
        if (page && typeof page.next === "string" && page.next && pages < MAX_PAGES) {
          return next(page.next);
        }
        return pages;
      });
    }
    return next(since);
  }

  return {
    isDirect: isDirect,
    myRoomsUrl: myRoomsUrl,
    directoryUrl: directoryUrl,
    catchUpUrl: catchUpUrl,
    parseMyRooms: parseMyRooms,
    parseDirectory: parseDirectory,
    activeAgo: activeAgo,
    readFrame: readFrame,
    peerOf: peerOf,
    latestTime: latestTime,
    sinceFor: sinceFor,
    newestId: newestId,
    directName: directName,
    peerStatus: peerStatus,
    getJson: getJson,
    catchUp: catchUp,
  };
});
