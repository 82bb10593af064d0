/*
 * The chat page: DOM wiring only.
 *
 * Parsing and formatting live in chat-core.js (pure functions), the socket
 * and reconnect logic in chat-connection.js; this file turns their results
 * into elements and user actions into calls on them.
 *
 * Rule for everything below: data from the network is only ever written
 * with textContent / attributes, never parsed as HTML.
 */
(function () {
  "use strict";

  var core = window.ChatCore;
  var Connection = window.ChatConnection;
  var collapse = window.ChatCollapse;

  var NAME_KEY = "chat.name";
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
  };

  var session = null; // {name, connection, seen, wasConnected, lost}
  var unread = 0;
  // Whether the reader is following the newest line. Kept up to date on
  // scroll, so a layout change (an error line under the composer, a phone
  // keyboard opening) can keep the newest line in view without guessing.
  var following = true;

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

  function timeElement(iso) {
    var date = core.parseTime(iso, new Date());
    var node = document.createElement("time");
    node.className = "time";
    node.dateTime = date.toISOString();
    node.title = date.toLocaleString();
    node.textContent = core.formatClock(date);
    return node;
  }

  /** A chat line: "from: message" plus its time. */
  function chatLine(item, own) {
    var li = document.createElement("li");
    li.className = own ? "message own" : "message";
    li.dataset.id = item.id;
    li.dataset.from = item.from;
    var body = document.createElement("p");
    body.className = "bubble";
    body.append(isolated("from", item.from), span("sep", ": "), isolated("text", item.message));
    li.append(body, timeElement(item.time));
    return li;
  }

  /** A system notice (joined/left, rejected, or a local connection note). */
  function systemLine(kind, text, extra) {
    var info = extra || {};
    var li = document.createElement("li");
    li.className = "system " + kind;
    li.dataset.event = kind;
    if (info.id) li.dataset.id = info.id;
    if (info.user) li.dataset.user = info.user;
    li.append(span("text", text), timeElement(info.time));
    return li;
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
    li.append(body, timeElement(""));
    return li;
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
    while (el.messages.childElementCount > MAX_LINES) {
      el.messages.firstElementChild.remove();
    }
    if (follow) {
      scrollToBottom();
    } else {
      unread += 1;
      el.newMessages.textContent =
        unread === 1 ? "1 new message ↓" : unread + " new messages ↓";
      el.newMessages.hidden = false;
    }
  }

  /** Handle one received frame. */
  function onText(text) {
    if (!session) return;
    var item = core.parseFrame(text);
    // Upstream retries can deliver an event twice; the id is stable per event.
    if (item.id && !session.seen.add(item.id)) return;
    switch (item.kind) {
      case "chat": {
        var own = item.from === session.name;
        appendLine(chatLine(item, own), own);
        break;
      }
      case "system":
        appendLine(
          systemLine(item.event || "notice", item.message, {
            id: item.id,
            user: item.user,
            time: item.time,
          })
        );
        break;
      case "rejected":
        appendLine(rejectedLine(item.message), true);
        break;
      default:
        appendLine(plainLine(item.message));
    }
  }

  /* ---------- connection state ---------- */

  function onState(state, detail) {
    el.status.dataset.state = state;
    el.app.dataset.state = state;
    el.status.textContent = core.describeState(state, detail);
    if (detail.reason && state === "reconnecting") el.status.title = detail.reason;
    else el.status.removeAttribute("title");

    var connected = state === "connected";
    el.sendButton.setAttribute("aria-disabled", connected ? "false" : "true");
    el.messageInput.placeholder = connected ? "Write a message…" : "Waiting for the connection…";
    if (connected) el.sendError.textContent = "";
    el.retry.hidden = !(state === "reconnecting" || (state === "disconnected" && session));

    if (!session) return;
    if (connected) {
      // Own-message detection must use the id the server puts in "from".
      session.name = detail.name || session.name;
      if (session.wasConnected) appendLine(systemLine("local", "Reconnected."), false);
      session.wasConnected = true;
      session.lost = false;
    } else if (state === "reconnecting" && session.wasConnected && !session.lost) {
      // Note the drop once, not on every failed attempt.
      session.lost = true;
      appendLine(systemLine("local", "Connection lost. Trying to reconnect…"), false);
    } else if (state === "disconnected" && detail.fatal) {
      // The server refused the request itself (e.g. an unacceptable name):
      // retrying cannot help, so go back to the name form and say why.
      endSession();
      showJoin(detail.reason || "The server refused this name.");
    }
  }

  /* ---------- views ---------- */

  function showJoin(error) {
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
    el.leave.hidden = false;
    el.messageInput.focus();
  }

  /* ---------- session ---------- */

  function startSession(name) {
    endSession();
    var meta = document.querySelector('meta[name="chat-direct-url"]');
    var direct = core.directUrl(meta ? meta.content : "", window.location.search, name);
    session = {
      name: name,
      seen: core.createSeenIds(),
      wasConnected: false,
      lost: false,
      connection: null,
    };
    el.messages.replaceChildren();
    el.sendError.textContent = "";
    scrollToBottom();
    showChat();
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
    // An empty box is sent as well: the server owns the message rules and answers with its
    // own explanation ("Message not sent: it is empty."), so Send never silently does nothing.
    if (session && session.connection.send(text)) {
      el.messageInput.value = "";
      el.sendError.textContent = "";
    } else if (text) {
      // Keep the text in the box and say so: a message is never dropped silently.
      el.sendError.textContent =
        "Not connected, so the message was not sent. It is still in the box; send it again once connected.";
    } else {
      el.sendError.textContent = "Not connected, so nothing was sent.";
    }
    el.messageInput.focus();
  }

  function onLeave() {
    endSession();
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

  function init() {
    el.nameForm.addEventListener("submit", onJoin);
    el.messageForm.addEventListener("submit", onSend);
    el.messageInput.addEventListener("input", function () {
      el.sendError.textContent = "";
    });
    el.leave.addEventListener("click", onLeave);
    el.retry.addEventListener("click", onRetry);
    el.messages.addEventListener("scroll", onScroll, { passive: true });
    el.newMessages.addEventListener("click", onJumpToNew);
    if (typeof ResizeObserver === "function") new ResizeObserver(onResize).observe(el.messages);
    // Coming back online is a good moment to skip the rest of the back-off wait.
    window.addEventListener("online", onRetry);

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
