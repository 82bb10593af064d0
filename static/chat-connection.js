/*
 * The connection life cycle: negotiate (or use the direct URL), open a plain
 * WebSocket, and reconnect with back-off when it drops.
 *
 * No DOM here. The browser objects it needs (fetch, WebSocket, timers) are
 * passed in, so the reconnect logic can be driven with fakes under Node.
 * Exported as `window.ChatConnection`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var core =
    typeof module === "object" && module.exports ? require("./chat-core.js") : root.ChatCore;
  var api = factory(core);
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatConnection = api;
  }
})(typeof self !== "undefined" ? self : this, function (core) {
  "use strict";

  var WS_OPEN = 1;
  /** A connection that lived this long resets the back-off to its start. */
  var STABLE_AFTER_MS = 10000;
  /** Give up on a handshake (or a negotiate call) that hangs this long, and retry. */
  var CONNECT_TIMEOUT_MS = 15000;
  /** Close code the service uses for policy failures; retrying cannot help (the SDKs stop too). */
  var CLOSE_POLICY_VIOLATION = 1008;

  /** An error that knows whether trying again later might succeed. */
  function connectError(message, retryable) {
    var err = new Error(message);
    err.retryable = retryable;
    return err;
  }

  /**
   * Ask the app for a client URL with a fresh access token.
   * Resolves to the ws(s) URL; rejects with an error carrying `.retryable`.
   */
  function negotiate(fetchFn, name, timers) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = null;
    if (controller && timers) {
      timer = timers.setTimeout(function () {
        controller.abort();
      }, CONNECT_TIMEOUT_MS);
    }
    // X-Requested-With marks a script call: App Service Authentication answers it with 401
    // instead of redirecting it to the sign-in page, which a fetch could not follow.
    var init = {
      headers: { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" },
      cache: "no-store",
    };
    if (controller) init.signal = controller.signal;
    return Promise.resolve()
      .then(function () {
        return fetchFn(core.negotiateUrl(name), init);
      })
      .then(
        function (res) {
          return res.text().then(function (body) {
            if (!res.ok) {
              // The app answers 4xx with a short plain-text reason; show it as is.
              var reason = (body || "").trim().slice(0, 200) || "HTTP " + res.status;
              throw connectError(reason, core.isRetryableStatus(res.status));
            }
            try {
              return core.socketUrlFromNegotiate(body);
            } catch (err) {
              throw connectError(err.message, true);
            }
          });
        },
        function (_networkError) {
          throw connectError("The server could not be reached.", true);
        }
      )
      .finally(function () {
        if (timer !== null) timers.clearTimeout(timer);
      });
  }

  /**
   * Create a connection manager.
   *
   * options:
   *   name          the user name (sent to negotiate or as ?id= in direct mode)
   *   directUrl     non-empty to skip negotiate (lazy auth) and open this URL
   *   fetch, WebSocket, setTimeout, clearTimeout, now, random   injectable browser APIs
   *   onState(state, detail)   state is connecting|connected|reconnecting|disconnected;
 *                            detail.name on "connected" is the user id the service knows us by
   *   onText(text)             every received frame, as text
   */
  function createConnection(options) {
    var opts = options || {};
    var deps = {
      fetch: opts.fetch,
      WebSocket: opts.WebSocket,
      setTimeout: opts.setTimeout || setTimeout.bind(null),
      clearTimeout: opts.clearTimeout || clearTimeout.bind(null),
      now:
        opts.now ||
        function () {
          return Date.now();
        },
      random: opts.random || Math.random,
    };
    var onState = opts.onState || function () {};
    var onText = opts.onText || function () {};
    var decoder = typeof TextDecoder === "function" ? new TextDecoder() : null;

    var state = "disconnected";
    var stopped = true;
    var attempt = 0;
    // Each connect attempt bumps the generation; callbacks from an older
    // socket or negotiate call compare it and ignore themselves, so a slow
    // old socket can never clobber the state of a newer one.
    var generation = 0;
    var socket = null;
    var openedAt = 0;
    var retryTimer = null;
    var handshakeTimer = null;

    function setState(next, detail) {
      state = next;
      onState(next, detail || {});
    }

    function clearTimers() {
      if (retryTimer !== null) deps.clearTimeout(retryTimer);
      if (handshakeTimer !== null) deps.clearTimeout(handshakeTimer);
      retryTimer = null;
      handshakeTimer = null;
    }

    function resolveUrl() {
      if (opts.directUrl) return Promise.resolve(opts.directUrl);
      // A fresh negotiate on every attempt: the old token may have expired.
      return negotiate(deps.fetch, opts.name, deps);
    }

    function connect() {
      clearTimers();
      var gen = ++generation;
      setState("connecting", { attempt: attempt });
      resolveUrl().then(
        function (url) {
          if (gen === generation && !stopped) openSocket(url, gen);
        },
        function (err) {
          if (gen !== generation || stopped) return;
          if (err && err.retryable === false) {
            giveUp(err.message, true);
          } else {
            scheduleRetry(err && err.message);
          }
        }
      );
    }

    function openSocket(url, gen) {
      var ws;
      try {
        ws = new deps.WebSocket(url);
      } catch (_err) {
        // The constructor throws on a malformed URL; that will not fix itself.
        giveUp("The server gave an invalid connection URL.", false);
        return;
      }
      socket = ws;
      openedAt = 0;
      ws.binaryType = "arraybuffer";
      handshakeTimer = deps.setTimeout(function () {
        handshakeTimer = null;
        if (gen === generation && ws.readyState !== WS_OPEN) ws.close();
      }, CONNECT_TIMEOUT_MS);

      ws.onopen = function () {
        if (gen !== generation) return;
        if (handshakeTimer !== null) deps.clearTimeout(handshakeTimer);
        handshakeTimer = null;
        openedAt = deps.now();
        setState("connected", { name: core.userIdFromSocketUrl(url) || opts.name });
      };
      ws.onmessage = function (event) {
        if (gen !== generation) return;
        var data = event.data;
        if (typeof data === "string") {
          onText(data);
        } else if (decoder && data instanceof ArrayBuffer) {
          onText(decoder.decode(data));
        }
      };
      // The browser reports no details on error; the close event that always
      // follows carries what there is, so all handling happens there.
      ws.onerror = function () {};
      ws.onclose = function (event) {
        if (gen !== generation) return;
        socket = null;
        if (stopped) return;
        var code = event && event.code;
        var reason = (event && event.reason) || "";
        if (code === CLOSE_POLICY_VIOLATION) {
          giveUp(reason || "The service refused the connection.", false);
          return;
        }
        if (openedAt && deps.now() - openedAt >= STABLE_AFTER_MS) attempt = 0;
        scheduleRetry(openedAt ? "Connection lost." : "Could not connect.");
      };
    }

    function scheduleRetry(reason) {
      clearTimers();
      var delayMs = core.backoffDelay(attempt, { random: deps.random });
      attempt += 1;
      setState("reconnecting", { delayMs: delayMs, reason: reason || "", attempt: attempt });
      retryTimer = deps.setTimeout(function () {
        retryTimer = null;
        if (!stopped) connect();
      }, delayMs);
    }

    /** Stop for good (until start/retryNow); `fatal` marks a problem with the request itself. */
    function giveUp(reason, fatal) {
      clearTimers();
      generation += 1;
      closeSocket();
      setState("disconnected", { reason: reason || "", fatal: !!fatal });
    }

    function closeSocket() {
      var ws = socket;
      socket = null;
      if (ws) {
        try {
          ws.close(1000, "Leaving");
        } catch (_err) {
          // Closing a socket that is still connecting may throw in old browsers; it is gone anyway.
        }
      }
    }

    return {
      start: function () {
        stopped = false;
        attempt = 0;
        connect();
      },
      /** Close on purpose; no reconnect. */
      stop: function (reason) {
        stopped = true;
        giveUp(reason || "", false);
      },
      /** Skip the remaining back-off wait (or revive a stopped connection). */
      retryNow: function () {
        if (state === "connected" || state === "connecting") return;
        stopped = false;
        connect();
      },
      /** Send one chat message as one text frame. Returns false if it could not be sent. */
      send: function (text) {
        if (!socket || socket.readyState !== WS_OPEN) return false;
        try {
          socket.send(text);
          return true;
        } catch (_err) {
          return false;
        }
      },
      get state() {
        return state;
      },
    };
  }

  return {
    STABLE_AFTER_MS: STABLE_AFTER_MS,
    CONNECT_TIMEOUT_MS: CONNECT_TIMEOUT_MS,
    negotiate: negotiate,
    createConnection: createConnection,
  };
});
