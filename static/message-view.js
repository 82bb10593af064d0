/*
 * The message log read like a real chat: links, avatars, names grouped, day separators, the
 * "new messages" divider, the full time on hover or keyboard focus, a polite announcement of
 * new messages, and keeping the reader's place when older messages are put on top.
 *
 * Every text is data (a name, a message, a URL) and is only ever written with textContent or
 * attributes: nothing here parses HTML. The pure parts (top of the file) run under Node too
 * (`node --test tests/browser/js/`); the DOM parts below them are used by app.js.
 * Exported as `window.ChatMessageView`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatMessageView = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** Messages of one person closer than this are grouped under one name. */
  var GROUP_GAP_MS = 5 * 60 * 1000;
  /** As many avatar colours as the stylesheet defines (.avatar[data-colour="0".."15"]). */
  var AVATAR_COLOURS = 16;
  /** A long message is cut to this in the spoken announcement; the log holds all of it. */
  var ANNOUNCE_MAX = 300;
  /** Announcements kept in the live region (older ones were read already). */
  var ANNOUNCE_KEEP = 5;
  var DAY_MS = 24 * 60 * 60 * 1000;

  /* ---------- pure parts ---------- */

  // A URL starts at http:// or https:// and runs to the next space or a character a URL
  // cannot hold unescaped (< > "), so markup around a URL stays text around the link. Other
  // schemes (javascript:, data:, ftp:, ...) are never links: they stay text.
  var URL_START = /https?:\/\/[^\s<>"]+/gi;
  // Punctuation that ends a sentence rather than the URL: "see https://x.example/a." links
  // to ".../a". A closing bracket stays when the URL opened one:
  // https://en.wikipedia.org/wiki/A_(B).
  var TRAILING = /[.,;:!?'"\u2019\u201d>]+$/;
  var OPENER = new Map([
    [")", "("],
    ["]", "["],
    ["}", "{"],
  ]);

  function trimUrl(candidate) {
    var url = candidate;
    for (;;) {
      var before = url;
      url = url.replace(TRAILING, "");
      var last = url.charAt(url.length - 1);
      if (OPENER.has(last)) {
        var opens = url.split(OPENER.get(last)).length - 1;
        var closes = url.split(last).length - 1;
        if (closes > opens) url = url.slice(0, -1);
      }
      if (url === before) return url;
    }
  }

  /** The URL's address if it is a usable http(s) link, else "". */
  function linkHref(text) {
    var parsed;
    try {
      parsed = new URL(text);
    } catch (_err) {
      return "";
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "";
    if (!parsed.hostname) return "";
    return parsed.href;
  }

  /**
   * A message cut into text and link parts, in order:
   * [{text: "see "}, {text: "https://x.example/a", href: "https://x.example/a"}, {text: "."}].
   * Joined, the parts' texts are the message unchanged.
   */
  function linkParts(message) {
    var text = String(message == null ? "" : message);
    var parts = [];
    var last = 0;
    URL_START.lastIndex = 0;
    var match;
    while ((match = URL_START.exec(text)) !== null) {
      var url = trimUrl(match[0]);
      var href = linkHref(url);
      if (!href) continue;
      if (match.index > last) parts.push({ text: text.slice(last, match.index) });
      parts.push({ text: url, href: href });
      last = match.index + url.length;
      URL_START.lastIndex = last;
    }
    if (last < text.length) parts.push({ text: text.slice(last) });
    return parts;
  }

  /** A local calendar day, for comparing: "2026-12-07". */
  function dayKey(date) {
    return date.getFullYear() + "-" + (date.getMonth() + 1) + "-" + date.getDate();
  }

  /** "Today", "Yesterday", or the date ("Friday 4 December", with the year if not this one). */
  function dayLabel(date, now, locale) {
    if (dayKey(date) === dayKey(now)) return "Today";
    // Noon minus a day is yesterday whatever the daylight-saving shift.
    var noon = new Date(now.getFullYear(), now.getMonth(), now.getDate(), 12);
    if (dayKey(date) === dayKey(new Date(noon.getTime() - DAY_MS))) return "Yesterday";
    var options = { weekday: "long", day: "numeric", month: "long" };
    if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
    try {
      return date.toLocaleDateString(locale, options);
    } catch (_err) {
      return date.toISOString().slice(0, 10);
    }
  }

  /** The full time for the tooltip and for keyboard focus: date and time to the second. */
  function fullTime(date, locale) {
    try {
      return date.toLocaleString(locale, { dateStyle: "full", timeStyle: "medium" });
    } catch (_err) {
      return date.toISOString();
    }
  }

  /**
   * Whether a chat line goes under the previous one's name: the same user id (never the
   * name: two people may share one), on the same side (this tab's own lines and another
   * tab's lines under our name are told apart), the same day, and within GROUP_GAP_MS.
   * Each argument is {userId, side, time} (time in ms) or null.
   */
  function groupsWith(previous, line) {
    if (!previous || !line || !previous.userId || previous.userId !== line.userId) return false;
    if (previous.side !== line.side) return false;
    var gap = line.time - previous.time;
    if (!(gap >= 0 && gap <= GROUP_GAP_MS)) return false;
    return dayKey(new Date(previous.time)) === dayKey(new Date(line.time));
  }

  /**
   * One or two initials of a name: the first letter or digit of its first two words
   * ("Pat Smith" -> "PS", "pat@contoso.com" -> "P"), or "?" when it has none.
   */
  function initials(name) {
    var text = String(name == null ? "" : name);
    var at = text.indexOf("@");
    if (at > 0) text = text.slice(0, at); // an e-mail address: its local part
    var words = text.split(/[\s._-]+/);
    var letters = [];
    for (var i = 0; i < words.length && letters.length < 2; i += 1) {
      var first = words[i].match(/[\p{L}\p{N}]/u);
      if (first) letters.push(first[0].toLocaleUpperCase());
    }
    return letters.length ? letters.join("") : "?";
  }

  /** A colour index from the user id (FNV-1a), so the same person always gets the same one. */
  function colourIndex(userId, count) {
    var text = String(userId == null ? "" : userId);
    var hash = 0x811c9dc5;
    for (var i = 0; i < text.length; i += 1) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % (count || AVATAR_COLOURS);
  }

  /** What the live region says for a new message: "alice (GitHub): hello". */
  function announcement(name, provider, message) {
    var text = String(message == null ? "" : message);
    var chars = Array.from(text);
    if (chars.length > ANNOUNCE_MAX) text = chars.slice(0, ANNOUNCE_MAX).join("") + "…";
    return name + (provider ? " (" + provider + ")" : "") + ": " + text;
  }

  /* ---------- DOM parts (browser only) ---------- */

  function span(className, text) {
    var node = document.createElement("span");
    node.className = className;
    node.textContent = text;
    return node;
  }

  /** Text only a screen reader hears (it separates parts the eye separates by style). */
  function spoken(text) {
    return span("visually-hidden", text);
  }

  /**
   * A name or a message: its own bidi isolate (like <bdi>), with its direction taken from
   * its first strong letter, so right-to-left text cannot reorder what follows it.
   */
  function isolated(className, text) {
    var node = span(className, text);
    node.dir = "auto";
    return node;
  }

  /** The message text with its http(s) URLs as links, built node by node. */
  function messageText(message) {
    var node = isolated("text", "");
    linkParts(message).forEach(function (part) {
      if (!part.href) {
        node.append(part.text);
        return;
      }
      var link = document.createElement("a");
      link.href = part.href;
      link.textContent = part.text;
      // A new tab that cannot reach back to this page, sends no referrer, and earns the
      // linked site nothing from search engines.
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.title = part.href; // where it really goes (an IDN host shows as punycode)
      link.dir = "auto";
      node.append(link);
    });
    return node;
  }

  /**
   * A line's time: the clock time, with the full date and time as its tooltip (hover), and
   * the same shown as text when the line has keyboard focus (the stylesheet shows .time-full
   * then). Not shown as text on hover: the hovered line would grow and move those below it.
   */
  function timeElement(date) {
    var node = document.createElement("time");
    node.className = "time";
    node.dateTime = date.toISOString();
    var full = fullTime(date);
    node.title = full;
    node.append(clock(date), span("time-full", " · " + full));
    return node;
  }

  function clock(date) {
    try {
      return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    } catch (_err) {
      return date.toISOString().slice(11, 16);
    }
  }

  function avatar(name, userId) {
    var node = span("avatar", initials(name));
    node.dataset.colour = String(colourIndex(userId));
    // The name is read with the message; the initials would only repeat it.
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  /**
   * A chat line: avatar, then a bubble reading "name (provider): message", then its time.
   * item: {id, from, userId, message}; opts: {own, sameName, name (shown), provider (label
   * or ""), warning (look-alike name warning or ""), date (Date)}.
   */
  function chatLine(item, opts) {
    var li = document.createElement("li");
    li.className = opts.own ? "message own" : opts.sameName ? "message same-name" : "message";
    li.dataset.id = item.id;
    li.dataset.from = item.from;
    li.dataset.userId = item.userId || item.from;
    li.dataset.time = String(opts.date.getTime());
    li.tabIndex = -1; // reachable with the arrow keys in the log (moveFocus), not with Tab
    var body = document.createElement("div");
    body.className = "message-body";
    var bubble = document.createElement("p");
    bubble.className = "bubble";
    bubble.append(isolated("from", item.from));
    // Two providers can both have an "alice": the badge tells them apart, and the hidden
    // brackets make a screen reader say "alice (GitHub): hello", not "aliceGitHub: hello".
    if (opts.provider) bubble.append(spoken(" ("), span("idp", opts.provider), spoken(")"));
    // A name the server marked as mixing look-alike letters of two scripts: said and shown.
    if (opts.warning) bubble.append(spoken(", "), span("lookalike", opts.warning));
    // Our name on a line this tab did not send (no sign-in: another tab, or a namesake).
    if (opts.sameName) {
      bubble.append(spoken(", "), span("same-name-note", "another tab or someone with your name"));
    }
    bubble.append(span("sep", ": "), messageText(item.message));
    body.append(bubble, timeElement(opts.date));
    if (!opts.own) li.append(avatar(opts.name, li.dataset.userId));
    li.append(body);
    return li;
  }

  /** Lines that hold an item (not the separators this file puts between them). */
  function isItemLine(node) {
    return !node.classList.contains("day") && !node.classList.contains("unread-divider");
  }

  function itemLines(list) {
    return Array.prototype.filter.call(list.children, isItemLine);
  }

  function lineTime(li) {
    var ms = Number(li.dataset.time);
    return Number.isFinite(ms) && li.dataset.time ? ms : null;
  }

  /**
   * Put a day separator before the first line of each day, and group each chat line under
   * the previous one's name where groupsWith says so. Idempotent: it is run after every
   * change to the list (old separators are removed and placed again; the log is not a live
   * region, so this is never read out).
   */
  function decorate(list, now) {
    var today = now || new Date();
    Array.prototype.slice.call(list.querySelectorAll(":scope > li.day")).forEach(function (d) {
      d.remove();
    });
    var previousDay = "";
    var previousChat = null;
    itemLines(list).forEach(function (li) {
      var ms = lineTime(li);
      if (ms === null) return;
      var date = new Date(ms);
      if (dayKey(date) !== previousDay) {
        previousDay = dayKey(date);
        var separator = document.createElement("li");
        separator.className = "day";
        separator.dataset.day = previousDay;
        separator.textContent = dayLabel(date, today);
        // Above the "new messages" divider when it starts the day.
        var before = li.previousElementSibling;
        var at = before && before.classList.contains("unread-divider") ? before : li;
        list.insertBefore(separator, at);
        previousChat = null;
      }
      var isChat = li.classList.contains("message") && !li.classList.contains("plain");
      var side = li.classList.contains("own")
        ? "own"
        : li.classList.contains("same-name")
          ? "same-name"
          : "other";
      var line = isChat ? { userId: li.dataset.userId, side: side, time: ms } : null;
      li.classList.toggle("continued", !!line && groupsWith(previousChat, line));
      previousChat = line;
    });
  }

  /** The "new messages" divider before `li` (one per list). */
  function markUnread(list, li) {
    var old = list.querySelector(":scope > li.unread-divider");
    if (old) old.remove();
    if (!li) return null;
    var divider = document.createElement("li");
    divider.className = "unread-divider";
    divider.textContent = "New messages";
    list.insertBefore(divider, li);
    return divider;
  }

  /**
   * The reader's place: the first line whose bottom is below the list's top edge, and where
   * it is on the screen. restorePlace puts that line back at the same height on the screen
   * after lines were added above it (and after anything around the list moved it, such as
   * the "Load earlier messages" button going away).
   */
  function savePlace(list) {
    var top = list.getBoundingClientRect().top;
    var lines = itemLines(list);
    for (var i = 0; i < lines.length; i += 1) {
      var box = lines[i].getBoundingClientRect();
      if (box.bottom > top) return { line: lines[i], top: box.top };
    }
    return null;
  }

  function restorePlace(list, place) {
    if (!place || !place.line.isConnected) return;
    list.scrollTop += place.line.getBoundingClientRect().top - place.top;
  }

  /**
   * The arrow keys in the log move the keyboard focus from line to line (Home and End to the
   * first and last, Escape back to the log). A focused line shows its full time.
   * Returns whether the key was used.
   */
  function moveFocus(list, key) {
    var lines = itemLines(list);
    if (!lines.length) return false;
    // The focused line, or the line of the focused link or "Show more" button.
    var active = document.activeElement;
    var at = -1;
    for (var i = 0; i < lines.length && at === -1; i += 1) {
      if (lines[i].contains(active)) at = i;
    }
    var next;
    if (key === "ArrowUp") next = at === -1 ? lines.length - 1 : Math.max(0, at - 1);
    else if (key === "ArrowDown") {
      next = at === -1 ? lines.length - 1 : Math.min(lines.length - 1, at + 1);
    }
    else if (key === "Home") next = 0;
    else if (key === "End") next = lines.length - 1;
    else if (key === "Escape" && at !== -1) {
      list.focus();
      return true;
    } else return false;
    lines[next].tabIndex = -1;
    lines[next].focus();
    return true;
  }

  /** Say a new message in the live region, keeping only the last few announcements. */
  function announce(region, text) {
    var line = document.createElement("p");
    line.textContent = text;
    region.append(line);
    while (region.childElementCount > ANNOUNCE_KEEP) region.firstElementChild.remove();
  }

  return {
    GROUP_GAP_MS: GROUP_GAP_MS,
    AVATAR_COLOURS: AVATAR_COLOURS,
    linkParts: linkParts,
    dayKey: dayKey,
    dayLabel: dayLabel,
    fullTime: fullTime,
    groupsWith: groupsWith,
    initials: initials,
    colourIndex: colourIndex,
    announcement: announcement,
    timeElement: timeElement,
    chatLine: chatLine,
    decorate: decorate,
    markUnread: markUnread,
    savePlace: savePlace,
    restorePlace: restorePlace,
    moveFocus: moveFocus,
    announce: announce,
  };
});
