// A Library job says where its files went: the folder under the library's root (and the
// root), with previews of its photos and videos. Asked once per done Library job, when
// its card comes into view (/api/v1/jobs/{id}/library); app.js re-renders cards, so the
// answer is kept and put back under each new rendering. Uses app.js's api() and text().
"use strict";

(() => {
  const known = new Map(); // job id -> the API's answer
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

  function place(item) {
    const id = Number(item.dataset.job);
    if (!known.has(id) || item.querySelector(".library")) return;
    item.append(block(known.get(id)));
  }

  async function ask(item) {
    const id = Number(item.dataset.job);
    if (asked.has(id)) return place(item);
    asked.add(id);
    try {
      known.set(id, await api("GET", `/jobs/${id}/library`));
    } catch (e) {
      asked.delete(id); // asked again when the card is seen next
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
    for (const item of document.querySelectorAll('#jobs li.job[data-dest="library"][data-status="done"]')) {
      if (known.has(Number(item.dataset.job))) place(item);
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
