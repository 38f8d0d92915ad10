// A Library job (done, or failed or cancelled part-way) says where its files went, in
// its row's details: the folder under the library's root (and the root), with previews
// of its photos and videos. Asked once per done Library job, when
// its card comes into view (/api/v1/jobs/{id}/library); app.js re-renders cards, so the
// answer is kept and put back under each new rendering. Uses app.js's api() and text().
"use strict";

(() => {
  const known = new Map(); // "id:status" -> the API's answer (a retried job is asked again)
  const asked = new Set();

  function block(where) {
    const box = document.createElement("div");
    box.className = "library";
    const line = document.createElement("div");
    line.className = "where";
    if (where.files_total) {
      const folder = where.folder && where.folder !== "." ? where.folder : "(the library's own folder)";
      line.append("In the library: ", text("code", folder), ` (under ${where.root})`);
    } else {
      line.append(`Nothing of it is in the library (${where.root}).`);
    }
    box.append(line);
    const shown = where.files.filter((f) => f.preview);
    if (shown.length) {
      const thumbs = document.createElement("div");
      thumbs.className = "thumbs";
      for (const file of shown) {
        const img = document.createElement("img");
        img.src = file.preview;
        img.alt = file.name;
        img.title = file.path;
        img.loading = "lazy";
        thumbs.append(img);
      }
      box.append(thumbs);
    }
    const more = where.files_total - where.files.length;
    if (more > 0) box.append(text("div", `and ${more} more files there`, "where"));
    return box;
  }

  const keyOf = (item) => `${item.dataset.job}:${item.dataset.status}`;

  function place(item) {
    if (!known.has(keyOf(item)) || item.querySelector(".library")) return;
    const where = known.get(keyOf(item));
    if (!where.files_total && item.dataset.status !== "done") return; // nothing arrived: the error says it
    // In the row's details (unfolded on demand, as a link job's preview): the row stays one line.
    (item.querySelector(".more-box") || item).append(block(where));
  }

  async function ask(item) {
    const id = Number(item.dataset.job);
    const key = keyOf(item);
    if (asked.has(key)) return place(item);
    asked.add(key);
    try {
      known.set(key, await api("GET", `/jobs/${id}/library`));
    } catch (e) {
      asked.delete(key); // asked again when the card is seen next
      return;
    }
    const now = document.querySelector(`#jobs li[data-job="${id}"]`);
    if (now) place(now);
  }

  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      seen.unobserve(entry.target);
      ask(entry.target);
    }
  });

  function look() {
    // Done, or ended before the end: a failed or cancelled job says what did arrive.
    const ended = ["done", "failed", "cancelled"].map((s) => `#jobs li.job[data-dest="library"][data-status="${s}"]`);
    for (const item of document.querySelectorAll(ended.join(", "))) {
      if (known.has(keyOf(item))) place(item);
      else seen.observe(item);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("jobs");
    if (!list) return;
    new MutationObserver(look).observe(list, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["data-status", "data-dest"],
    });
    look();
  });
})();
