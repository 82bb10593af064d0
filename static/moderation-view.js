/*
 * Moderation on the page (issue 19), sign-in mode only: the room's topic under its name, the
 * moderators' buttons on the member list, and a clear notice when you are kicked, banned or
 * muted. The server decides every command again (docs/protocol.md "Moderation"): this module
 * only hides the buttons a person may not use, from GET /api/rooms/{room}.
 */
(function () {
  "use strict";

  var BANS = [
    { label: "Ban 10 min", minutes: 10 },
    { label: "Ban 1 day", minutes: 1440 },
    { label: "Ban forever", minutes: null },
  ];
  var PERSONAL = new Set(["kick", "ban", "mute"]);

  function infoUrl(room) {
    return "rooms/" + encodeURIComponent(room);
  }

  /** The role of `me` in a room from its GET /api/rooms/{room} answer. */
  function roleOf(info, me) {
    if (!info || !me) return "member";
    if (info.owner === me) return "owner";
    if (Array.isArray(info.moderators) && info.moderators.indexOf(me) !== -1) return "moderator";
    return "member";
  }

  /**
   * deps: {send(command), me() -> user id, onChange(room), topic: element, notice: element,
   *        fetch}
   */
  function create(deps) {
    var infos = new Map(); // room -> {topic, owner, moderators, slowModeSeconds}
    var loading = new Set();
    var openFor = ""; // the member whose controls are open: kept across re-renders

    function load(room) {
      if (loading.has(room)) return;
      loading.add(room);
      deps
        .fetch(infoUrl(room), { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (res) {
          if (!res.ok) throw new Error("room info answered " + res.status);
          return res.json();
        })
        .then(function (info) {
          loading.delete(room);
          infos.set(room, info || {});
          deps.onChange(room);
        })
        .catch(function () {
          loading.delete(room); // no topic and no buttons: the page works without them
        });
    }

    function showTopic(room) {
      var info = infos.get(room);
      var topic = info && typeof info.topic === "string" ? info.topic : "";
      deps.topic.textContent = topic;
      deps.topic.hidden = !topic;
      deps.topic.dataset.loaded = info ? "true" : "false"; // the roles are known (tests wait)
    }

    function button(label, aria, command) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-small btn-quiet member-mod-action";
      b.textContent = label;
      b.setAttribute("aria-label", aria);
      b.addEventListener("click", function () {
        deps.send(command);
      });
      return b;
    }

    /** The moderation controls for one member line, or null when we may not act on them. */
    function memberControls(room, entry) {
      var me = deps.me();
      if (!entry.userId || entry.me || entry.userId === me) return null;
      var info = infos.get(room);
      var mine = roleOf(info, me);
      if (mine === "member") return null;
      var theirs = roleOf(info, entry.userId);
      if (theirs === "owner" || (mine === "moderator" && theirs === "moderator")) return null;
      var who = entry.name;
      var user = entry.userId;
      var details = document.createElement("details");
      details.className = "member-mod";
      var summary = document.createElement("summary");
      summary.textContent = "Moderate";
      summary.setAttribute("aria-label", "Moderate " + who);
      var box = document.createElement("div");
      box.className = "member-mod-actions";
      box.append(button("Kick", "Kick " + who, { type: "kick", room: room, user: user }));
      BANS.forEach(function (ban) {
        box.append(
          button(ban.label, ban.label + ": " + who, {
            type: "ban",
            room: room,
            user: user,
            minutes: ban.minutes,
          })
        );
      });
      box.append(
        button("Mute 10 min", "Mute 10 min: " + who, {
          type: "mute",
          room: room,
          user: user,
          minutes: 10,
        })
      );
      if (mine === "owner" && theirs !== "moderator") {
        box.append(
          button("Make moderator", "Make " + who + " a moderator", {
            type: "mod",
            room: room,
            user: user,
            on: true,
          })
        );
      }
      details.append(summary, box);
      details.open = openFor === room + "\n" + user;
      // Set on the click too: the list is redrawn on every presence or typing frame, and a
      // redraw between the click and its toggle event would come back closed.
      summary.addEventListener("click", function () {
        openFor = details.open ? "" : room + "\n" + user;
      });
      details.addEventListener("toggle", function () {
        if (details.open) openFor = room + "\n" + user;
        else if (openFor === room + "\n" + user) openFor = "";
      });
      return details;
    }

    /**
     * Look at a received frame: moderation notices refresh the room's roles and topic, and one
     * addressed to us (kick, ban, mute) is shown in the notice line. True only for the answer
     * to a report, which the caller shows as a note (its id is the reported message's).
     */
    function frame(data, room) {
      if (!data || data.type !== "system") return false;
      // The answer to our report carries the message's id (already seen): the caller shows it.
      if (data.event === "reported") return typeof data.message === "string";
      var me = deps.me();
      if (data.event === "joined" && data.user === me) {
        load(room); // a fresh room's owner is known once our join is in
        return false;
      }
      if (data.event !== "moderation") return false;
      if (data.user === me && PERSONAL.has(data.action) && typeof data.message === "string") {
        deps.notice.textContent = data.message;
        deps.notice.hidden = false;
      }
      if (data.action === "mod" || data.action === "topic") load(room);
      return false;
    }

    function dismissNotice() {
      deps.notice.textContent = "";
      deps.notice.hidden = true;
    }

    return {
      load: load,
      loaded: function (room) {
        return infos.has(room);
      },
      showTopic: showTopic,
      memberControls: memberControls,
      frame: frame,
      dismissNotice: dismissNotice,
    };
  }

  window.ChatModeration = { create: create, roleOf: roleOf };
})();
