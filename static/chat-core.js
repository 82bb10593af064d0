/*
 * Pure chat logic: no DOM, no sockets, no timers.
 *
 * Everything here is a plain function of its arguments so it can be unit
 * tested under Node (`node --test tests/browser/js/`) and reused by the
 * page. Loaded as a classic script (the CSP allows 'self' scripts; classic
 * scripts avoid depending on the server's MIME type for ES modules) and
 * exported as `window.ChatCore`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatCore = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** Longest name the page accepts; Web PubSub user ids are short strings. */
  var MAX_NAME_LENGTH = 64;

  /** How many message ids to remember for de-duplication (oldest dropped first). */
  var DEFAULT_SEEN_LIMIT = 2000;

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function asString(value) {
    return typeof value === "string" ? value : "";
  }

  /**
   * Turn one received text frame into a display item.
   *
   * The server sends JSON (docs/protocol.md, "Frames": id, from, message, time), but a
   * frame that is not JSON, or JSON of an unknown shape, is still shown as
   * plain text rather than dropped or thrown on: nothing a peer or the
   * service sends may break the page.
   *
   * Returns one of:
   *   {kind: "chat",   id, from, message, time}
   *   {kind: "system", id, event, user, message, time}   (joined, left, ...)
   *   {kind: "rejected", message}                        (only ever sent to us)
   *   {kind: "text",   message}                          (anything else)
   */
  function parseFrame(text) {
    var raw = typeof text === "string" ? text : String(text);
    var data;
    try {
      data = JSON.parse(raw);
    } catch (_err) {
      return { kind: "text", message: raw };
    }
    if (!isObject(data)) {
      return { kind: "text", message: raw };
    }
    var id = typeof data.id === "string" || typeof data.id === "number" ? String(data.id) : "";
    var time = asString(data.time);
    if (data.type === "system") {
      var event = asString(data.event);
      if (event === "rejected") {
        return {
          kind: "rejected",
          message: asString(data.message) || "The server did not accept your message.",
        };
      }
      var user = asString(data.user);
      var message = asString(data.message) || describeSystemEvent(event, user);
      return withSender(
        { kind: "system", id: id, event: event, user: user, message: message, time: time },
        data
      );
    }
    if (data.type === undefined && typeof data.message === "string") {
      return withSender(
        {
          kind: "chat",
          id: id,
          from: asString(data.from) || "unknown",
          message: data.message,
          time: time,
        },
        data
      );
    }
    return { kind: "text", message: raw };
  }

  /**
   * In sign-in mode the server adds the sender's user id and identity
   * provider (`userId`, `idp`); copied only when present, as strings.
   */
  function withSender(item, data) {
    if (typeof data.userId === "string") item.userId = data.userId;
    if (typeof data.idp === "string") item.idp = data.idp;
    if (data.lookalike === true) item.lookalike = true;
    return item;
  }

  /** Fallback wording when a system notice comes without its own message. */
  function describeSystemEvent(event, user) {
    var who = user || "Someone";
    if (event === "joined") return who + " joined";
    if (event === "left") return who + " left";
    return event ? "System: " + event : "System notice";
  }

  /**
   * Parse an ISO-8601 time from the server; fall back to `fallback` (the
   * receive time) when it is missing or unparsable so every line has a time.
   */
  function parseTime(iso, fallback) {
    if (typeof iso === "string" && iso) {
      var ms = Date.parse(iso);
      if (!Number.isNaN(ms)) return new Date(ms);
    }
    return fallback instanceof Date ? fallback : new Date();
  }

  /** Short local clock time for a message line, e.g. "14:05". */
  function formatClock(date, locale) {
    try {
      return date.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    } catch (_err) {
      // An unknown locale throws RangeError; the ISO hour:minute is a fine fallback.
      return date.toISOString().slice(11, 16);
    }
  }

  /**
   * Normalise and check a display name. Returns {ok, name} or {ok:false, error}.
   * The server is the authority; this only catches the obvious cases early
   * with a message next to the field.
   */
  function validateName(input) {
    var name = asString(input).trim();
    if (!name) return { ok: false, error: "Please enter a name." };
    if (name.length > MAX_NAME_LENGTH) {
      return { ok: false, error: "Please use at most " + MAX_NAME_LENGTH + " characters." };
    }
    // Control characters would render invisibly and confuse other users.
    if (/[\u0000-\u001f\u007f]/.test(name)) {
      return { ok: false, error: "The name contains characters that cannot be shown." };
    }
    return { ok: true, name: name };
  }

  /**
   * Exponential back-off with jitter: the cap doubles from `baseMs` per
   * attempt up to `maxMs`, and the actual delay is drawn from the upper half
   * of it ("equal jitter") so that many clients dropped at once by a service
   * restart do not all come back in the same instant, yet nobody retries in
   * a tight loop. `random` is injectable for tests.
   */
  function backoffDelay(attempt, options) {
    var opts = options || {};
    var base = opts.baseMs || 1000;
    var max = opts.maxMs || 30000;
    var random = opts.random || Math.random;
    var n = Math.max(0, Math.floor(attempt || 0));
    // Cap the exponent so 2 ** n never overflows to Infinity.
    var ceiling = Math.min(max, base * Math.pow(2, Math.min(n, 30)));
    var r = Math.min(Math.max(random(), 0), 1);
    return Math.round(ceiling / 2 + (r * ceiling) / 2);
  }

  /** Relative negotiate URL (the page lives at /api/index, so it resolves to /api/negotiate). */
  function negotiateUrl(name) {
    return "negotiate?id=" + encodeURIComponent(name);
  }

  /**
   * The URL to open when connecting straight to the service (lazy auth).
   * Returns "" unless the server advertised a direct URL AND the page was
   * opened with ?connect=direct: both must hold, so a deployment without
   * lazy auth can never be talked into an unauthenticated connect.
   */
  function directUrl(metaContent, pageSearch, name) {
    var base = asString(metaContent).trim();
    if (!base) return "";
    var params;
    try {
      params = new URLSearchParams(asString(pageSearch));
    } catch (_err) {
      return "";
    }
    if (params.get("connect") !== "direct") return "";
    var sep = base.indexOf("?") === -1 ? "?" : "&";
    return base + sep + "id=" + encodeURIComponent(name);
  }

  /**
   * Check a negotiate response body and return the WebSocket URL in it.
   * Throws an Error with a readable message when the body is unusable.
   */
  function socketUrlFromNegotiate(bodyText) {
    var data;
    try {
      data = JSON.parse(bodyText);
    } catch (_err) {
      throw new Error("The server's negotiate answer was not JSON.");
    }
    var url = isObject(data) ? data.url : undefined;
    if (typeof url !== "string" || !/^(wss?|https?):\/\//i.test(url)) {
      throw new Error("The server's negotiate answer had no usable url.");
    }
    // Browsers older than 2024 only accept ws(s): in the WebSocket constructor.
    return url.replace(/^http(s?):\/\//i, "ws$1://");
  }

  /**
   * The user id the service will know us by, read from the `sub` claim of
   * the access token in a negotiated URL. It can differ from the typed name
   * (the app may take the name from App Service Authentication instead), and
   * "own message" detection must compare against what the server puts in
   * "from". Returns "" when there is no readable token (e.g. direct mode).
   * The token is only decoded, not verified: it is used for display only.
   */
  function userIdFromSocketUrl(url) {
    try {
      var token = new URL(url).searchParams.get("access_token");
      var payload = token ? token.split(".")[1] : "";
      if (!payload) return "";
      var b64 = payload.replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % 4) b64 += "=";
      var binary = atob(b64);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
      var claims = JSON.parse(new TextDecoder().decode(bytes));
      return isObject(claims) && typeof claims.sub === "string" ? claims.sub : "";
    } catch (_err) {
      return "";
    }
  }

  /**
   * Whether a failed negotiate should be retried. 4xx answers mean the
   * request itself is wrong (e.g. "missing user id"), so retrying the same
   * request cannot help -- except 408 and 429, which are about timing.
   */
  function isRetryableStatus(status) {
    if (status === 408 || status === 429) return true;
    return !(status >= 400 && status < 500);
  }

  /**
   * A bounded set of ids already shown. The service may deliver an event
   * twice (upstream retries), and the server gives each event a stable id
   * precisely so clients can drop the repeat.
   */
  function createSeenIds(limit) {
    var max = limit || DEFAULT_SEEN_LIMIT;
    var set = new Set();
    return {
      /** Returns true the first time an id is offered; false for repeats. Empty ids always pass. */
      add: function (id) {
        if (!id) return true;
        if (set.has(id)) return false;
        set.add(id);
        if (set.size > max) {
          // Sets iterate in insertion order, so the first value is the oldest.
          set.delete(set.values().next().value);
        }
        return true;
      },
      has: function (id) {
        return set.has(id);
      },
      get size() {
        return set.size;
      },
    };
  }

  /**
   * Whether a scroll container counts as "at the bottom". A small slack
   * absorbs sub-pixel rounding and the last line being partly visible.
   */
  function isNearBottom(scrollTop, clientHeight, scrollHeight, slack) {
    var s = slack === undefined ? 48 : slack;
    return scrollHeight - (scrollTop + clientHeight) <= s;
  }

  /** Human text for the connection state shown in the status region. */
  function describeState(state, detail) {
    var d = detail || {};
    switch (state) {
      case "connecting":
        return "Connecting…";
      case "connected":
        return d.name ? "Connected as " + d.name : "Connected";
      case "reconnecting": {
        var secs = Math.max(1, Math.ceil((d.delayMs || 0) / 1000));
        return "Reconnecting in " + secs + " s…";
      }
      case "disconnected":
      default:
        return d.reason ? "Disconnected: " + d.reason : "Disconnected";
    }
  }

  return {
    MAX_NAME_LENGTH: MAX_NAME_LENGTH,
    isObject: isObject,
    asString: asString,
    parseFrame: parseFrame,
    describeSystemEvent: describeSystemEvent,
    parseTime: parseTime,
    formatClock: formatClock,
    validateName: validateName,
    backoffDelay: backoffDelay,
    negotiateUrl: negotiateUrl,
    directUrl: directUrl,
    socketUrlFromNegotiate: socketUrlFromNegotiate,
    userIdFromSocketUrl: userIdFromSocketUrl,
    isRetryableStatus: isRetryableStatus,
    createSeenIds: createSeenIds,
    isNearBottom: isNearBottom,
    describeState: describeState,
  };
});
