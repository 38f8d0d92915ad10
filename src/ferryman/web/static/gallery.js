// ferryman's gallery: a finished job's files as tiles (preview, size, duration), a page
// of them at a time, and a viewer that shows a photo or plays a video or an audio file
// in the page. Previews are small WebP files made at delivery, fetched lazily through
// the same signed links as the files; a job of 1,000 files builds 60 tiles, and only
// once its list is unfolded. A job's view carries its first page of files (and
// files_total); the next pages come from GET /api/v1/jobs/{id}/files as "Show more" asks.
// app.js calls window.ferrymanGallery(view, files, fold).
"use strict";

(() => {
  const PAGE = 60;
  const shown = new Map(); // job id -> how many tiles a person asked to see
  const fetched = new Map(); // job id -> { total, from, files }: pages after the view's own
  const ICON = { audio: "♪", video: "▶", other: "📄", photo: "🖼" };

  function el(tag, cls, content) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function bytes(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + " GB";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
    return Math.max(1, Math.round(n / 1e3)) + " kB";
  }

  function clock(seconds) {
    const s = Math.round(seconds);
    const two = (v) => String(v).padStart(2, "0");
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  }

  const viewable = (f) => ["photo", "video", "audio"].includes(f.kind);

  // One tile: a button that opens the viewer (for what can be shown) over the preview,
  // then the name as the download link, size and duration.
  function tile(view, files, index, links) {
    const f = files[index];
    const box = el("div", "tile");
    box.dataset.kind = f.kind || "other";
    const face = viewable(f) ? el("button", "face") : el("div", "face");
    if (viewable(f)) {
      face.type = "button";
      face.setAttribute("aria-label", `Open ${f.name}`);
      face.addEventListener("click", () => openViewer(view.id, files, index, face));
    }
    if (f.preview) {
      const img = el("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = "";
      img.src = f.preview;
      img.addEventListener("error", () => img.replaceWith(el("span", "icon", ICON[f.kind] || ICON.other)));
      face.append(img);
    } else {
      face.append(el("span", "icon", ICON[f.kind] || ICON.other));
    }
    if (f.duration) face.append(el("span", "duration", clock(f.duration)));
    if (f.kind === "video" && f.preview) face.append(el("span", "play", "▶"));
    box.append(face);
    const meta = el("div", "meta");
    if (links) {
      const a = el("a", "name", f.name);
      a.href = f.url;
      a.dataset.expires = f.expires_at;
      a.setAttribute("aria-label", "Download " + f.name);
      a.title = f.name;
      meta.append(a);
    } else {
      meta.append(el("span", "name", f.name));
    }
    meta.append(el("span", "size", bytes(f.size || 0)));
    box.append(meta);
    return box;
  }

  // Pages fetched before are kept while the job's file count holds, the view still ends
  // where they start (links renewed for every tile shown come in the view) and their
  // links are young (a re-drawn job does not fetch them again).
  function kept(view, files, total) {
    const got = fetched.get(view.id);
    const soon = Date.now() / 1000 + 300;
    const young = got && !got.files.some((f) => f.expires_at < soon);
    if (young && got.total === total && got.from === files.length) return files.concat(got.files);
    fetched.delete(view.id); // the timer renews the view's links alone until "Show more"
    return files.slice();
  }

  async function nextPage(jobId, offset) {
    const query = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    const response = await fetch(`/api/v1/jobs/${jobId}/files?${query}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(response.statusText);
    return (await response.json()).files;
  }

  // The tiles of a job's files, PAGE at a time with a "Show more" button (fetching the
  // page when the view does not hold it); built when the fold (if any) is first opened,
  // so a closed list costs nothing.
  function gallery(view, files, fold, links = true) {
    const total = (view.result && view.result.files_total) || files.length;
    const all = kept(view, files, total);
    const box = el("div", "gallery");
    const grid = el("div", "tiles");
    const more = el("button", "quiet more");
    more.type = "button";
    box.append(grid, more);
    const fill = async () => {
      const want = Math.min(total, shown.get(view.id) || PAGE);
      more.disabled = true;
      try {
        while (all.length < want) {
          const page = await nextPage(view.id, all.length);
          if (!page.length) break;
          all.push(...page);
          fetched.set(view.id, { total, from: files.length, files: all.slice(files.length) });
        }
      } catch (e) {
        more.disabled = false;
        more.textContent = "Could not fetch more files: try again";
        return;
      }
      for (let i = grid.childElementCount; i < Math.min(want, all.length); i++) grid.append(tile(view, all, i, links));
      const left = total - grid.childElementCount;
      more.disabled = false;
      more.hidden = left <= 0;
      more.textContent = `Show ${Math.min(PAGE, left)} more (${left} not shown)`;
    };
    more.addEventListener("click", () => {
      shown.set(view.id, Math.min(total, grid.childElementCount + PAGE));
      fill();
    });
    if (!fold || fold.open) fill();
    else fold.addEventListener("toggle", () => fold.open && fill(), { once: true });
    return box;
  }

  // The viewer: one overlay for the page, over everything; Esc or × closes it; the
  // arrow keys, the ‹ › buttons and a swipe on a phone step through the job's files
  // that can be shown, and "12 / 42" says where among them it is.
  let viewer = null;
  let back = null; // the tile that opened it: focus returns there

  function openViewer(jobId, files, index, from) {
    back = from || back;
    if (!viewer) {
      viewer = el("div", "viewer");
      viewer.setAttribute("role", "dialog");
      viewer.setAttribute("aria-modal", "true");
      viewer.addEventListener("click", (e) => e.target === viewer && closeViewer());
      viewer.addEventListener("keydown", (e) => {
        if (e.key === "Escape") closeViewer();
        else if (e.key === "ArrowRight" || e.key === "ArrowLeft") step(e.key === "ArrowRight" ? 1 : -1);
        else if (e.key === "Tab") keepFocus(e);
      });
      swipes(viewer);
      document.body.append(viewer);
    }
    const f = files[index];
    viewer.dataset.index = index;
    const shownAll = files.filter(viewable);
    const at = shownAll.indexOf(f);
    viewer.step = (by) => {
      const to = shownAll[at + by];
      if (to) openViewer(jobId, files, files.indexOf(to), null);
    };
    viewer.setAttribute("aria-label", f.name);
    const close = el("button", "close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", closeViewer);
    let media;
    if (f.kind === "photo") {
      media = el("img");
      media.alt = f.name;
    } else {
      media = el(f.kind === "video" ? "video" : "audio");
      media.controls = true;
      media.autoplay = true;
      media.preload = "metadata";
      if (f.kind === "video" && f.preview) media.poster = f.preview;
    }
    media.className = "shown";
    media.src = f.url;
    const caption = el("p", "caption");
    const a = el("a", "", f.name);
    a.href = f.url;
    caption.append(a, " · " + bytes(f.size || 0) + (f.duration ? " · " + clock(f.duration) : ""));
    const place = el("p", "place", `${at + 1} / ${shownAll.length}`);
    place.setAttribute("aria-live", "polite");
    const prev = stepButton("prev", "‹", "Previous", at > 0, -1);
    const next = stepButton("next", "›", "Next", at < shownAll.length - 1, 1);
    viewer.replaceChildren(close, place, prev, media, next, caption);
    viewer.hidden = false;
    document.documentElement.classList.add("viewing");
    close.focus();
  }

  function step(by) {
    if (viewer && viewer.step) viewer.step(by);
  }

  function stepButton(cls, glyph, name, enabled, by) {
    const b = el("button", cls, glyph);
    b.type = "button";
    b.setAttribute("aria-label", name);
    b.disabled = !enabled;
    b.addEventListener("click", () => step(by));
    return b;
  }

  // A horizontal swipe of a finger (or a pen) steps; a mostly vertical one, or a short
  // one, does nothing (a video's own controls and scrolling keep working).
  function swipes(node) {
    let from = null;
    node.addEventListener("pointerdown", (e) => {
      from = e.pointerType === "mouse" ? null : { x: e.clientX, y: e.clientY };
    });
    node.addEventListener("pointerup", (e) => {
      if (!from) return;
      const dx = e.clientX - from.x;
      const dy = e.clientY - from.y;
      from = null;
      if (Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
    });
    node.addEventListener("pointercancel", () => (from = null));
  }

  function keepFocus(e) {
    const stops = Array.from(viewer.querySelectorAll("button:not([disabled]), a, video, audio"));
    const at = stops.indexOf(document.activeElement);
    const next = (at + (e.shiftKey ? -1 : 1) + stops.length) % stops.length;
    e.preventDefault();
    stops[next].focus();
  }

  function closeViewer() {
    if (!viewer) return;
    viewer.replaceChildren(); // stops a video or audio file playing
    viewer.hidden = true;
    document.documentElement.classList.remove("viewing");
    if (back && back.isConnected) back.focus();
    back = null;
  }

  window.ferrymanGallery = gallery;
  // The files of the pages fetched for a job beyond its view's: app.js's timer renews
  // their links with the view's.
  window.ferrymanGalleryFetched = (jobId) => (fetched.get(jobId) || { files: [] }).files;
  window.ferrymanViewable = viewable;
})();
