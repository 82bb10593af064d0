/*
 * Very tall messages (sixty short lines, say) are shown collapsed, with a
 * "Show more" button, so one message cannot push the whole conversation
 * off the screen. The full text stays in the DOM (copy, search and screen
 * readers get all of it); only its box is clipped until the reader asks.
 */
(function (root) {
  "use strict";

  var next = 0;

  /**
   * Collapse `bubble` (already in the document, so it can be measured) if
   * its text is taller than the collapsed height set by the stylesheet, and
   * put a toggle right after it. Returns whether it was collapsed.
   */
  function collapseIfTall(bubble) {
    bubble.classList.add("collapsed");
    if (bubble.scrollHeight <= bubble.clientHeight + 1) {
      bubble.classList.remove("collapsed");
      return false;
    }
    next += 1;
    bubble.id = bubble.id || "bubble-" + next;
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "btn btn-small btn-quiet show-more";
    toggle.setAttribute("aria-controls", bubble.id);
    toggle.setAttribute("aria-expanded", "false");
    toggle.textContent = "Show more";
    toggle.addEventListener("click", function () {
      var expanded = !bubble.classList.toggle("collapsed");
      toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
      toggle.textContent = expanded ? "Show less" : "Show more";
    });
    bubble.after(toggle);
    return true;
  }

  root.ChatCollapse = { collapseIfTall: collapseIfTall };
})(window);
