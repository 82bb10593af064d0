/*
 * Presence that never lies: pure rules for the member list, join notices and "is this line
 * mine?". No DOM, no sockets, no timers (unit-tested under Node: tests/browser/js/).
 *
 * - Members are keyed by user id, never by the name shown: in sign-in mode two accounts named
 *   "pat@contoso.com" are two entries, each with its provider.
 * - Without sign-in the user id IS the chosen name, so the server cannot tell two people who
 *   pick one name apart (nor two tabs of one person). The page says so instead of guessing: the
 *   count is of names, and a line from "our" name that this tab did not send is shown as from
 *   "another tab or someone with the same name", not as our own.
 * - A "joined" notice for someone already listed is not news (a reload, a reconnect).
 *
 * Exported as `window.ChatPresence`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatPresence = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** How many ids of lines this tab sent are remembered (per tab, across reloads). */
  var MAX_SENT_IDS = 500;
  /** A sent message whose echo has not come back after this long is forgotten. */
  var PENDING_MS = 60000;
  var MAX_PENDING = 100;
  /** A "joined" this soon after the same person's "left" is a reload: one line says both. */
  var REJOIN_MS = 60000;

  /**
   * The member list: one entry per user id, sorted by the name shown (then provider, then id,
   * so the order is stable). `parse` is ChatIdentity.parseUserId in sign-in mode, else null.
   */
  function memberEntries(users, myUserId, parse) {
    var seen = new Set();
    var entries = [];
    (Array.isArray(users) ? users : []).forEach(function (userId) {
      if (typeof userId !== "string" || !userId || seen.has(userId)) return;
      seen.add(userId);
      var parsed = parse ? parse(userId) : null;
      entries.push({
        userId: userId,
        name: parsed ? parsed.name : userId,
        idp: parsed ? parsed.idp : "",
        me: userId === myUserId,
      });
    });
    entries.sort(function (a, b) {
      return compare(a.name, b.name) || compare(a.idp, b.idp) || compare(a.userId, b.userId);
    });
    return entries;
  }

  function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /**
   * The members summary. Signed in, a user id is an account: "3 here". Without sign-in it is a
   * name that several people (or tabs) may share: "3 names here". While disconnected the list
   * is what was last known, and the summary says so instead of a count that may be wrong.
   */
  function countLabel(count, signedIn, connected) {
    if (!connected) return "Members (not connected)";
    if (signedIn) return count + " here";
    return count === 1 ? "1 name here" : count + " names here";
  }

  /** Whether a "joined" notice is news: not for someone the member list already shows. */
  function isNewJoin(members, event, user) {
    if (event !== "joined") return true;
    return !(Array.isArray(members) && members.indexOf(user) !== -1);
  }

  /**
   * What the server does to a message before it echoes it (chat/message_text.py: tabs become
   * spaces, control and format characters go, the ends are trimmed, NFC), so the echo of a
   * line this tab sent can be recognised by its text.
   */
  function normaliseText(text) {
    var s = String(text).replace(/\t/g, " ");
    // Control characters, then the invisible format ones (soft hyphen, bidi marks, zero widths).
    s = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "");
    s = s.replace(/[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]/g, "");
    s = s.trim();
    return typeof s.normalize === "function" ? s.normalize("NFC") : s;
  }

  /**
   * What this tab sent and which echoed lines are its own.
   *
   * `send(room, text)` returns a random tag to send along with the message (`"tag"`: the
   * server echoes it on the broadcast, so the match is exact). `claim(item)` says whether an
   * echoed line from our user id is one this tab sent: by tag when the frame has one, else
   * (an older server) by room and text, oldest pending first. Claimed ids are kept (`ids()`), so a
   * reload in the same tab still knows its own lines when they come back through history.
   * `now` and `random` are injectable for tests.
   */
  function createSentTracker(options) {
    var opts = options || {};
    var now =
      opts.now ||
      function () {
        return Date.now();
      };
    var random = opts.random || Math.random;
    var pending = [];
    var mine = new Set(Array.isArray(opts.ids) ? opts.ids.filter(isString) : []);

    function expire() {
      var limit = now() - PENDING_MS;
      pending = pending.filter(function (p) {
        return p.at >= limit;
      });
      while (pending.length > MAX_PENDING) pending.shift();
    }

    function remember(id) {
      if (!id) return;
      mine.add(id);
      if (mine.size > MAX_SENT_IDS) mine.delete(mine.values().next().value);
    }

    return {
      send: function (room, text) {
        expire();
        var tag = "";
        for (var i = 0; i < 4; i += 1) tag += Math.floor(random() * 0x10000).toString(16);
        pending.push({ tag: tag, room: room, text: normaliseText(text), at: now() });
        return tag;
      },
      claim: function (item, room) {
        if (item.id && mine.has(item.id)) return true;
        expire();
        var at = -1;
        var text = normaliseText(item.message);
        for (var i = 0; i < pending.length && at === -1; i += 1) {
          var p = pending[i];
          if (item.tag ? p.tag === item.tag : p.room === room && p.text === text) at = i;
        }
        if (at === -1) return false;
        pending.splice(at, 1);
        remember(item.id);
        return true;
      },
      isMine: function (id) {
        return !!id && mine.has(id);
      },
      ids: function () {
        return Array.from(mine);
      },
    };
  }

  function isString(value) {
    return typeof value === "string";
  }

  /**
   * Whose line is it: "own" (this person: shown on the right), "same-name" (our user id, but
   * not sent by this tab, without sign-in: another tab, or someone else who picked the name),
   * or "other". Signed in, the user id is the account, so every tab of it is "own".
   */
  function ownership(item, myUserId, signedIn, sentByThisTab) {
    if (!item || !myUserId) return "other";
    if (signedIn) return item.userId === myUserId ? "own" : "other";
    if ((item.userId || item.from) !== myUserId) return "other";
    return sentByThisTab ? "own" : "same-name";
  }

  return {
    MAX_SENT_IDS: MAX_SENT_IDS,
    PENDING_MS: PENDING_MS,
    REJOIN_MS: REJOIN_MS,
    memberEntries: memberEntries,
    countLabel: countLabel,
    isNewJoin: isNewJoin,
    normaliseText: normaliseText,
    createSentTracker: createSentTracker,
    ownership: ownership,
  };
});
