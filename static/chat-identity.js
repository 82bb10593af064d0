/*
 * Sign-in mode (ChatSignIn=required): who the page is signed in as, and
 * where App Service Authentication's sign-in and sign-out live. Pure: no
 * DOM, so it runs under Node too (`node --test tests/browser/js/`).
 *
 * The server names a signed-in user `<idp>:<id>:<name>`, with `%`, `:` and
 * `,` escaped in the id and the name (see chat/identity.py): the provider and
 * its id make the user unique, the name is what others see. Own messages are recognised by that whole id, never by
 * the name, since two providers can both have an "alice".
 * Exported as `window.ChatIdentity`, or via `module.exports` under Node.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ChatIdentity = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var LABELS = {
    aad: "Microsoft",
    github: "GitHub",
    google: "Google",
    facebook: "Facebook",
    x: "X",
    twitter: "X",
    apple: "Apple",
  };
  var IDP = /^[a-z0-9][a-z0-9_.-]{0,31}$/;

  /** The providers the server offers (the chat-sign-in meta tag); [] when sign-in is off. */
  function providersFromMeta(content) {
    var seen = [];
    String(content || "")
      .split(/\s+/)
      .forEach(function (idp) {
        if (Object.prototype.hasOwnProperty.call(LABELS, idp) && seen.indexOf(idp) < 0) {
          seen.push(idp);
        }
      });
    return seen;
  }

  function providerLabel(idp) {
    return Object.prototype.hasOwnProperty.call(LABELS, idp) ? LABELS[idp] : String(idp || "");
  }

  /** {idp, id, name} for a signed-in user id, or null for anything else. */
  function parseUserId(userId) {
    if (typeof userId !== "string") return null;
    var parts = userId.split(":");
    if (parts.length !== 3 || !IDP.test(parts[0]) || !parts[1] || !parts[2]) return null;
    try {
      // The server escapes %, : and , in the id and the name.
      return { idp: parts[0], id: decodeURIComponent(parts[1]), name: decodeURIComponent(parts[2]) };
    } catch (_err) {
      return null;
    }
  }

  /** Same-site path to come back to after signing in or out. */
  function returnPath(location) {
    var loc = location || {};
    var path = String(loc.pathname || "/");
    return path.charAt(0) === "/" && path.charAt(1) !== "/" ? path + String(loc.search || "") : "/";
  }

  function loginUrl(idp, back) {
    return (
      "/.auth/login/" + encodeURIComponent(idp) + "?post_login_redirect_uri=" + encodeURIComponent(back)
    );
  }

  function logoutUrl(back) {
    return "/.auth/logout?post_logout_redirect_uri=" + encodeURIComponent(back);
  }

  /**
   * The warning to show beside a sender whose provider name mixes scripts with look-alike
   * letters (the server marks it `lookalike: true`: a provider's name cannot be refused at
   * sign-in, so it is shown, but never silently); "" for everyone else.
   */
  function lookalikeWarning(item) {
    return item && item.lookalike === true ? "\u26a0 look-alike letters from another script" : "";
  }

  /**
   * Whether a received item is our own. Signed in, only the user id counts
   * (a frame without one is never ours); otherwise the chosen name is the id.
   */
  function isOwn(item, myUserId, signedIn) {
    if (!item || !myUserId) return false;
    if (signedIn) return item.userId === myUserId;
    return (item.userId || item.from) === myUserId;
  }

  return {
    providersFromMeta: providersFromMeta,
    providerLabel: providerLabel,
    parseUserId: parseUserId,
    returnPath: returnPath,
    loginUrl: loginUrl,
    logoutUrl: logoutUrl,
    isOwn: isOwn,
    lookalikeWarning: lookalikeWarning,
  };
});
