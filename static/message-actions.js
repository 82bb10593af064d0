/*
 * Acting on messages in the page: the per-message menu (Reply, React, Edit, Delete, Report: its
 * dialog is report-dialog.js's), "(edited)",
 * tombstones, reaction chips, a small emoji picker, the quoted excerpt above a reply and the
 * highlight of one's own mentions. Kept apart from the message log's rendering (app.js and
 * its view) so both can change: app.js calls `decorate` on each chat line it builds, `frame`
 * on each frame it gets, and `replyTo`/`editLast` from its composer.
 * The server decides everything (who may edit, the window, what an emoji is); the page only
 * offers and sends, and shows what the room is told.
 */
(function () {
  "use strict";

  var COMMON = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "✅", "🔥", "👏", "🤔"];
  var NAMES = {
    "👍": "thumbs up yes ok",
    "❤️": "heart love",
    "😂": "laugh joy tears",
    "🎉": "party tada celebrate",
    "😮": "wow surprised",
    "😢": "sad cry",
    "🙏": "thanks please pray",
    "👀": "eyes look",
    "✅": "done check yes",
    "🔥": "fire hot",
    "👏": "clap applause",
    "🤔": "think hmm",
  };
  var LONG_PRESS_MS = 500;
  var TYPES = { edited: 1, deleted: 1, reactions: 1, mention: 1 };

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /** One of this module's frames ({type: edited|deleted|reactions|mention, ...}) or null. */
  function parse(text) {
    var data;
    try {
      data = JSON.parse(text);
    } catch (_err) {
      return null;
    }
    if (!data || typeof data !== "object" || !TYPES[data.type]) return null;
    if (typeof data.room !== "string" || typeof data.id !== "string") return null;
    return data;
  }

  /** Copy the fields a message may carry (live frames and history rows alike). */
  function extras(item, data) {
    if (!data || typeof data !== "object") return item;
    if (typeof data.editedAt === "string") item.editedAt = data.editedAt;
    if (data.deleted === true) item.deleted = true;
    if (data.replyTo && typeof data.replyTo === "object") item.replyTo = data.replyTo;
    if (Array.isArray(data.mentions)) item.mentions = data.mentions.filter(function (m) {
      return typeof m === "string";
    });
    if (Array.isArray(data.reactions)) item.reactions = data.reactions;
    if (typeof data.reactionsRev === "number") item.reactionsRev = data.reactionsRev;
    return item;
  }

  function create(opts) {
    // opts: send(command) -> bool, me() -> user id, myName() -> shown name,
    // current() -> room, itemOf(room, id) -> item, lineOf(id) -> li, onReply(item), onEdit(item)
    var menu = null;

    var reporting = null; // the open report dialog (report-dialog.js), waiting for its answer

    function closeMenu() {
      if (menu) menu.remove();
      menu = null;
      reporting = null;
    }

    /** Report asks for a reason first (report-dialog.js), then shows the server's answer. */
    function askReport(item, anchor) {
      closeMenu();
      var dialog = window.ChatReportDialog.build(item, {
        send: opts.send,
        close: closeMenu,
        anchor: anchor,
      });
      menu = dialog.element;
      reporting = dialog;
      anchor.after(menu);
      dialog.focus();
    }

    /** A received frame: the answer to the open report dialog's report is shown in it. */
    function reportAnswer(data) {
      return !!reporting && reporting.answer(data);
    }

    function react(room, id, emoji) {
      opts.send({ type: "react", room: room, id: id, emoji: emoji });
    }

    function chips(item) {
      var list = node("div", "reactions");
      list.dataset.testid = "reactions";
      (item.reactions || []).forEach(function (r) {
        if (!r || typeof r.emoji !== "string") return;
        var users = Array.isArray(r.users) ? r.users : [];
        var chip = node("button", "chip", r.emoji + " " + (r.count || users.length));
        chip.type = "button";
        chip.dataset.testid = "reaction-chip";
        chip.title = users.join(", ") + (r.count > users.length ? " and others" : "");
        var mine = users.indexOf(opts.myName()) !== -1;
        chip.setAttribute("aria-pressed", mine ? "true" : "false");
        if (mine) chip.classList.add("mine");
        chip.addEventListener("click", function () {
          react(item.room, item.id, r.emoji);
        });
        list.append(chip);
      });
      return list;
    }

    function picker(item, anchor) {
      closeMenu();
      menu = node("div", "emoji-picker");
      menu.setAttribute("role", "dialog");
      menu.setAttribute("aria-label", "Pick a reaction");
      menu.dataset.testid = "emoji-picker";
      var search = node("input", "input emoji-search");
      search.type = "text";
      search.placeholder = "Search or paste an emoji";
      search.setAttribute("aria-label", "Search emoji");
      var grid = node("div", "emoji-grid");
      function fill() {
        var q = search.value.trim().toLowerCase();
        grid.replaceChildren();
        COMMON.filter(function (e) {
          return !q || NAMES[e].indexOf(q) !== -1 || e === q;
        }).forEach(function (e) {
          var b = node("button", "emoji-choice", e);
          b.type = "button";
          b.title = NAMES[e];
          b.addEventListener("click", function () {
            react(item.room, item.id, e);
            closeMenu();
          });
          grid.append(b);
        });
      }
      search.addEventListener("input", fill);
      search.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") closeMenu();
        if (ev.key === "Enter" && search.value.trim()) {
          ev.preventDefault();
          // Anything typed goes to the server, which says why when it is not one emoji.
          var first = grid.querySelector("button");
          react(item.room, item.id, first && !NAMES[search.value.trim()] ? first.textContent : search.value.trim());
          closeMenu();
        }
      });
      fill();
      menu.append(search, grid);
      anchor.after(menu);
      search.focus();
    }

    function editInPlace(item, li) {
      var text = li.querySelector(".text");
      if (!text) return;
      var input = node("input", "input edit-input");
      input.type = "text";
      input.value = item.message;
      input.setAttribute("aria-label", "Edit message (Enter saves, Esc cancels)");
      input.dataset.testid = "edit-input";
      text.hidden = true;
      text.after(input);
      input.focus();
      var finished = false;
      function done() {
        if (finished) return; // removing the input blurs it: once is enough
        finished = true;
        input.remove();
        text.hidden = false;
      }
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") {
          ev.preventDefault();
          done();
        } else if (ev.key === "Enter") {
          ev.preventDefault();
          if (input.value !== item.message) {
            opts.send({ type: "edit", room: item.room, id: item.id, message: input.value });
          }
          done();
        }
      });
      input.addEventListener("blur", done);
    }

    /** Delete asks first, in the page (a dialog box would block every other tab's page). */
    function confirmDelete(item, anchor) {
      closeMenu();
      menu = node("div", "message-menu confirm");
      menu.setAttribute("role", "alertdialog");
      menu.setAttribute("aria-label", "Delete this message for everyone?");
      menu.dataset.testid = "delete-confirm";
      menu.append(node("span", "confirm-text", "Delete for everyone?"));
      var yes = node("button", "menu-item danger", "Delete");
      yes.type = "button";
      yes.addEventListener("click", function () {
        opts.send({ type: "delete", room: item.room, id: item.id });
        closeMenu();
      });
      var no = node("button", "menu-item", "Cancel");
      no.type = "button";
      no.addEventListener("click", function () {
        closeMenu();
        anchor.focus();
      });
      menu.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") {
          closeMenu();
          anchor.focus();
        }
      });
      menu.append(yes, no);
      anchor.after(menu);
      no.focus();
    }

    function openMenu(item, li, anchor) {
      closeMenu();
      menu = node("div", "message-menu");
      menu.setAttribute("role", "menu");
      menu.setAttribute("aria-label", "Actions for this message");
      menu.dataset.testid = "message-menu";
      var own = item.userId ? item.userId === opts.me() : item.from === opts.me();
      var entries = [["Reply", function () { opts.onReply(item); }],
        ["React", function () { picker(item, anchor); }]];
      if (own && !item.deleted) {
        entries.push(["Edit", function () { editInPlace(item, li); }]);
      }
      // The author, or (issue 19) a moderator of the room: the server checks the roles again.
      if (!item.deleted && item.id && (own || (opts.canDelete && opts.canDelete(item)))) {
        entries.push(["Delete", function () { confirmDelete(item, anchor); }]);
      }
      // Anyone signed in may report someone else's message (issue 19), with a reason; the
      // server answers with a "reported" notice or says why not.
      if (!own && !item.deleted && item.id && opts.canReport && opts.canReport()) {
        entries.push(["Report", function () { askReport(item, anchor); }]);
      }
      entries.forEach(function (entry) {
        var b = node("button", "menu-item", entry[0]);
        b.type = "button";
        b.setAttribute("role", "menuitem");
        b.tabIndex = -1; // one Tab stop: the arrows walk the menu (menu-keys.js)
        b.addEventListener("click", function () {
          closeMenu();
          entry[1]();
        });
        menu.append(b);
      });
      window.ChatMenuKeys.attach(menu, function () {
        closeMenu();
        anchor.focus();
      });
      anchor.after(menu);
      var first = menu.querySelector("button");
      if (first) first.focus();
    }

    /** Add this module's parts to a chat line the log built for `item` (in `room`). */
    function decorate(li, item, room) {
      item.room = item.room || room;
      var bubble = li.querySelector(".bubble");
      if (!bubble) return li;
      if (item.deleted) {
        bubble.replaceChildren(node("span", "from", item.from), node("span", "tombstone", " deleted a message"));
        li.classList.add("deleted");
        li.dataset.deleted = "true";
        return li;
      }
      if (item.replyTo && typeof item.replyTo.id === "string") {
        var quote = node("button", "quote");
        quote.type = "button";
        quote.dataset.testid = "reply-quote";
        quote.append(node("span", "quote-from", String(item.replyTo.from || "")));
        quote.append(node("span", "quote-text", item.replyTo.deleted ? "(deleted message)" : String(item.replyTo.excerpt || "")));
        quote.addEventListener("click", function () {
          var target = opts.lineOf(item.replyTo.id);
          if (target) {
            target.scrollIntoView({ block: "center" });
            target.focus();
          }
        });
        bubble.before(quote);
      }
      if (item.editedAt) {
        var mark = node("span", "edited", " (edited)");
        mark.title = "Edited " + new Date(item.editedAt).toLocaleString();
        bubble.append(mark);
      }
      if (item.mentions && item.mentions.indexOf(opts.me()) !== -1) li.classList.add("mentions-me");
      var more = node("button", "menu-button", "⋯");
      more.type = "button";
      more.setAttribute("aria-label", "Actions for this message");
      more.setAttribute("aria-haspopup", "menu");
      more.dataset.testid = "menu-button";
      // Not a Tab stop per line: the log is walked with the arrow keys (message-view.js), and a
      // focused line opens this menu with Enter or "m".
      more.tabIndex = -1;
      more.addEventListener("click", function () {
        openMenu(item, li, more);
      });
      if (li.tabIndex < 0 && !li.hasAttribute("tabindex")) li.tabIndex = -1;
      li.addEventListener("keydown", function (ev) {
        if (ev.target !== li) return;
        if (ev.key === "Enter" || ev.key === "m" || ev.key === "ContextMenu") {
          ev.preventDefault();
          openMenu(item, li, more);
        }
      });
      var timer = 0;
      li.addEventListener("pointerdown", function (ev) {
        if (ev.pointerType !== "touch") return;
        timer = window.setTimeout(function () {
          openMenu(item, li, more);
        }, LONG_PRESS_MS);
      });
      ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
        li.addEventListener(name, function () {
          window.clearTimeout(timer);
        });
      });
      li.append(more);
      if (item.reactions && item.reactions.length) li.append(chips(item));
      return li;
    }

    /**
     * A frame of this module: applied to the room's item and its line. Returns true when the
     * frame was one (the log must not show it as text); `mention` returns true after counting.
     */
    function frame(text, onMention) {
      var data = parse(text);
      if (!data) return false;
      if (data.type === "mention") {
        onMention(data);
        return true;
      }
      var item = opts.itemOf(data.room, data.id);
      if (!item) return true; // not loaded here: history shows it as it is now
      if (data.type === "edited" && typeof data.message === "string") {
        item.message = data.message;
        item.editedAt = data.editedAt;
      } else if (data.type === "deleted") {
        item.deleted = true;
        item.message = "";
        delete item.reactions;
        delete item.replyTo;
        // Replies shown here quoted it: their quotes say "deleted" now, as history will.
        opts.items(data.room).forEach(function (other) {
          if (other.replyTo && other.replyTo.id === data.id && !other.replyTo.deleted) {
            other.replyTo = { id: data.id, from: other.replyTo.from, deleted: true };
            opts.redraw(data.room, other);
          }
        });
      } else if (data.type === "reactions" && Array.isArray(data.reactions)) {
        // Two toggles' states may arrive in either order: keep the newer revision.
        if (typeof data.rev === "number" && data.rev < (item.reactionsRev || 0)) return true;
        item.reactions = data.reactions;
        if (typeof data.rev === "number") item.reactionsRev = data.rev;
      }
      opts.redraw(data.room, item);
      return true;
    }

    document.addEventListener("click", function (ev) {
      // A click outside closes the menu; not the click that opened it (its button, or a menu
      // entry that replaced the menu and is no longer in the page).
      var target = ev.target;
      var opener = target.classList && target.classList.contains("menu-button");
      if (menu && target.isConnected && !opener && !menu.contains(target)) {
        closeMenu();
      }
    });

    /**
     * `@` autocomplete in the composer: names of the room's members that start with what
     * follows the "@" before the caret. Arrow keys move, Enter or Tab picks, Esc closes.
     */
    function autocomplete(input, members) {
      var list = node("ul", "mention-list");
      list.id = "mention-list";
      list.setAttribute("role", "listbox");
      list.dataset.testid = "mention-list";
      list.hidden = true;
      input.setAttribute("aria-controls", list.id);
      input.setAttribute("aria-autocomplete", "list");
      input.after(list);
      var active = 0;
      function query() {
        var before = input.value.slice(0, input.selectionStart || 0);
        var m = /(^|[^\p{L}\p{N}_])@([^@\s]*)$/u.exec(before);
        return m ? m[2] : null;
      }
      function pick(name) {
        var caret = input.selectionStart || 0;
        var before = input.value.slice(0, caret);
        var at = before.lastIndexOf("@");
        input.value = before.slice(0, at + 1) + name + " " + input.value.slice(caret);
        var place = at + name.length + 2;
        input.setSelectionRange(place, place);
        list.hidden = true;
        input.focus();
      }
      function show() {
        var q = query();
        var names = q === null ? [] : members().filter(function (n) {
          return n !== opts.myName() && n.toLowerCase().indexOf(q.toLowerCase()) === 0;
        }).slice(0, 8);
        list.replaceChildren();
        active = 0;
        names.forEach(function (name, i) {
          var li = node("li", "mention-option", name);
          li.setAttribute("role", "option");
          li.setAttribute("aria-selected", i === 0 ? "true" : "false");
          li.addEventListener("mousedown", function (ev) {
            ev.preventDefault(); // keep the caret in the composer
            pick(name);
          });
          list.append(li);
        });
        list.hidden = names.length === 0;
      }
      input.addEventListener("input", show);
      input.addEventListener("blur", function () {
        list.hidden = true;
      });
      input.addEventListener("keydown", function (ev) {
        if (list.hidden) return;
        var options = list.querySelectorAll("li");
        if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
          ev.preventDefault();
          ev.stopImmediatePropagation(); // not the composer's "edit my last message"
          options[active].setAttribute("aria-selected", "false");
          active = (active + (ev.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
          options[active].setAttribute("aria-selected", "true");
        } else if (ev.key === "Enter" || ev.key === "Tab") {
          ev.preventDefault();
          ev.stopImmediatePropagation();
          pick(options[active].textContent);
        } else if (ev.key === "Escape") {
          list.hidden = true;
        }
        // Capture: at the composer itself, capture listeners run before the composer's own
        // keydown (compose.js), whose Enter would otherwise send the half-typed "@na" first.
      }, true);
    }

    /** Edit `item` in place (Up arrow in an empty composer: one's last message). */
    function edit(item) {
      var li = opts.lineOf(item.id);
      if (li) editInPlace(item, li);
    }

    return {
      decorate: decorate,
      frame: frame,
      reportAnswer: reportAnswer,
      extras: extras,
      edit: edit,
      autocomplete: autocomplete,
    };
  }

  window.ChatMessageActions = { create: create, parse: parse, extras: extras };
})();
