/*
 * The admins' "Reports" panel (issue 19): the open reports (GET /api/reports) with Dismiss and
 * Delete message (the `resolve` frame). Whether we are an admin is the server's answer to that
 * same route (200 for admins, 403 for everyone else): the page shows the button only then, and
 * the server checks every `resolve` again (chat/moderation.py), so a forged page gains nothing.
 * Each report shows its message as the server read it for the list (author and text as they
 * are now, or deleted), not only what this page happens to have loaded.
 */
(function () {
  "use strict";

  var REFRESH_AFTER_MS = 800; // a dismiss is answered by nothing: look again shortly after
  var keys = window.ChatMenuKeys;

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /**
   * deps: {fetch, send(command), nameOf(user id), excerptOf(room, id) -> text|null,
   *        onAdmin(), button, panel, list, close, status}
   */
  function create(deps) {
    var admin = false;
    var fetching = false;
    var again = false;
    var reports = [];
    var resolving = new Set(); // report ids sent, until the list no longer has them
    var focusFirst = false; // opened: the first action gets focus once the list is in

    function refresh() {
      if (fetching) {
        again = true;
        return;
      }
      fetching = true;
      deps
        .fetch("reports", { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (res) {
          if (res.status === 401 || res.status === 403) return null; // not an admin: no panel
          if (!res.ok) throw new Error("reports answered " + res.status);
          return res.json();
        })
        .then(function (body) {
          fetching = false;
          var was = admin;
          admin = !!body;
          deps.button.hidden = !admin;
          deps.button.dataset.admin = admin ? "true" : "false"; // the server has answered
          if (!admin) deps.panel.hidden = true;
          reports = body && Array.isArray(body.reports) ? body.reports : [];
          var open = new Set(reports.map(function (r) { return r.report; }));
          resolving.forEach(function (id) {
            if (!open.has(id)) resolving.delete(id);
          });
          render();
          focusFirst = false;
          if (admin !== was) deps.onAdmin();
          if (again) {
            again = false;
            refresh();
          }
        })
        .catch(function () {
          fetching = false;
          deps.status.textContent = "Could not load the reports.";
        });
    }

    function label() {
      deps.button.textContent = reports.length ? "Reports (" + reports.length + ")" : "Reports";
    }

    function render() {
      label();
      if (deps.panel.hidden) return;
      var keep = document.activeElement && deps.list.contains(document.activeElement)
        ? document.activeElement.dataset.focusKey : "";
      var items = reports.map(row);
      if (!items.length) items = [node("li", "report-none", "No open reports.")];
      deps.list.replaceChildren.apply(deps.list, items);
      deps.status.textContent = reports.length === 1 ? "1 open report." : reports.length + " open reports.";
      var back = keep && deps.list.querySelector('[data-focus-key="' + CSS.escape(keep) + '"]');
      if (focusFirst) back = deps.list.querySelector("button") || deps.close;
      if (back) back.focus();
      else if (keep) deps.close.focus(); // its row is gone (resolved): stay in the panel
    }

    function row(r) {
      var li = node("li", "report");
      li.dataset.report = r.report;
      var head = node("p", "report-head");
      head.append(node("span", "report-room", "#" + r.room));
      var when = new Date(r.time);
      if (!isNaN(when.getTime())) {
        var t = node("time", "report-time", when.toLocaleString([], { dateStyle: "short", timeStyle: "short" }));
        t.dateTime = r.time;
        head.append(" ", t);
      }
      var quote = shownMessage(r);
      var by = node("p", "report-by", "Reported by " + deps.nameOf(r.reporter) + (r.reason ? ": " + r.reason : ""));
      var actions = node("div", "report-actions");
      var pending = resolving.has(r.report);
      [["Dismiss", "dismiss"], ["Delete message", "delete"]].forEach(function (a) {
        var b = node("button", "btn btn-small" + (a[1] === "delete" ? " btn-danger" : " btn-quiet"), a[0]);
        b.type = "button";
        // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
        if (pending) b.setAttribute("aria-disabled", "true");
        b.dataset.focusKey = r.report + "\n" + a[1];
        b.setAttribute("aria-label", a[0] + ": report of a message in " + r.room + " by " + deps.nameOf(r.reporter));
        b.addEventListener("click", function () {
          if (resolving.has(r.report)) return; // sent already: its answer is on its way
          resolve(r.report, a[1]);
        });
        actions.append(b);
      });
      if (pending) actions.append(node("span", "report-pending", "Resolving…"));
      li.append(head, quote, by, actions);
      return li;
    }

    /**
     * The reported message as the server read it when listing (GET /api/reports: its author
     * and text as they are now, or deleted / unavailable); the page's own copy only when the
     * server could not read it.
     */
    function shownMessage(r) {
      var m = r.message && typeof r.message === "object" ? r.message : { unavailable: true };
      var quote = node("p", "report-excerpt");
      if (typeof m.text === "string") {
        var author = String(m.from || r.authorName || "");
        quote.append(node("span", "report-author", author), ": ", m.text);
        if (typeof m.editedAt === "string") quote.append(node("span", "report-time", " (edited)"));
        return quote;
      }
      var by = r.authorName ? " by " + r.authorName : "";
      if (m.deleted === true) {
        quote.append(node("span", "report-gone", "(message" + by + " deleted)"));
        quote.dataset.deleted = "true";
        return quote;
      }
      var excerpt = deps.excerptOf(r.room, r.id);
      quote.append(node("span", "report-unknown", excerpt === null ? "(message" + by + " unavailable)" : excerpt));
      return quote;
    }

    function resolve(report, action) {
      if (!deps.send({ type: "resolve", report: report, action: action })) return;
      resolving.add(report);
      render();
      window.setTimeout(refresh, REFRESH_AFTER_MS);
    }

    function open() {
      deps.panel.hidden = false;
      deps.button.setAttribute("aria-expanded", "true");
      deps.status.textContent = "Loading the open reports…";
      deps.list.replaceChildren();
      deps.close.focus(); // until the list is in (then its first action: render)
      focusFirst = true;
      refresh();
    }

    function close() {
      deps.panel.hidden = true;
      deps.button.setAttribute("aria-expanded", "false");
      deps.button.focus();
    }

    deps.button.addEventListener("click", function () {
      if (deps.panel.hidden) open();
      else close();
    });
    deps.close.addEventListener("click", close);
    keys.attach(deps.panel, close, "button");

    /** A refusal of a resolve (another admin was first) or a deletion: look again. */
    function frame(data) {
      if (!admin || !data || data.type !== "system") return;
      var m = String(data.message || "");
      if (data.event === "rejected" && m.indexOf("report") !== -1) refresh();
      if (data.event === "moderation" && data.action === "delete") refresh();
    }

    return {
      probe: refresh,
      frame: frame,
      isAdmin: function () {
        return admin;
      },
    };
  }

  window.ChatReports = { create: create };
})();
