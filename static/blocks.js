/*
 * Blocks on the page (issue 19), sign-in mode only: "Block"/"Unblock" in the member menu of
 * other members (moderation-view.js's menu, through its addMemberEntries), the
 * lines of people you block hidden from what the page renders (history too), and the list
 * kept in step with your other tabs by the server's {"type":"block"|"unblock"} frames. The
 * server enforces the block (their room messages never reach your connections, their DMs are
 * refused: docs/protocol.md "Blocks"); this module only hides and offers. The pure parts are
 * usable under Node. Exported as `window.ChatBlocks`.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatBlocks = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var URL = "me/blocks";
  var HIDDEN = "1 hidden message from a blocked person";

  /** `<idp>:<id>` of a signed-in user id `<idp>:<id>:<name>`: a block outlives a new name. */
  function accountOf(userId) {
    if (typeof userId !== "string") return "";
    var parts = userId.split(":");
    return parts.length === 3 && parts[0] && parts[1] ? parts[0] + ":" + parts[1] : "";
  }

  /** GET /api/me/blocks' answer, checked: the accounts it names. */
  function parseList(body) {
    var list = body && Array.isArray(body.blocks) ? body.blocks : [];
    return list
      .map(function (entry) {
        return accountOf(entry && entry.userId);
      })
      .filter(Boolean);
  }

  /** A block or unblock frame from the server: {kind, account}, or null for anything else. */
  function parseFrame(data) {
    if (!data || (data.type !== "block" && data.type !== "unblock")) return null;
    var account = accountOf(data.user);
    return account ? { kind: data.type, account: account } : null;
  }

  /**
   * Block or Unblock for the member `user` (shown as `who`) as seen by `me`: {label, aria,
   * command}, or null for yourself (any name of your account) or a user id that is no account.
   */
  function blockEntry(user, who, me, blocked) {
    var account = accountOf(user);
    if (!account || account === accountOf(me)) return null;
    var label = blocked ? "Unblock" : "Block";
    return {
      label: label,
      aria: label + " " + String(who || ""),
      command: { type: blocked ? "unblock" : "block", user: user },
    };
  }

  /** deps: {fetch, send(command), me() -> user id, onChange()} */
  function create(deps) {
    var blocked = new Set(); // accounts

    function load() {
      return deps
        .fetch(URL, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (res) {
          if (!res.ok) throw new Error("blocks answered " + res.status);
          return res.json();
        })
        .then(function (body) {
          blocked = new Set(parseList(body));
          deps.onChange();
        })
        .catch(function () {
          // Nothing hidden: the server still keeps their messages away.
        });
    }

    function isBlocked(userId) {
      return blocked.has(accountOf(userId));
    }

    /** A chat line the page should not show (history holds what the server sent before). */
    function hides(item) {
      return !!(item && item.kind === "chat" && item.userId && isBlocked(item.userId));
    }

    /**
     * The member menu's entries for one member (moderation-view.js's addMemberEntries: ctx
     * {user, who}): Block or Unblock, never on yourself.
     */
    function memberEntries(ctx) {
      var entry = blockEntry(ctx && ctx.user, ctx && ctx.who, deps.me(), isBlocked(ctx && ctx.user));
      if (!entry) return [];
      return [{ label: entry.label, aria: entry.aria, run: function () { deps.send(entry.command); } }];
    }

    /** True when `data` was a block or unblock frame (this tab's or another's): handled. */
    function frame(data) {
      var change = parseFrame(data);
      if (!change) return false;
      if (change.kind === "block") blocked.add(change.account);
      else blocked.delete(change.account);
      deps.onChange();
      return true;
    }

    return { load: load, hides: hides, isBlocked: isBlocked, memberEntries: memberEntries, frame: frame };
  }

  return {
    HIDDEN: HIDDEN,
    accountOf: accountOf,
    parseList: parseList,
    parseFrame: parseFrame,
    blockEntry: blockEntry,
    create: create,
  };
});
