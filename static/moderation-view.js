/*
 * Moderation on the page (issue 19), sign-in mode only: the room's topic under its name (with
 * an inline editor for moderators), the member menu (Kick, Ban, Mute, Unmute, Make/Remove
 * moderator) for those allowed, the room's moderation panel (slow mode, and the bans and mutes
 * seen while the page was open, each with its Unban/Unmute), and a clear notice when you are
 * kicked, banned or muted. The server decides every command again (docs/protocol.md
 * "Moderation"): this module only hides the buttons a person may not use, from
 * GET /api/rooms/{room} (roles) and GET /api/reports answering 200 (admins: reports-view.js).
 */
(function (root, factory) {
  "use strict";
  // Under Node (tests/browser/js/moderation-view.test.js) only the pure role rules are used.
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatModeration = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var RANK = { member: 0, moderator: 1, owner: 2, admin: 3 };
  var TOPIC_MAX = 200; // chat/moderation.py MAX_TOPIC_LENGTH
  var PERSONAL = new Set(["kick", "ban", "mute", "unban", "unmute"]);

  function infoUrl(room) {
    return "rooms/" + encodeURIComponent(room);
  }

  /** The role of `me` in a room from its GET /api/rooms/{room} answer (admins: everywhere). */
  function roleOf(info, me, admin) {
    if (!me) return "member";
    if (admin) return "admin";
    if (!info) return "member";
    if (info.owner === me) return "owner";
    if (Array.isArray(info.moderators) && info.moderators.indexOf(me) !== -1) return "moderator";
    return "member";
  }

  /**
   * The member menu's moderation entries, in order: each says when it applies (`ctx`: {room,
   * user, who, mine, theirs}) and what it sends. A list, so one more is one more line.
   */
  function ban(label, minutes) {
    return {
      label: label,
      aria: function (c) { return label + ": " + c.who; },
      when: function () { return true; },
      command: function (c) { return { type: "ban", room: c.room, user: c.user, minutes: minutes }; },
    };
  }
  function mute(label, minutes) {
    return {
      label: label,
      aria: function (c) { return label + ": " + c.who; },
      when: function () { return true; },
      command: function (c) { return { type: "mute", room: c.room, user: c.user, minutes: minutes }; },
    };
  }
  function appoints(c) {
    return c.mine === "owner" || c.mine === "admin";
  }
  var MEMBER_ENTRIES = [
    {
      label: "Kick",
      aria: function (c) { return "Kick " + c.who; },
      when: function () { return true; },
      command: function (c) { return { type: "kick", room: c.room, user: c.user }; },
    },
    ban("Ban 10 min", 10),
    ban("Ban 1 day", 1440),
    ban("Ban forever", null),
    mute("Mute 10 min", 10),
    mute("Mute 1 h", 60),
    {
      // Offered on everyone: a mute set before this page loaded is not in any answer it has.
      label: "Unmute",
      aria: function (c) { return "Unmute " + c.who; },
      when: function () { return true; },
      command: function (c) { return { type: "unmute", room: c.room, user: c.user }; },
    },
    {
      label: "Make moderator",
      aria: function (c) { return "Make " + c.who + " a moderator"; },
      when: function (c) { return appoints(c) && c.theirs === "member"; },
      command: function (c) { return { type: "mod", room: c.room, user: c.user, on: true }; },
    },
    {
      label: "Remove moderator",
      aria: function (c) { return "Remove " + c.who + " as moderator"; },
      when: function (c) { return appoints(c) && c.theirs === "moderator"; },
      command: function (c) { return { type: "mod", room: c.room, user: c.user, on: false }; },
    },
  ];

  /** The moderation entries `ctx` allows: [] unless `mine` outranks `theirs` (the server's rule). */
  function moderationEntries(ctx) {
    if (RANK[ctx.mine] < RANK.moderator || RANK[ctx.mine] <= RANK[ctx.theirs]) return [];
    return MEMBER_ENTRIES.filter(function (e) {
      return e.when(ctx);
    });
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function localTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : d.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  /**
   * deps: {send(command), me() -> user id, admin() -> bool, nameOf(user id), onChange(room),
   *        fetch, el: {topic, topicEdit, topicEditor, notice, slowIndicator, slowWait, roomMod,
   *        roomModBody}}
   */
  function create(deps) {
    var el = deps.el;
    var keys = window.ChatMenuKeys;
    var infos = new Map(); // room -> {topic, owner, moderators, slowModeSeconds}
    var loading = new Set();
    // Rooms asked for again while their answer was on its way: read once more after it. The
    // answer may predate what the new ask is for (our join's claim of a fresh room).
    var stale = new Set();
    var extraEntries = []; // fn(ctx) -> [{label, aria, run}]: other modules' member entries
    var openFor = ""; // the member whose menu is open: kept across re-renders
    var editing = null; // {room, input, error, counter}: the topic editor while open
    var restricted = new Map(); // room -> Map(user -> {ban, mute}): until (ISO|null) as seen
    var modSignature = ""; // what the room panel was built from (rebuilt only when it changes)
    var slow = window.ChatSlowMode.create({ indicator: el.slowIndicator, wait: el.slowWait });
    var shownRoom = "";

    function load(room) {
      if (loading.has(room)) {
        stale.add(room);
        return;
      }
      loading.add(room);
      deps
        .fetch(infoUrl(room), { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (res) {
          if (!res.ok) throw new Error("room info answered " + res.status);
          return res.json();
        })
        .then(function (info) {
          settled(room);
          infos.set(room, info || {});
          deps.onChange(room);
        })
        .catch(function () {
          settled(room); // no topic and no buttons: the page works without them
        });
    }

    function settled(room) {
      loading.delete(room);
      if (stale.delete(room)) load(room);
    }

    function mine(room) {
      return roleOf(infos.get(room), deps.me(), deps.admin());
    }

    function moderates(room) {
      return RANK[mine(room)] >= RANK.moderator;
    }

    function seconds(room) {
      var info = infos.get(room);
      return info && Number(info.slowModeSeconds) > 0 ? Number(info.slowModeSeconds) : 0;
    }

    /** The topic line, the slow-mode indicator and the room panel of `room` (on screen). */
    function showTopic(room) {
      shownRoom = room;
      var info = infos.get(room);
      var topic = info && typeof info.topic === "string" ? info.topic : "";
      var may = !!info && moderates(room);
      if (editing && editing.room !== room) closeEditor(false);
      el.topic.textContent = topic;
      el.topic.hidden = !topic || !!editing;
      el.topic.dataset.loaded = info ? "true" : "false"; // the roles are known (tests wait)
      el.topicEdit.hidden = !may || !!editing;
      el.topicEdit.textContent = topic ? "Edit topic" : "Add a topic";
      el.topicEdit.setAttribute("aria-label", (topic ? "Edit the topic of " : "Add a topic to ") + room);
      slow.show(room, seconds(room));
      showRoomPanel(room, may);
    }

    /* ---------- the member menu ---------- */

    /** Another module's entries for the member menu: fn(ctx) -> [{label, aria, run}]. */
    function addMemberEntries(fn) {
      extraEntries.push(fn);
    }

    function menuItem(label, aria, run, button, close) {
      var b = node("button", "menu-item member-mod-action", label);
      b.type = "button";
      b.tabIndex = -1;
      b.setAttribute("role", "menuitem");
      b.setAttribute("aria-label", aria);
      b.addEventListener("click", function () {
        close();
        button.focus();
        run();
      });
      return b;
    }

    /** The menu on one member line (menu button + its menu), or null when it would be empty. */
    function memberControls(room, entry) {
      var me = deps.me();
      if (!entry.userId || entry.me || entry.userId === me) return null;
      var info = infos.get(room);
      var ctx = {
        room: room,
        user: entry.userId,
        who: entry.name,
        mine: mine(room),
        theirs: roleOf(info, entry.userId, false),
      };
      var items = moderationEntries(ctx).map(function (e) {
        return { label: e.label, aria: e.aria(ctx), run: function () { deps.send(e.command(ctx)); } };
      });
      var modCount = items.length;
      extraEntries.forEach(function (fn) {
        items = items.concat(fn(ctx) || []);
      });
      if (!items.length) return null;
      var key = room + "\n" + entry.userId;
      var wrap = node("span", "member-mod");
      var button = node("button", "btn btn-small btn-quiet member-mod-button", modCount ? "Moderate" : "More");
      button.type = "button";
      button.setAttribute("aria-label", (modCount ? "Moderate " : "More for ") + entry.name);
      button.setAttribute("aria-haspopup", "menu");
      button.dataset.focusKey = "mod-button\n" + key;
      var menu = node("div", "member-mod-actions");
      menu.setAttribute("role", "menu");
      menu.setAttribute("aria-label", (modCount ? "Moderate " : "More for ") + entry.name);
      menu.id = "member-menu-" + Math.random().toString(36).slice(2);
      button.setAttribute("aria-controls", menu.id);
      function setOpen(open) {
        menu.hidden = !open;
        button.setAttribute("aria-expanded", open ? "true" : "false");
        if (open) openFor = key;
        else if (openFor === key) openFor = "";
      }
      function close() {
        setOpen(false);
      }
      items.forEach(function (item, i) {
        var b = menuItem(item.label, item.aria, item.run, button, close);
        b.dataset.focusKey = "mod-item\n" + key + "\n" + i;
        menu.append(b);
      });
      function openAt(index) {
        setOpen(true);
        var list = menu.querySelectorAll('[role="menuitem"]');
        list[index < 0 ? list.length - 1 : index].focus();
      }
      button.addEventListener("click", function () {
        if (menu.hidden) openAt(0);
        else close();
      });
      button.addEventListener("keydown", function (ev) {
        if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
          ev.preventDefault();
          openAt(ev.key === "ArrowDown" ? 0 : -1);
        }
      });
      keys.attach(menu, function () {
        close();
        button.focus();
      });
      menu.addEventListener("keydown", function (ev) {
        if (ev.key === "Tab") close(); // Tab leaves the menu, as it does a native one
      });
      setOpen(openFor === key);
      wrap.append(button, menu);
      return wrap;
    }

    /** A click outside an open member menu closes it. */
    document.addEventListener("pointerdown", function (ev) {
      if (!openFor || (ev.target.closest && ev.target.closest(".member-mod"))) return;
      openFor = "";
      document.querySelectorAll(".member-mod-actions").forEach(function (m) {
        m.hidden = true;
        var b = m.previousElementSibling;
        if (b) b.setAttribute("aria-expanded", "false");
      });
    });

    /**
     * Before a list is redrawn: which of its controls has focus. Returns a function that puts
     * focus back on the redrawn one (the member list is redrawn on every presence frame, and
     * a keyboard user in its menu must not be thrown out by someone else typing).
     */
    function keepFocus(list) {
      var active = document.activeElement;
      var key = active && list.contains(active) ? active.dataset.focusKey : "";
      return function () {
        if (!key) return;
        var again = list.querySelector('[data-focus-key="' + CSS.escape(key) + '"]');
        if (again) again.focus();
      };
    }

    /* ---------- the topic editor ---------- */

    function topicCount(text) {
      return Array.from(text.trim()).length; // code points, as the server counts (len of str)
    }

    function openEditor() {
      var room = shownRoom;
      if (!moderates(room) || editing) return;
      var box = el.topicEditor;
      var input = node("input", "input topic-input");
      input.type = "text";
      input.id = "topic-input";
      input.dataset.testid = "topic-input";
      input.value = (infos.get(room) || {}).topic || "";
      input.setAttribute("aria-label", "Topic of " + room);
      input.setAttribute("aria-describedby", "topic-counter topic-help topic-error");
      input.autocomplete = "off";
      var counter = node("span", "topic-counter");
      counter.id = "topic-counter";
      counter.dataset.testid = "topic-counter";
      var help = node("span", "visually-hidden", "Enter saves, Escape cancels.");
      help.id = "topic-help";
      var save = node("button", "btn btn-small", "Save");
      save.type = "button";
      save.dataset.testid = "topic-save";
      var cancel = node("button", "btn btn-small btn-quiet", "Cancel");
      cancel.type = "button";
      var error = node("p", "field-error topic-error");
      error.id = "topic-error";
      error.dataset.testid = "topic-error";
      error.setAttribute("aria-live", "assertive");
      function count() {
        var n = topicCount(input.value);
        counter.textContent = n + "/" + TOPIC_MAX;
        counter.dataset.over = n > TOPIC_MAX ? "true" : "false";
      }
      function submit() {
        if (topicCount(input.value) > TOPIC_MAX) {
          error.textContent = "A topic has at most " + TOPIC_MAX + " characters.";
          return;
        }
        error.textContent = "";
        editing.pending = true;
        save.disabled = true;
        deps.send({ type: "topic", room: room, topic: input.value.trim() });
      }
      input.addEventListener("input", function () {
        count();
        error.textContent = "";
      });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          ev.preventDefault();
          submit();
        } else if (ev.key === "Escape") {
          ev.preventDefault();
          ev.stopPropagation();
          closeEditor(true);
        }
      });
      save.addEventListener("click", submit);
      cancel.addEventListener("click", function () {
        closeEditor(true);
      });
      count();
      box.replaceChildren(input, counter, save, cancel, help, error);
      box.hidden = false;
      editing = { room: room, input: input, error: error, save: save, pending: false };
      showTopic(room);
      input.focus();
    }

    function closeEditor(refocus) {
      if (!editing) return;
      editing = null;
      el.topicEditor.replaceChildren();
      el.topicEditor.hidden = true;
      showTopic(shownRoom);
      if (refocus && !el.topicEdit.hidden) el.topicEdit.focus();
    }

    el.topicEdit.addEventListener("click", openEditor);

    /* ---------- the room's moderation panel: slow mode, bans and mutes ---------- */

    function restrictionsOf(room) {
      var now = Date.now();
      var list = [];
      (restricted.get(room) || new Map()).forEach(function (r, user) {
        ["ban", "mute"].forEach(function (kind) {
          if (!(kind in r)) return;
          if (r[kind] !== null && Date.parse(r[kind]) <= now) return; // expired: checked at use
          list.push({ user: user, kind: kind, until: r[kind] });
        });
      });
      return list;
    }

    function restrict(room, user, kind, until) {
      if (!restricted.has(room)) restricted.set(room, new Map());
      var byUser = restricted.get(room);
      var r = byUser.get(user) || {};
      if (until === undefined) delete r[kind];
      else r[kind] = until;
      byUser.set(user, r);
    }

    function showRoomPanel(room, may) {
      el.roomMod.hidden = !may;
      var list = may ? restrictionsOf(room) : [];
      var signature = may ? JSON.stringify([room, seconds(room), list]) : "";
      if (signature === modSignature) return;
      modSignature = signature;
      if (!may) {
        el.roomModBody.replaceChildren();
        return;
      }
      var control = slow.control(seconds(room), function (s) {
        deps.send({ type: "slowmode", room: room, seconds: s });
      });
      var heading = node("h3", "room-mod-heading", "Banned or muted here");
      heading.id = "restricted-heading";
      var note = node("p", "room-mod-note", "As seen while this page was open.");
      var ul = node("ul", "restricted-list");
      ul.setAttribute("aria-labelledby", "restricted-heading");
      ul.dataset.testid = "restricted-list";
      list.forEach(function (r) {
        var who = deps.nameOf(r.user);
        var li = node("li", "restricted");
        var what = r.kind === "ban" ? "banned" : "muted";
        var until = r.until === null ? "until lifted" : "until " + localTime(r.until);
        li.append(node("span", "restricted-text", who + " — " + what + " " + until));
        var undo = node("button", "btn btn-small btn-quiet", r.kind === "ban" ? "Unban" : "Unmute");
        undo.type = "button";
        undo.setAttribute("aria-label", (r.kind === "ban" ? "Unban " : "Unmute ") + who);
        undo.addEventListener("click", function () {
          deps.send({ type: "un" + r.kind, room: room, user: r.user });
        });
        li.append(undo);
        ul.append(li);
      });
      if (!list.length) ul.append(node("li", "restricted-none", "Nobody."));
      el.roomModBody.replaceChildren(control, heading, note, ul);
    }

    /* ---------- frames ---------- */

    /**
     * Look at a received frame: moderation notices refresh the room's roles, topic and slow
     * mode, one addressed to us (kick, ban, mute) is shown in the notice line, refusals reach
     * the topic editor and the slow-mode countdown. True only for the answer to a report,
     * which the caller shows as a note (its id is the reported message's).
     */
    function frame(data, room) {
      if (!data || data.type !== "system") return false;
      if (data.event === "reported") return typeof data.message === "string";
      var me = deps.me();
      if (data.event === "rejected") {
        rejected(data, typeof data.room === "string" ? data.room : shownRoom);
        return false;
      }
      if (data.event === "joined" && data.user === me) {
        load(room); // a fresh room's owner is known once our join is in
        return false;
      }
      if (data.event !== "moderation") return false;
      var notice = personalNotice(data, me);
      if (notice !== null) {
        el.notice.textContent = notice;
        el.notice.hidden = false;
        if ((data.action === "kick" || data.action === "unban") && typeof data.room === "string") {
          el.notice.append(" ", rejoinButton(data.room)); // out of its groups: join again
        }
      }
      if (typeof data.room !== "string") return false; // a chat-wide ban: no room to update
      var info = infos.get(room);
      if (data.action === "ban" || data.action === "mute") {
        restrict(room, data.user, data.action, data.until === undefined ? null : data.until);
      } else if (data.action === "unban" || data.action === "unmute") {
        restrict(room, data.user, data.action.slice(2), undefined);
      }
      if (data.action === "topic") {
        if (info) info.topic = typeof data.topic === "string" ? data.topic : "";
        if (editing && editing.room === room && editing.pending) closeEditor(true);
      }
      if (data.action === "slowmode" && info) info.slowModeSeconds = Number(data.seconds) || 0;
      if (data.action === "mod") load(room);
      deps.onChange(room);
      return false;
    }

    function rejoinButton(room) {
      var b = node("button", "btn btn-small", "Join " + room + " again");
      b.type = "button";
      b.dataset.testid = "rejoin";
      b.addEventListener("click", function () {
        dismissNotice();
        deps.rejoin(room);
      });
      return b;
    }

    function rejected(data, room) {
      var message = String(data.message || "");
      if (slow.refused(room, message)) return;
      if (editing && editing.pending && editing.room === room) {
        editing.pending = false;
        editing.save.disabled = false;
        editing.error.textContent = message;
        editing.input.focus();
      }
    }

    /** May we delete `author`'s message in `room`? (A moderator not a fellow moderator's.) */
    function mayDelete(room, author) {
      if (!author || !infos.has(room) && !deps.admin()) return false;
      var me = mine(room);
      return RANK[me] >= RANK.moderator && RANK[me] > RANK[roleOf(infos.get(room), author, false)];
    }

    /** Our own message in `room` was echoed: slow mode's countdown starts for us. */
    function posted(room) {
      slow.posted(room, seconds(room), moderates(room));
    }

    function dismissNotice() {
      el.notice.textContent = "";
      el.notice.hidden = true;
    }

    return {
      load: load,
      loaded: function (room) {
        return infos.has(room);
      },
      showTopic: showTopic,
      memberControls: memberControls,
      addMemberEntries: addMemberEntries,
      keepFocus: keepFocus,
      frame: frame,
      posted: posted,
      mayDelete: mayDelete,
      dismissNotice: dismissNotice,
    };
  }

  /**
   * The text for our notice line, or null: only the copy of a kick, ban or mute (or their
   * undoing) addressed to us. The room's copy of the same action ("max was muted") may reach
   * our page after ours, in either order, and must not replace it.
   */
  function personalNotice(data, me) {
    if (!data || data.personal !== true || !me || data.user !== me) return null;
    if (!PERSONAL.has(data.action) || typeof data.message !== "string") return null;
    return data.message;
  }

  return {
    create: create,
    roleOf: roleOf,
    moderationEntries: moderationEntries,
    personalNotice: personalNotice,
  };
});
