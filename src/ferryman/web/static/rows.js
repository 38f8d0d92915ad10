// The job list's rows out of view skip layout (content-visibility: auto in app.css) and
// stand at an estimated height until first drawn. One fixed estimate (2.9rem) was 62 px
// short of a failed row (its error on a second line; more on a phone): scrolled to, 200
// such rows grew by 12,000 px as they were drawn, and "Show older" moved away from under
// the pointer (a click landed on the panel; steady sets 10 and 16). Here each kind of row
// (its status and outcome) takes the height its kind was last drawn at: at a new width (a
// phone turned) the rows in view change size, and their kinds are learned anew.
"use strict";

(() => {
  const drawn = new Map(); // "status|outcome" -> content height in px, as last drawn
  // A sheet made here: the page's policy (style-src 'self') refuses a <style> element.
  const rules = typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in document ? new CSSStyleSheet() : null;

  function key(row) {
    return `${row.dataset.status || ""}|${row.dataset.outcome || ""}`;
  }

  // A row whose contents are skipped shows the estimate, not its own height.
  function skipped(row) {
    const inner = row.firstElementChild;
    if (!inner || typeof inner.checkVisibility !== "function") return true;
    return !inner.checkVisibility({ contentVisibilityAuto: true });
  }

  function learn(entries) {
    let changed = false;
    for (const entry of entries) {
      const row = entry.target;
      if (!row.isConnected || row.hidden || skipped(row)) continue;
      if (row.querySelector("details[open]")) continue; // unfolded: not its kind's height
      const box = entry.contentBoxSize && entry.contentBoxSize[0];
      const height = box ? box.blockSize : entry.contentRect.height;
      if (!(height > 0)) continue;
      const kind = key(row);
      if (Math.abs((drawn.get(kind) || 0) - height) < 1) continue;
      drawn.set(kind, height);
      changed = true;
    }
    if (!changed) return;
    const css = [];
    for (const [kind, height] of drawn) {
      const [status, outcome] = kind.split("|").map((s) => CSS.escape(s));
      const which = `[data-status="${status}"]` + (outcome ? `[data-outcome="${outcome}"]` : "");
      css.push(`#jobs > li.job${which} { contain-intrinsic-size: auto ${height.toFixed(2)}px; }`);
    }
    rules.replaceSync(css.join("\n"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("jobs");
    if (!list || !rules || typeof ResizeObserver !== "function") return;
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, rules];
    const sizes = new ResizeObserver(learn);
    for (const row of list.children) sizes.observe(row);
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const row of change.addedNodes) if (row.nodeType === 1) sizes.observe(row);
        for (const row of change.removedNodes) if (row.nodeType === 1 && !row.isConnected) sizes.unobserve(row);
      }
    }).observe(list, { childList: true });
  });
})();
