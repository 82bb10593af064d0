/*
 * The chat page: DOM wiring only.
 *
 * Parsing and formatting live in chat-core.js and rooms-core.js (pure
 * functions), the socket and reconnect logic in chat-connection.js; this file
 * turns their results into elements and user actions into calls on them.
 *
 * Rooms: every room the page knows keeps its own lines, seen ids, unread
 * count, members, typing users and history cursor; the message list shows
 * the current room (named in the URL, "#room=<name>").
 *
 * Rule for everything below: data from the network is only ever written
 * with textContent / attributes, never parsed as HTML.
 */
(function () {
  "use strict";

  var core = window.ChatCore;
  var Connection = window.ChatConnection;
  var identity = window.ChatIdentity;
  var roomsCore = window.ChatRooms;
  var collapse = window.ChatCollapse;
  var view = window.ChatMessageView;
  var compose = window.ChatCompose;
  var presence = window.ChatPresence;
  var statusView = window.ChatStatusView;
  var notify = window.ChatNotify;
  var firstVisit = window.ChatFirstVisit;
  var messageActions = window.ChatMessageActions;
  var moderationView = window.ChatModeration;
  var reportsView = window.ChatReports;
  var conv = window.ChatConversations;
  var blocksView = window.ChatBlocks;

  var NAME_KEY = "chat.name";
  // Per tab (sessionStorage): ids of the lines this tab sent, so they stay "own" after a reload.
  var SENT_KEY = "chat.sent";
  var ROOMS_KEY = "chat.rooms";
  var READ_KEY = "chat.read";
  var HISTORY_PAGE = 50;
  /** Older lines are dropped beyond this so a long session stays fast. */
  var MAX_LINES = 500;

  var el = {
    app: document.getElementById("app"),
    status: document.getElementById("status"),
    retry: document.getElementById("retry-button"),
    leave: document.getElementById("leave-button"),
    joinPanel: document.getElementById("join-panel"),
    nameForm: document.getElementById("name-form"),
    nameInput: document.getElementById("name-input"),
    nameError: document.getElementById("name-error"),
    chatPanel: document.getElementById("chat-panel"),
    messages: document.getElementById("messages"),
    newMessages: document.getElementById("new-messages"),
    messageForm: document.getElementById("message-form"),
    messageInput: document.getElementById("message-input"),
    sendButton: document.getElementById("send-button"),
    sendError: document.getElementById("send-error"),
    counter: document.getElementById("message-counter"),
    announcer: document.getElementById("announcer"),
    roomList: document.getElementById("room-list"),
    roomForm: document.getElementById("room-form"),
    roomInput: document.getElementById("room-input"),
    roomError: document.getElementById("room-error"),
    roomTitle: document.getElementById("room-title"),
    roomPeerIdp: document.getElementById("room-peer-idp"),
    peerStatus: document.getElementById("peer-status"),
    members: document.getElementById("members"),
    roomTopic: document.getElementById("room-topic"),
    modNotice: document.getElementById("mod-notice"),
    topicEdit: document.getElementById("topic-edit"),
    topicEditor: document.getElementById("topic-editor"),
    slowIndicator: document.getElementById("slow-indicator"),
    slowWait: document.getElementById("slow-wait"),
    roomMod: document.getElementById("room-mod"),
    roomModBody: document.getElementById("room-mod-body"),
    reportsButton: document.getElementById("reports-button"),
    reportsPanel: document.getElementById("reports-panel"),
    reportsList: document.getElementById("reports-list"),
    reportsClose: document.getElementById("reports-close"),
    reportsStatus: document.getElementById("reports-status"),
    membersSummary: document.getElementById("members-summary"),
    memberList: document.getElementById("member-list"),
    loadEarlier: document.getElementById("load-earlier"),
    typing: document.getElementById("typing"),
    signInPanel: document.getElementById("sign-in-panel"),
    signInButtons: document.getElementById("sign-in-buttons"),
    signInError: document.getElementById("sign-in-error"),
    who: document.getElementById("who"),
    whoName: document.getElementById("who-name"),
    whoIdp: document.getElementById("who-idp"),
    signOut: document.getElementById("sign-out"),
    notifyButton: document.getElementById("notify-button"),
    hint: document.getElementById("rooms-hint"),
    dmHeading: document.getElementById("dm-heading"),
    dmList: document.getElementById("dm-list"),
    browse: document.getElementById("browse"),
    browseBody: document.getElementById("browse-body"),
    browseSearch: document.getElementById("browse-search"),
    browseList: document.getElementById("browse-list"),
  };
  // Direct conversations (conversations.js): room name -> {userId, name, idp} of the other.
  var dmPeers = new Map();
  var directory = null; // the last directory answer, searched as the reader types
  // Sign-in mode: the server lists its App Service Authentication providers here.
  var signInMeta = document.querySelector('meta[name="chat-sign-in"]');
  var providers = identity.providersFromMeta(signInMeta ? signInMeta.content : "");
  var signedInMode = providers.length > 0;

  /** What to show for a user id: the name of a signed-in user, else the id (a chosen name). */
  function shownName(userId) {
    var me = signedInMode ? identity.parseUserId(userId) : null;
    return me ? me.name : userId;
  }

  var session = null; // {name, connection, wasConnected, lost, connected, sent}
  var roomNames = [roomsCore.LOBBY]; // the room list, remembered
  // Leaves counted, and the count at each room's last leave: a /api/me/rooms answer asked for
  // before a leave still lists that room, and must not join it again.
  var leaves = 0;
  var leftAt = new Map();
  var current = roomsCore.LOBBY;
  var shownCurrent = null; // the current room the room list last scrolled into view
  // Room name -> {items, seen, unread, members, cursor, loaded, loading, typists, sentTyping}.
  // Maps, here and for typists, because the keys are data: in a plain {} a room or user
  // named "constructor" or "__proto__" finds what every object inherits instead of its entry.
  var roomState = new Map();
  var typingTimer = null;
  var countdown = statusView.createCountdown(el.status);
  // Opt-in notifications and the unread count in the tab title (notify.js: the title's only
  // writer; renderDirect feeds it the unread total).
  var notifier = notify.createNotifier({
    button: el.notifyButton,
    baseTitle: document.title,
    shownName: shownName,
    onOpen: function (name) {
      if (session && roomNames.indexOf(name) !== -1) showRoom(name);
    },
    openRoom: function () {
      return current;
    },
  });
  // The first-visit hint about rooms (first-visit.js).
  var hint = firstVisit.create(el.hint);
  var unread = 0;
  // Whether the reader is following the newest line. Kept up to date on
  // scroll, so a layout change (an error line under the composer, a phone
  // keyboard opening) can keep the newest line in view without guessing.
  var following = true;
  // Texts sent and not yet echoed or refused: a refused one goes back into the box.
  var pending = compose.createPending();
  var composer = null; // compose.attach's handle, once the page is wired
  // Room name -> time (ms) of the last line shown in it: where "new messages" starts next time.
  var readUpTo = loadRead();

  /* ---------- remembered name (localStorage may be unavailable) ---------- */

  function loadName() {
    try {
      return window.localStorage.getItem(NAME_KEY) || "";
    } catch (_err) {
      return "";
    }
  }

  function saveName(name) {
    try {
      window.localStorage.setItem(NAME_KEY, name);
    } catch (_err) {
      // Private browsing or storage disabled: the name just is not remembered.
    }
  }

  function loadRooms() {
    try {
      return roomsCore.parseRemembered(
        (window.localStorage.getItem(ROOMS_KEY) || "").toLowerCase()
      );
    } catch (_err) {
      return [roomsCore.LOBBY];
    }
  }

  function saveRooms() {
    try {
      window.localStorage.setItem(ROOMS_KEY, JSON.stringify(roomNames.slice(1)));
    } catch (_err) {
      // not remembered; the list still works for this visit
    }
  }

  /** The read markers, remembered as [room, ms] pairs (a Map: room names are data). */
  function loadRead() {
    try {
      var pairs = JSON.parse(window.localStorage.getItem(READ_KEY) || "[]");
      var read = new Map();
      if (Array.isArray(pairs)) {
        pairs.forEach(function (pair) {
          if (Array.isArray(pair) && typeof pair[0] === "string" && Number.isFinite(pair[1])) {
            read.set(pair[0], pair[1]);
          }
        });
      }
      return read;
    } catch (_err) {
      return new Map();
    }
  }

  /**
   * The current room was read up to its newest line: here (the "New messages" divider) and on
   * the server (sendRead: other tabs and devices clear their badges).
   */
  function markRead(name) {
    sendRead(name);
    var latest = room(name).items.reduce(function (max, item) {
      return Math.max(max, Date.parse(item.time) || 0);
    }, readUpTo.get(name) || 0);
    if (!latest) return;
    readUpTo.set(name, latest);
    try {
      window.localStorage.setItem(
        READ_KEY,
        JSON.stringify(Array.from(readUpTo).filter(function (pair) {
          return roomNames.indexOf(pair[0]) !== -1;
        }))
      );
    } catch (_err) {
      // not remembered; the marker still works for this visit
    }
  }

  function room(name) {
    var r = roomState.get(name);
    if (!r) {
      r = {
        items: [],
        seen: core.createSeenIds(),
        unread: 0,
        members: [],
        cursor: null,
        loaded: false,
        loading: false,
        typists: new Map(), // user id -> time their "is typing" ends
        sentTyping: 0,
        unreadAfter: null, // ms: the "new messages" divider goes before the first line after it
        lastLeft: new Map(), // user id -> {item, at}: their latest "left" notice here
        selfJoined: false, // our own "joined" line is shown (once)
      };
      roomState.set(name, r);
    }
    return r;
  }

  /* ---------- building message elements ---------- */

  function span(className, text) {
    var node = document.createElement("span");
    node.className = className;
    node.textContent = text;
    return node;
  }

  /**
   * A name or a message: its own bidi isolate (like <bdi>), with its direction
   * taken from its first strong letter, so a right-to-left name cannot pull
   * the text after it into its run and reorder it.
   */
  function isolated(className, text) {
    var node = span(className, text);
    node.dir = "auto";
    return node;
  }

  /** A line's time (the receive time when the server gave none), kept on the line for the view. */
  function timed(li, iso) {
    var date = core.parseTime(iso, new Date());
    li.dataset.time = String(date.getTime());
    li.append(view.timeElement(date));
    return li;
  }

  /**
   * A chat line (message-view.js builds it): avatar, "from (provider): message", time.
   * `whose` is "own", "other" or "same-name" (our name, not sent by this tab: see
   * presence-core.js), which says so next to the name.
   */
  function chatLine(item, whose) {
    var li = view.chatLine(item, {
      own: whose === "own",
      sameName: whose === "same-name",
      name: item.from,
      provider: item.idp ? identity.providerLabel(item.idp) : "",
      warning: identity.lookalikeWarning(item), // "" unless the server marked the name
      date: core.parseTime(item.time, new Date()),
    });
    return actions.decorate(li, item, item.room || current);
  }

  /** A system notice (joined/left, rejected, or a local connection note). */
  function systemLine(kind, text, extra) {
    var info = extra || {};
    var li = document.createElement("li");
    li.className = "system " + kind;
    li.dataset.event = kind;
    if (info.id) li.dataset.id = info.id;
    if (info.user) li.dataset.user = shownName(info.user);
    if (info.userId) li.dataset.userId = info.userId;
    li.append(span("text", text));
    if (info.idp) li.append(span("idp", identity.providerLabel(info.idp)));
    if (info.lookalike) li.append(span("lookalike", identity.lookalikeWarning(info)));
    return timed(li, info.time);
  }

  /**
   * The server's reply to a message it refused; only the sender sees it.
   * The server's own wording is shown unchanged (it already says what went
   * wrong); the stylesheet adds a warning badge.
   */
  function rejectedLine(message) {
    return systemLine("rejected", message, {});
  }

  /** A frame that is not one of ours: shown verbatim so nothing is silently lost. */
  function plainLine(text) {
    var li = document.createElement("li");
    li.className = "message plain";
    var body = document.createElement("p");
    body.className = "bubble";
    body.append(isolated("text", text));
    li.append(body);
    return timed(li, "");
  }

  /* ---------- the message list and its scrolling ---------- */

  function atBottom() {
    var m = el.messages;
    return core.isNearBottom(m.scrollTop, m.clientHeight, m.scrollHeight);
  }

  function scrollToBottom() {
    el.messages.scrollTop = el.messages.scrollHeight;
    following = true;
    unread = 0;
    el.newMessages.hidden = true;
  }

  /**
   * Append a line. Follow the conversation only if the reader was already
   * at the bottom (or sent the line): someone who scrolled up to read gets a
   * "new messages" button instead of being yanked down.
   */
  function appendLine(li, forceScroll) {
    var follow = forceScroll || following || atBottom();
    el.messages.append(li);
    var bubble = li.querySelector(".bubble");
    if (bubble) collapse.collapseIfTall(bubble);
    // Day separators count here too: a few lines fewer than MAX_LINES, which is only a bound.
    while (el.messages.childElementCount > MAX_LINES) {
      el.messages.firstElementChild.remove();
    }
    view.decorate(el.messages);
    if (follow) {
      scrollToBottom();
    } else {
      unread += 1;
      el.newMessages.textContent =
        unread === 1 ? "1 new message ↓" : unread + " new messages ↓";
      el.newMessages.hidden = false;
    }
  }

  /** Whose line: "own", "same-name" or "other" (decided once, when the line arrives). */
  function whose(item) {
    if (!session) return "other";
    var mine = item.mine || session.sent.isMine(item.id);
    return presence.ownership(item, session.name, signedInMode, mine);
  }

  function loadSentIds() {
    try {
      var ids = JSON.parse(window.sessionStorage.getItem(SENT_KEY) || "[]");
      return Array.isArray(ids) ? ids : [];
    } catch (_err) {
      return [];
    }
  }

  function saveSentIds() {
    try {
      window.sessionStorage.setItem(SENT_KEY, JSON.stringify(session.sent.ids()));
    } catch (_err) {
      // not remembered: after a reload this tab's lines show as "another tab or your name"
    }
  }

  /** The element for one item of a room's list. */
  function lineFor(item) {
    if (blocks.hides(item)) return systemLine("blocked", blocksView.HIDDEN, { time: item.time });
    switch (item.kind) {
      case "chat":
        return chatLine(item, whose(item));
      case "system":
        return systemLine(item.event || "notice", item.message, {
          id: item.id,
          user: item.user,
          userId: item.userId,
          idp: item.idp,
          lookalike: item.lookalike,
          time: item.time,
        });
      case "rejected":
        return rejectedLine(item.message);
      case "local":
        return systemLine("local", item.message, { time: item.time });
      default:
        return plainLine(item.message);
    }
  }

  /** Add an item to a room: shown at once in the current room, counted as unread elsewhere. */
  function addItem(name, item, forceScroll) {
    var r = room(name);
    r.items.push(item);
    if (r.items.length > MAX_LINES) r.items.shift();
    if (name === current) {
      appendLine(lineFor(item), forceScroll);
      markRead(name);
    } else if (item.kind === "chat" && whose(item) === "other") {
      // Unread counts what others said (as the server does: not our other tabs' and
      // devices' lines); joined/left notices are not worth a badge.
      r.unread += 1;
      renderRoomList();
    }
  }

  function localNote(text) {
    addItem(current, { kind: "local", message: text, time: new Date().toISOString() }, false);
  }

  /** Handle one received frame. */
  function onText(text) {
    if (!session) return;
    var read = conv.readFrame(text);
    if (read) {
      // Read on another tab or device: clear the badge here too.
      room(read.room).unread = 0;
      notifier.read(read.room);
      renderRoomList();
      return;
    }
    if (actions.frame(text, onMention)) return; // edited, deleted, reactions, mention
    var special = roomsCore.parseRoomFrame(text);
    if (special) {
      var target = room(special.room);
      if (special.kind === "presence") {
        target.members = special.users.slice();
        target.membersPartial = special.partial; // a crowd past one listing: not all named
      } else if (special.user !== session.name) {
        target.typists.set(special.user, Date.now() + roomsCore.TYPING_SHOW_MS);
        scheduleTypingRefresh();
      }
      if (showsInfoOf(special.room)) renderRoomInfo();
      return;
    }
    if (signedInMode) {
      var data = safeJson(text);
      var about = roomsCore.roomOf(text, roomsCore.LOBBY);
      reports.frame(data);
      actions.reportAnswer(data); // shown in the report dialog too (and in the log, below)
      if (blocks.frame(data)) return; // ours or another tab's: redrawn by onChange
      if (moderation.frame(data, about)) {
        addItem(about, { kind: "local", message: data.message, time: new Date().toISOString() }, true);
        return;
      }
    }
    var item = core.parseFrame(text);
    // A refusal without a room answers what was just done here; other frames without
    // one come from the lobby (the tutorial's wire format).
    var name = roomsCore.roomOf(text, item.kind === "rejected" ? current : roomsCore.LOBBY);
    var r = room(name);
    if (conv.isDirect(name) && item.kind === "chat") rememberPeer(name, text);
    // Upstream retries can deliver an event twice, and history can hold what came live:
    // the id is stable per message, so each is shown once.
    if (item.id && !r.seen.add(item.id)) return;
    if (item.kind === "chat") {
      messageActions.extras(item, safeJson(text));
      item.room = name;
      r.typists.delete(item.userId || item.from);
      item.tag = tagOf(text);
      // Ours only if this tab sent it (without sign-in, the name alone cannot say). Only a line
      // from our user id may claim a pending send: someone else's identical "hi" must not.
      item.mine = (item.userId || item.from) === session.name && session.sent.claim(item, name);
      if (item.mine) saveSentIds();
    }
    var own = item.kind === "chat" && whose(item) === "own";
    // This tab's text: an echo settles it, a refusal of a message brings it back to the box.
    if (own) pending.echoed(item.message, item.tag);
    if (own && signedInMode) moderation.posted(name); // slow mode's wait starts
    if (item.kind === "rejected" && compose.refusesMessage(item.message)) {
      restoreRefused(tagOf(text)); // the server names the refused text by its tag
    }
    if (notifier.frame(text, item, own)) return;
    if (item.kind === "system" && !presenceNotice(name, r, item)) {
      if (showsInfoOf(name)) renderRoomInfo();
      return;
    }
    addItem(name, item, own || item.kind === "rejected");
    if (showsInfoOf(name)) renderRoomInfo();
    if (name === current && item.kind === "chat" && !own) {
      // The log is not a live region (a room switch would re-read all of it): this says just
      // the new message, politely.
      var provider = item.idp ? identity.providerLabel(item.idp) : "";
      view.announce(el.announcer, view.announcement(item.from, provider, item.message));
    }
  }

  /**
   * The server refused the oldest text still waiting for an answer: it goes back into the
   * box (after whatever is being typed there), so nothing written is ever lost. Several
   * refused in a burst come back together, one per line, ready to send again as one message.
   */
  function restoreRefused(tag) {
    var text = pending.refused(tag);
    if (!text) return;
    el.messageInput.value = compose.restoreInto(el.messageInput.value, text);
    composer.refresh();
    el.sendError.textContent = "The refused text is back in the message box.";
    el.sendError.dataset.note = "restored";
  }

  /**
   * The connection dropped with texts not yet echoed or refused: they may never have arrived,
   * and the old socket will not say. Back into the box with them; the writer decides (the
   * history reloaded on reconnecting shows any that did arrive).
   */
  function restoreUnanswered() {
    var texts = pending.takeAll();
    if (!texts.length) return;
    texts.forEach(function (text) {
      el.messageInput.value = compose.restoreInto(el.messageInput.value, text);
    });
    composer.refresh();
    el.sendError.textContent =
      "The connection dropped before the server confirmed your last message: it is back in " +
      "the box. Check the conversation before sending it again.";
    el.sendError.dataset.note = "restored"; // kept past the reconnect, until the writer acts
  }

  /** The tag the server may echo with a message this tab sent (see presence-core.js). */
  function tagOf(text) {
    try {
      var data = JSON.parse(text);
      return data && typeof data.tag === "string" ? data.tag : "";
    } catch (_err) {
      return "";
    }
  }

  /**
   * Keep the member list in step with a joined/left notice, and say whether the notice needs a
   * line of its own. A "joined" for someone already listed is not news (their other tab, or
   * this page reconnecting); one soon after their "left" (a reload) turns that line into
   * "left and came back" instead of adding another.
   */
  function presenceNotice(name, r, item) {
    if (item.event !== "joined" && item.event !== "left") return true;
    var user = item.userId || item.user;
    // Our own arrival is shown once per room (our snapshot may already list us); after that,
    // like anyone's, only when we were not listed.
    var ours = item.event === "joined" && item.user === session.name;
    var news = ours ? !r.selfJoined : presence.isNewJoin(r.members, item.event, item.user);
    if (ours) r.selfJoined = true;
    r.members = roomsCore.applyNotice(r.members, item.event, item.user);
    if (item.event === "left") {
      r.lastLeft.set(user, { item: item, at: Date.now() });
      return true;
    }
    if (!news) return false;
    var left = r.lastLeft.get(user);
    r.lastLeft.delete(user);
    var recent = left && left.item.id && Date.now() - left.at <= presence.REJOIN_MS;
    if (!recent || r.items.indexOf(left.item) === -1) return true;
    left.item.event = "rejoined";
    left.item.message = shownName(item.user) + " left and came back";
    if (name === current) {
      var old = el.messages.querySelector('li[data-id="' + CSS.escape(left.item.id) + '"]');
      if (old) old.replaceWith(lineFor(left.item));
    }
    return false;
  }

  /* ---------- rooms: list, header, members, typing, history ---------- */

  /**
   * A room's (or a direct conversation's) button in the sidebar, without its content. The name
   * may be cut with an ellipsis: the tooltip and the accessible name hold it whole.
   */
  function roomButton(name, shown, label) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "room-button";
    button.dataset.room = name;
    button.setAttribute("aria-current", name === current ? "true" : "false");
    button.setAttribute("aria-label", shown + (label ? ", " + label + " unread" : ""));
    button.title = shown;
    return button;
  }

  function renderRoomList() {
    var nodes = roomNames.map(function (name) {
      var r = room(name);
      var li = document.createElement("li");
      li.className = "room-item";
      var label = roomsCore.unreadLabel(r.unread);
      var button = roomButton(name, name, label);
      if (r.mentions) button.dataset.mentions = String(r.mentions); // shown as "@" by the badge
      button.append(span("room-name", name));
      if (label) button.append(span("badge", label));
      li.append(button);
      if (name !== roomsCore.LOBBY) {
        var leave = document.createElement("button");
        leave.type = "button";
        leave.className = "room-leave";
        leave.dataset.leave = name;
        leave.setAttribute("aria-label", "Leave " + name);
        leave.textContent = "×";
        li.append(leave);
      }
      return li;
    });
    el.roomList.replaceChildren.apply(el.roomList, nodes);
    var shown = el.roomList.querySelector('[aria-current="true"]');
    if (shown && shownCurrent !== current) {
      shownCurrent = current; // once listed: a room is shown before its join is confirmed
      keepInView(el.roomList, shown);
    }
    renderDirect();
  }

  /**
   * On a phone the room list is one row that scrolls sideways: the current room is scrolled
   * into it when it changes (only then, so a swipe along the row is not undone). Only the list
   * scrolls, never the page.
   */
  function keepInView(list, item) {
    if (!item || list.scrollWidth <= list.clientWidth) return;
    var box = list.getBoundingClientRect();
    var at = item.getBoundingClientRect();
    // Its start first: a name wider than the row shows how it begins.
    if (at.left < box.left || at.width > box.width) list.scrollLeft -= box.left - at.left;
    else if (at.right > box.right) list.scrollLeft += at.right - box.right;
  }

  /* ---------- conversations (issue 17): DMs, read positions, catch-up, the directory ---------- */

  function rememberPeer(name, text) {
    try {
      var peer = conv.peerOf(JSON.parse(text), session.name);
      if (peer && peer.userId) dmPeers.set(name, peer);
    } catch (_err) {
      // not JSON: no peer
    }
  }

  /** The DM list in the sidebar, and the unread total for the tab title ("(3) Chat"). */
  function renderDirect() {
    var total = 0;
    roomNames.forEach(function (name) {
      total += room(name).unread;
    });
    var nodes = [];
    dmPeers.forEach(function (peer, name) {
      var r = room(name);
      total += r.unread;
      var li = document.createElement("li");
      li.className = "room-item";
      var label = roomsCore.unreadLabel(r.unread);
      var button = roomButton(name, peer.name, label);
      button.dataset.kind = "dm"; // "@", not "#", before the name (style.css)
      button.append(isolated("room-name", peer.name));
      if (peer.idp) button.append(span("idp", identity.providerLabel(peer.idp)));
      if (label) button.append(span("badge", label));
      li.append(button);
      nodes.push(li);
    });
    el.dmList.replaceChildren.apply(el.dmList, nodes);
    el.dmHeading.hidden = nodes.length === 0;
    notifier.unread(total);
  }

  /**
   * Tell the server (and so our other tabs and devices) what we have seen in a room. At most
   * one `read` per room a second, the newest at the end of it: the server takes a connection's
   * reads at about that rate, and a busy room must not spend them on every line.
   */
  function sendRead(name) {
    if (!session || !session.connected || document.visibilityState === "hidden") return;
    var r = room(name);
    if (r.readTimer) return; // a send is due: it will take the newest line then
    var now = Date.now();
    var wait = Math.max(0, (r.readAt || 0) + 1000 - now);
    r.readTimer = window.setTimeout(function () {
      r.readTimer = null;
      if (!session || !session.connected) return;
      var id = conv.newestId(r.items);
      if (!id || id === r.readSent) return;
      r.readSent = id;
      r.readAt = Date.now();
      sendCommand({ type: "read", room: name, id: id });
    }, wait);
  }

  /** The server's list of our rooms and DMs, with unread counts that follow us across devices. */
  function loadMyRooms() {
    var asked = session;
    var leavesBefore = leaves;
    conv
      .getJson(window.fetch.bind(window), conv.myRoomsUrl(session.name, signedInMode))
      .then(function (body) {
        if (session !== asked) return;
        conv.parseMyRooms(body).forEach(function (entry) {
          if ((leftAt.get(entry.room) || 0) > leavesBefore) return; // left since it was asked
          if (entry.kind === "dm") {
            if (entry.peer && entry.peer.userId) dmPeers.set(entry.room, entry.peer);
          } else if (roomNames.indexOf(entry.room) === -1) {
            if (roomNames.length >= roomsCore.MAX_ROOMS) return;
            roomNames.push(entry.room); // joined on another device: join here too
            saveRooms();
            sendCommand({ type: "join", room: entry.room });
          }
          if (entry.room !== current) {
            room(entry.room).unread = entry.unread;
            room(entry.room).mentions = entry.mentions; // the room button's "@" badge
          }
        });
        renderRoomList();
      })
      .catch(function () {
        // The list stays as this browser remembers it.
      });
  }

  /**
   * Lines from others newer than the newest one held, come into the room shown through history
   * (after a reconnect): for the tab title, like live ones (notify.js ignores them unless hidden).
   */
  function noteArrivals(name, fresh, newestHeld) {
    if (name !== current || !newestHeld || !session) return;
    fresh.forEach(function (item) {
      if (item.time > newestHeld && (item.userId || item.from) !== session.name) notifier.arrived();
    });
  }

  /** After a reconnect: everything said since the newest line held, in every conversation. */
  function catchUpAll() {
    var asked = session;
    var names = roomNames.concat(Array.from(dmPeers.keys()));
    names.forEach(function (name) {
      var r = room(name);
      // From the newest line held; a conversation with none shown, from when the socket dropped.
      var since = conv.sinceFor(conv.latestTime(r.items) || session.droppedAt || "");
      if (!since) return;
      conv
        .catchUp(window.fetch.bind(window), name, since, function (page) {
          if (session !== asked) return;
          var fresh = roomsCore.olderItems(page, r.seen);
          if (!fresh.length) return;
          noteArrivals(name, fresh, conv.latestTime(r.items));
          r.items = r.items.concat(fresh).sort(byTime).slice(-MAX_LINES);
          if (name === current) {
            renderMessages();
            markRead(name);
          } else {
            r.unread += fresh.filter(function (item) {
              return item.kind === "chat" && whose(item) === "other";
            }).length;
          }
          renderRoomList();
        })
        .catch(function () {
          if (name === current) localNote("Could not catch up on " + name + ".");
        });
    });
  }

  /** "Message" on a member: open (or start) the direct conversation with them. */
  function openDirect(peer) {
    if (!session || !window.crypto || !window.crypto.subtle) return;
    conv.directName(session.name, peer.userId, window.crypto.subtle).then(function (name) {
      if (!dmPeers.has(name)) dmPeers.set(name, peer);
      showRoom(name);
      el.messageInput.focus();
    });
  }

  function renderDirectory() {
    var rooms = conv.parseDirectory(directory, el.browseSearch.value);
    var nodes = rooms.map(function (entry) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "room-button";
      button.dataset.browse = entry.room;
      button.append(span("room-name", entry.room));
      button.append(span("browse-members", entry.members + " here"));
      var active = conv.activeAgo(entry.lastMessageTime, Date.now());
      if (active) button.append(span("browse-active", active));
      li.append(button);
      return li;
    });
    el.browseList.replaceChildren.apply(el.browseList, nodes);
  }

  function onBrowseToggle() {
    // Hidden while closed: a closed <details> keeps its controls out of the tab order anyway.
    el.browseBody.hidden = !el.browse.open;
    if (!el.browse.open || !session) return;
    conv
      .getJson(window.fetch.bind(window), conv.directoryUrl(session.name, signedInMode, 50))
      .then(function (body) {
        directory = body;
        renderDirectory();
      })
      .catch(function () {
        el.browseList.replaceChildren();
      });
  }

  function onBrowseClick(event) {
    var target = event.target.closest("button");
    if (!target || !target.dataset.browse) return;
    el.browse.open = false;
    enterRoom(target.dataset.browse);
    el.messageInput.focus();
  }

  function onMemberClick(event) {
    var target = event.target.closest("button");
    if (!target || !target.dataset.dm) return;
    openDirect({ userId: target.dataset.dm, name: target.dataset.name, idp: target.dataset.idp });
  }

  /**
   * Whether the header shows something of this room: its own, or, in a DM, the lobby's
   * presence (everyone is in the lobby, so it says whether the other person is online).
   */
  function showsInfoOf(name) {
    return name === current || (name === roomsCore.LOBBY && dmPeers.has(current));
  }

  function renderRoomInfo() {
    var r = room(current);
    var peer = dmPeers.get(current);
    var connected = !!session && session.connected;
    // A DM reads as a person: "@" (CSS) before their name, their provider, online or not.
    el.roomTitle.textContent = peer ? peer.name : current;
    el.roomTitle.dataset.kind = peer ? "dm" : "room";
    el.roomPeerIdp.textContent = peer && peer.idp ? identity.providerLabel(peer.idp) : "";
    el.roomPeerIdp.hidden = !el.roomPeerIdp.textContent;
    el.members.hidden = !!peer;
    el.peerStatus.hidden = !peer;
    if (peer) {
      var lobby = room(roomsCore.LOBBY);
      var status = conv.peerStatus(lobby.members, peer.userId, connected, lobby.membersPartial);
      el.peerStatus.dataset.state = status.state;
      el.peerStatus.textContent = status.text;
    }
    moderation.showTopic(current);
    var members = presence.memberEntries(
      r.members,
      session ? session.name : "",
      signedInMode ? identity.parseUserId : null
    );
    el.membersSummary.textContent = presence.countLabel(members.length, signedInMode, connected);
    // While disconnected the list is the last one known: kept, but marked as such.
    el.memberList.dataset.stale = connected ? "false" : "true";
    var refocus = moderation.keepFocus(el.memberList);
    el.memberList.replaceChildren.apply(el.memberList, members.map(memberLine));
    refocus();
    var typists = new Map();
    r.typists.forEach(function (until, user) {
      var name = shownName(user);
      // Two providers can both have an "alice": the one typing longest counts.
      typists.set(name, Math.max(until, typists.get(name) || 0));
    });
    el.typing.textContent = roomsCore.typingText(typists, Date.now());
    el.loadEarlier.hidden = !(r.loaded && r.cursor);
  }

  /** One member: the name, the provider in sign-in mode (same name, two accounts), "(you)". */
  function memberLine(entry) {
    var li = document.createElement("li");
    li.className = "member";
    li.dataset.userId = entry.userId;
    li.append(isolated("member-name", entry.name));
    if (entry.idp) li.append(span("idp", identity.providerLabel(entry.idp)));
    if (entry.me) {
      // Without sign-in the server cannot tell who else uses our name: say so.
      var you = signedInMode ? "(you)" : "(you, and anyone else using this name)";
      li.append(span("member-you", you));
    } else if (signedInMode && entry.userId) {
      // Direct messages need sign-in (a chosen name can be anyone's).
      var message = document.createElement("button");
      message.type = "button";
      message.className = "btn btn-small btn-quiet member-message";
      message.dataset.dm = entry.userId;
      message.dataset.name = entry.name;
      message.dataset.idp = entry.idp || "";
      message.textContent = "Message";
      message.setAttribute("aria-label", "Message " + entry.name);
      message.dataset.focusKey = "message\n" + entry.userId;
      li.append(message);
      // One menu per member: moderation's entries and Block/Unblock (blocks.js adds them).
      var controls = moderation.memberControls(current, entry);
      if (controls) li.append(controls);
    }
    return li;
  }

  function scheduleTypingRefresh() {
    if (typingTimer !== null) window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () {
      typingTimer = null;
      renderRoomInfo();
    }, roomsCore.TYPING_SHOW_MS + 50);
  }

  /** Show the current room's lines from scratch (on switching rooms or after history). */
  function renderMessages() {
    var r = room(current);
    var lines = r.items.map(lineFor);
    el.messages.replaceChildren.apply(el.messages, lines);
    // Whether the list now holds the room's history: until then, the page rebuilds it when the
    // first page arrives (a documented hook, e.g. for tests that keep hold of a line).
    el.messages.dataset.history = r.loaded ? "loaded" : "pending";
    collapseTall(lines);
    var divider = view.markUnread(el.messages, firstUnread(r));
    view.decorate(el.messages);
    scrollToBottom();
    if (divider) {
      // More new lines than fit: start reading at the divider, not below the newest line.
      var gap = divider.getBoundingClientRect().top - el.messages.getBoundingClientRect().top;
      if (gap < 0) el.messages.scrollTop += gap - 8;
      following = atBottom();
    }
    markRead(current);
  }

  /** The first line said by someone else after the room was last read, or null. */
  function firstUnread(r) {
    if (r.unreadAfter === null) return null;
    var lines = el.messages.querySelectorAll(":scope > li.message:not(.own):not(.plain)");
    for (var i = 0; i < lines.length; i += 1) {
      if (Number(lines[i].dataset.time) > r.unreadAfter) return lines[i];
    }
    return null;
  }

  /** Tall messages are collapsed once they are in the document (they must be measured). */
  function collapseTall(lines) {
    lines.forEach(function (li) {
      var bubble = li.querySelector(".bubble");
      if (bubble) collapse.collapseIfTall(bubble);
    });
  }

  function byTime(a, b) {
    return (Date.parse(a.time) || 0) - (Date.parse(b.time) || 0);
  }

  /**
   * Fetch a page of history. The first page (no cursor) is merged with what arrived live and
   * put in time order; "load earlier" pages go on top, keeping the reader's place.
   */
  function loadHistory(name, older) {
    var r = room(name);
    if (r.loading || !session) return;
    r.loading = true;
    var url = roomsCore.historyUrl(name, HISTORY_PAGE, older ? r.cursor : null);
    window
      .fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("history answered " + res.status);
        return res.json();
      })
      .then(function (page) {
        r.loading = false;
        var fresh = roomsCore.olderItems(page, r.seen);
        r.cursor = page.next || null;
        r.loaded = true;
        if (older) {
          r.items = fresh.concat(r.items);
          var place = null;
          if (name === current) {
            // The line at the top of the view stays where it is: the reader scrolls up into
            // the older lines they asked for. (These lines once lived in a `var older` that,
            // hoisted, hid the parameter: the page took the first-page path and jumped down.)
            place = view.savePlace(el.messages);
            var earlier = fresh.map(lineFor);
            el.messages.prepend.apply(el.messages, earlier);
            collapseTall(earlier);
            view.decorate(el.messages);
          }
        } else {
          noteArrivals(name, fresh, conv.latestTime(r.items)); // a reload after a reconnect
          r.items = r.items.concat(fresh).sort(byTime).slice(-MAX_LINES);
          if (name === current) renderMessages();
        }
        if (name === current) renderRoomInfo();
        if (place) {
          // After renderRoomInfo: the last page hides "Load earlier", which moves the list.
          view.restorePlace(el.messages, place);
          following = atBottom();
        }
      })
      .catch(function () {
        r.loading = false;
        // A DM not started yet has no history to show (403 until its first message).
        if (conv.isDirect(name)) r.loaded = true;
        else if (name === current) localNote("Could not load earlier messages of " + name + ".");
      });
  }

  function showRoom(name) {
    current = name;
    var r = room(name);
    r.unread = 0;
    // The divider marks what came since this room was last read (in this visit or before).
    r.unreadAfter = readUpTo.has(name) ? readUpTo.get(name) : null;
    r.mentions = 0;
    renderRoomList();
    renderRoomInfo();
    renderMessages();
    hint.update(name);
    markRead(name);
    // A DM is not a room: it stays out of the URL (a shared link would be joined as one).
    var hash = conv.isDirect(name) ? "" : roomsCore.hashForRoom(name);
    if (window.location.hash !== hash) {
      window.history.replaceState(null, "", hash || window.location.pathname + window.location.search);
    }
    if (!r.loaded && session && session.wasConnected) loadHistory(name, false);
    if (signedInMode && !conv.isDirect(name) && !moderation.loaded(name) && session) {
      moderation.load(name);
    }
  }

  function sendCommand(command) {
    return !!session && session.connection.send(JSON.stringify(command));
  }

  /** Add a room to the list (remembered) and ask the server to put us in it. */
  function enterRoom(name) {
    name = name.toLowerCase(); // the server's names are case-insensitive, answered lowercase
    if (conv.isDirect(name)) return;
    if (roomNames.indexOf(name) === -1) {
      if (roomNames.length >= roomsCore.MAX_ROOMS) {
        el.roomError.textContent = "You are in " + roomsCore.MAX_ROOMS + " rooms: leave one first.";
        return;
      }
      roomNames.push(name);
      saveRooms();
      sendCommand({ type: "join", room: name });
    }
    showRoom(name);
  }

  function leaveRoom(name) {
    if (name === roomsCore.LOBBY) return;
    sendCommand({ type: "leave", room: name });
    leaves += 1;
    leftAt.set(name, leaves);
    roomNames = roomNames.filter(function (n) {
      return n !== name;
    });
    roomState.delete(name);
    saveRooms();
    if (current === name) showRoom(roomsCore.LOBBY);
    else renderRoomList();
  }

  /* ---------- connection state ---------- */

  function onState(state, detail) {
    el.status.dataset.state = state;
    el.app.dataset.state = state;
    var shown = detail.name ? Object.assign({}, detail, { name: shownName(detail.name) }) : detail;
    if (state === "reconnecting" && detail.delayMs) {
      // Counts down every second until the next attempt (status-view.js).
      var deadline = Date.now() + detail.delayMs;
      countdown.show(core.describeState(state, shown), deadline, function (secs) {
        return core.describeState(state, { delayMs: secs * 1000 });
      });
    } else {
      countdown.show(core.describeState(state, shown));
    }
    if (detail.reason && state === "reconnecting") el.status.title = detail.reason;
    else el.status.removeAttribute("title");

    var connected = state === "connected";
    if (state === "reconnecting" || state === "disconnected") restoreUnanswered();
    updateSendButton();
    el.messageInput.placeholder = connected ? "Write a message…" : "Waiting for the connection…";
    // A note about text put back in the box stays until the writer acts on it.
    if (connected && el.sendError.dataset.note !== "restored") {
      el.sendError.textContent = "";
    }
    el.retry.hidden = !(state === "reconnecting" || (state === "disconnected" && session));

    if (!session) return;
    if (session.connected && !connected) session.droppedAt = new Date().toISOString();
    session.connected = connected;
    renderRoomInfo(); // the member count is stale while disconnected
    if (connected) {
      // Own-message detection must use the id the server puts in "from".
      session.name = detail.name || session.name;
      if (signedInMode) showSignedIn(session.name);
      if (session.wasConnected) localNote("Reconnected.");
      if (session.wasConnected) catchUpAll();
      loadMyRooms();
      if (signedInMode) reports.probe(); // admins only: the server answers 403 to anyone else
      if (signedInMode) blocks.load();
      session.wasConnected = true;
      session.lost = false;
      // A new connection is in the lobby only: join the rest again, and fetch what was
      // said meanwhile (merged by id with what is already shown).
      roomNames.slice(1).forEach(function (name) {
        sendCommand({ type: "join", room: name });
      });
      roomState.forEach(function (r) {
        r.loaded = false;
      });
      loadHistory(current, false);
    } else if (state === "reconnecting" && session.wasConnected && !session.lost) {
      // Note the drop once, not on every failed attempt.
      session.lost = true;
      localNote("Connection lost. Trying to reconnect…");
    } else if (state === "disconnected" && detail.fatal) {
      // The server refused the request itself (e.g. an unacceptable name):
      // retrying cannot help, so go back to the name form and say why.
      endSession();
      showJoin(detail.reason || "The server refused this name.");
    }
  }

  /* ---------- views ---------- */

  /** Sign-in mode's stand-in for the name form: one link per provider. */
  function showSignIn(error) {
    el.app.dataset.view = "sign-in";
    el.chatPanel.hidden = true;
    el.joinPanel.hidden = true;
    el.signInPanel.hidden = false;
    el.leave.hidden = true;
    el.retry.hidden = true;
    el.who.hidden = true;
    el.signOut.hidden = true;
    // The server's 401 says "sign-in required", which the panel already says.
    el.signInError.textContent = error && !/^sign-in required/.test(error) ? error : "";
    var back = identity.returnPath(window.location);
    el.signInButtons.replaceChildren();
    providers.forEach(function (idp) {
      var link = document.createElement("a");
      link.className = "btn btn-primary";
      link.href = identity.loginUrl(idp, back);
      link.dataset.provider = idp;
      link.textContent = "Sign in with " + identity.providerLabel(idp);
      el.signInButtons.append(link);
    });
    var first = el.signInButtons.firstElementChild;
    if (first) first.focus();
  }

  function showSignedIn(userId) {
    var me = identity.parseUserId(userId);
    el.whoName.textContent = me ? me.name : userId;
    el.whoIdp.textContent = me ? identity.providerLabel(me.idp) : "";
    el.who.hidden = false;
    el.signOut.href = identity.logoutUrl(identity.returnPath(window.location));
    el.signOut.hidden = false;
  }

  function showJoin(error) {
    if (signedInMode) {
      showSignIn(error);
      return;
    }
    el.app.dataset.view = "join";
    el.chatPanel.hidden = true;
    el.joinPanel.hidden = false;
    el.leave.hidden = true;
    el.retry.hidden = true;
    el.nameError.textContent = error || "";
    el.nameInput.setAttribute("aria-invalid", error ? "true" : "false");
    el.nameInput.focus();
  }

  function showChat() {
    el.app.dataset.view = "chat";
    el.joinPanel.hidden = true;
    el.chatPanel.hidden = false;
    el.signInPanel.hidden = true;
    el.leave.hidden = signedInMode;
    el.messageInput.focus();
  }

  /* ---------- session ---------- */

  function startSession(name) {
    endSession();
    var meta = document.querySelector('meta[name="chat-direct-url"]');
    var direct = core.directUrl(meta ? meta.content : "", window.location.search, name);
    session = {
      name: name,
      wasConnected: false,
      lost: false,
      connected: false,
      connection: null,
      sent: presence.createSentTracker({ ids: loadSentIds() }),
    };
    roomState = new Map();
    dmPeers = new Map();
    roomNames = loadRooms();
    var wanted = roomsCore.roomFromHash(window.location.hash).toLowerCase();
    if (conv.isDirect(wanted)) wanted = roomsCore.LOBBY;
    if (roomNames.indexOf(wanted) === -1 && roomNames.length < roomsCore.MAX_ROOMS) {
      roomNames.push(wanted); // a shared link to a room: join it
      saveRooms();
    }
    el.sendError.textContent = "";
    showChat();
    showRoom(roomNames.indexOf(wanted) === -1 ? roomsCore.LOBBY : wanted);
    session.connection = Connection.createConnection({
      name: name,
      directUrl: direct,
      fetch: window.fetch.bind(window),
      WebSocket: window.WebSocket,
      onState: onState,
      onText: onText,
    });
    session.connection.start();
  }

  function endSession() {
    if (!session) return;
    var old = session;
    session = null;
    old.connection.stop();
  }

  /* ---------- user actions ---------- */

  function onJoin(event) {
    event.preventDefault();
    var check = core.validateName(el.nameInput.value);
    if (!check.ok) {
      showJoin(check.error);
      return;
    }
    el.nameInput.value = check.name;
    el.nameError.textContent = "";
    el.nameInput.setAttribute("aria-invalid", "false");
    saveName(check.name);
    startSession(check.name);
  }

  function onSend(event) {
    event.preventDefault();
    var text = el.messageInput.value;
    // A blank box (spaces, new lines) is never sent: the server would only refuse it, and a
    // stray Enter or Space on the Send button should not put a refusal in the log. The Send
    // button says so beforehand (aria-disabled while the box is blank).
    if (compose.isBlank(text)) {
      el.messageInput.focus();
      return;
    }
    // The tag lets this tab know the echo as its own (presence-core.js); sent only when the
    // command is, so a failed send leaves nothing pending.
    var sent = !!session && session.connection.state === "connected";
    var tag = sent ? session.sent.send(current, text) : "";
    var peer = dmPeers.get(current);
    var command = peer
      ? { type: "dm", to: peer.userId, message: text, tag: tag }
      : { type: "message", room: current, message: text, tag: tag };
    if (!peer && replying && replying.room === current) command.replyTo = replying.id;
    if (sent && sendCommand(command)) {
      pending.sent(text, tag);
      setReplying(null);
      el.messageInput.value = "";
      composer.refresh();
      el.sendError.textContent = "";
      delete el.sendError.dataset.note;
    } else if (text) {
      // Keep the text in the box and say so: a message is never dropped silently.
      el.sendError.textContent =
        "Not connected, so the message was not sent. It is still in the box; send it again once connected.";
    } else {
      el.sendError.textContent = "Not connected, so nothing was sent.";
    }
    el.messageInput.focus();
  }

  /* ---------- acting on messages (static/message-actions.js) ---------- */

  var replying = null; // the item the next message answers
  var replyBar = null;

  function safeJson(text) {
    try {
      return JSON.parse(text);
    } catch (_err) {
      return null;
    }
  }

  function itemOf(name, id) {
    var r = roomState.get(name);
    if (!r) return null;
    for (var i = r.items.length - 1; i >= 0; i -= 1) {
      if (r.items[i].id === id) return r.items[i];
    }
    return null;
  }

  function lineOf(id) {
    return el.messages.querySelector('li[data-id="' + window.CSS.escape(id) + '"]');
  }

  function setReplying(item) {
    replying = item;
    if (replyBar) replyBar.remove();
    replyBar = null;
    if (!item) return;
    replyBar = document.createElement("div");
    replyBar.className = "reply-bar";
    replyBar.dataset.testid = "reply-bar";
    replyBar.append(span("text", "Replying to " + item.from + ": " + item.message.slice(0, 100)));
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-small btn-quiet";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", function () {
      setReplying(null);
      el.messageInput.focus();
    });
    replyBar.append(cancel);
    el.messageForm.before(replyBar);
    el.messageInput.focus();
  }

  function onMention(data) {
    // A mention of us in a room we are not looking at: its badge counts it.
    if (data.room !== current && roomState.has(data.room)) {
      room(data.room).mentions = (room(data.room).mentions || 0) + 1;
      renderRoomList();
    }
  }

  /** Up arrow in an empty composer edits one's last message of this room. */
  function onComposerKey(event) {
    if (event.key !== "ArrowUp" || el.messageInput.value || !session) return;
    var items = room(current).items;
    for (var i = items.length - 1; i >= 0; i -= 1) {
      var it = items[i];
      if (it.kind === "chat" && !it.deleted && (it.userId || it.from) === session.name) {
        event.preventDefault();
        actions.edit(it);
        return;
      }
    }
  }

  var moderation = moderationView.create({
    send: sendCommand,
    me: function () {
      return session ? session.name : "";
    },
    admin: function () {
      return reports.isAdmin();
    },
    nameOf: shownName,
    fetch: window.fetch.bind(window),
    el: {
      topic: el.roomTopic,
      topicEdit: el.topicEdit,
      topicEditor: el.topicEditor,
      notice: el.modNotice,
      slowIndicator: el.slowIndicator,
      slowWait: el.slowWait,
      roomMod: el.roomMod,
      roomModBody: el.roomModBody,
    },
    onChange: function (name) {
      if (name === current) renderRoomInfo();
    },
    rejoin: function (name) {
      sendCommand({ type: "join", room: name });
      showRoom(name);
      el.messageInput.focus();
    },
  });

  var reports = reportsView.create({
    fetch: window.fetch.bind(window),
    send: sendCommand,
    nameOf: shownName,
    excerptOf: function (name, id) {
      var item = itemOf(name, id);
      return item && typeof item.message === "string" && !item.deleted ? item.message : null;
    },
    onAdmin: function () {
      renderRoomInfo(); // an admin moderates every room: the buttons appear
    },
    button: el.reportsButton,
    panel: el.reportsPanel,
    list: el.reportsList,
    close: el.reportsClose,
    status: el.reportsStatus,
  });

  var blocks = blocksView.create({
    send: sendCommand,
    fetch: window.fetch.bind(window),
    me: function () {
      return session ? session.name : "";
    },
    onChange: function () {
      renderMessages();
      renderRoomInfo();
    },
  });
  moderation.addMemberEntries(blocks.memberEntries);

  var actions = messageActions.create({
    send: sendCommand,
    me: function () {
      return session ? session.name : "";
    },
    myName: function () {
      return session ? shownName(session.name) : "";
    },
    itemOf: itemOf,
    items: function (name) {
      var r = roomState.get(name);
      return r ? r.items : [];
    },
    lineOf: lineOf,
    canReport: function () {
      return signedInMode;
    },
    // Moderators delete others' messages too (the server checks the roles again).
    canDelete: function (item) {
      return signedInMode && moderation.mayDelete(item.room || current, item.userId);
    },
    onReply: setReplying,
    redraw: function (name, item) {
      if (name !== current) return;
      var old = lineOf(item.id);
      if (old) old.replaceWith(lineFor(item));
    },
  });

  function onLeave() {
    endSession();
    notifier.clear();
    showJoin("");
    el.nameInput.select();
  }

  function onRetry() {
    if (session) session.connection.retryNow();
  }

  function onScroll() {
    following = atBottom();
    if (following && !el.newMessages.hidden) {
      unread = 0;
      el.newMessages.hidden = true;
    }
  }

  /** The list got shorter or taller: stay on the newest line if the reader was there. */
  function onResize() {
    if (following) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function onJumpToNew() {
    scrollToBottom();
    el.messageInput.focus();
  }

  function onRoomForm(event) {
    event.preventDefault();
    var check = roomsCore.validateRoom(el.roomInput.value);
    if (!check.ok) {
      el.roomError.textContent = check.error;
      el.roomInput.setAttribute("aria-invalid", "true");
      el.roomInput.focus();
      return;
    }
    el.roomError.textContent = "";
    el.roomInput.setAttribute("aria-invalid", "false");
    el.roomInput.value = "";
    enterRoom(check.name);
    el.messageInput.focus();
  }

  function onRoomClick(event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.leave) {
      leaveRoom(target.dataset.leave);
      el.messageInput.focus();
    } else if (target.dataset.room) {
      showRoom(target.dataset.room);
      el.messageInput.focus();
    }
  }

  function onHashChange() {
    if (!session) return;
    var wanted = roomsCore.roomFromHash(window.location.hash).toLowerCase();
    if (wanted !== current) enterRoom(wanted);
  }

  /** Send looks (and says it is) unavailable while there is no connection or nothing to send. */
  function updateSendButton() {
    var ready = !!session && !!session.connection && session.connection.state === "connected";
    var blank = compose.isBlank(el.messageInput.value);
    el.sendButton.setAttribute("aria-disabled", ready && !blank ? "false" : "true");
  }

  /** The arrow keys walk the log's lines (a focused line shows its full time). */
  function onLogKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (view.moveFocus(el.messages, event.key)) event.preventDefault();
  }

  /** Tell the room we are typing: at most once per TYPING_SEND_MS, never for an empty box. */
  function onTyping() {
    el.sendError.textContent = "";
    delete el.sendError.dataset.note;
    if (!session || !el.messageInput.value) return;
    var r = room(current);
    var now = Date.now();
    if (now - r.sentTyping < roomsCore.TYPING_SEND_MS) return;
    r.sentTyping = now;
    // A DM is no room the connection is in: the server checks that `to` and we name it.
    var peer = dmPeers.get(current);
    sendCommand(
      peer ? { type: "typing", room: current, to: peer.userId } : { type: "typing", room: current }
    );
  }

  function init() {
    el.nameForm.addEventListener("submit", onJoin);
    el.roomForm.addEventListener("submit", onRoomForm);
    el.roomInput.addEventListener("input", function () {
      el.roomError.textContent = "";
    });
    el.roomList.addEventListener("click", onRoomClick);
    el.dmList.addEventListener("click", onRoomClick);
    el.memberList.addEventListener("click", onMemberClick);
    el.browse.addEventListener("toggle", onBrowseToggle);
    el.browseSearch.addEventListener("input", renderDirectory);
    el.browseList.addEventListener("click", onBrowseClick);
    document.addEventListener("visibilitychange", function () {
      if (!session || document.visibilityState === "hidden") return;
      markRead(current);
      renderRoomList();
    });
    el.loadEarlier.addEventListener("click", function () {
      loadHistory(current, true);
    });
    window.addEventListener("hashchange", onHashChange);
    el.messageForm.addEventListener("submit", onSend);
    var maxMeta = document.querySelector('meta[name="chat-max-message-length"]');
    composer = compose.attach(el.messageInput, el.counter, {
      max: compose.maxFromMeta(maxMeta ? maxMeta.content : ""),
      onChange: updateSendButton,
    });
    el.messages.addEventListener("keydown", onLogKey);
    el.messageInput.addEventListener("input", onTyping);
    actions.autocomplete(el.messageInput, function () {
      return room(current).members.map(shownName);
    });
    el.messageInput.addEventListener("keydown", onComposerKey);
    el.leave.addEventListener("click", onLeave);
    el.retry.addEventListener("click", onRetry);
    el.messages.addEventListener("scroll", onScroll, { passive: true });
    el.newMessages.addEventListener("click", onJumpToNew);
    if (typeof ResizeObserver === "function") new ResizeObserver(onResize).observe(el.messages);
    // Coming back online is a good moment to skip the rest of the back-off wait.
    window.addEventListener("online", onRetry);

    if (signedInMode) {
      // The name comes from the sign-in: negotiate answers 401 when there is none,
      // and the sign-in panel replaces the chat (onState, fatal).
      startSession("");
      return;
    }
    var remembered = loadName();
    el.nameInput.value = remembered;
    var check = core.validateName(remembered);
    if (check.ok) {
      startSession(check.name);
    } else {
      showJoin("");
    }
  }

  init();
})();
