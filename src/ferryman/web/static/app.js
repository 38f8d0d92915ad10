// ferryman's page: start jobs, upload files in resumable pieces, keep the job list live.
// Live updates come over a WebSocket; if that fails, Server-Sent Events; if those fail,
// polling. Each message has a number: a reconnect asks for what came after the last one.
"use strict";

const API = "/api/v1";
const CSRF = { "X-Ferryman-CSRF": "1" };
const PIECE = 8 * 1024 * 1024;
const jobs = new Map();
let last = 0;
let epoch = null;
let live = false; // the live stream is connected: figures are shown only then

async function api(method, path, body) {
  const init = { method, headers: { ...CSRF }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) {
    const error = new Error(data.error ? data.error.message : response.statusText);
    error.info = data.error;
    error.status = response.status;
    error.retryAfter = seconds(response.headers.get("Retry-After"));
    throw error;
  }
  return data;
}

// A Retry-After header's seconds (a 429 or a 503 says how long to wait), or null.
function seconds(header) {
  const n = Number(header);
  return header !== null && header !== "" && Number.isFinite(n) && n >= 0 ? Math.min(Math.ceil(n), 3600) : null;
}

function text(tag, content, cls) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  node.textContent = content;
  return node;
}

function statusText(view) {
  if (view.status === "needs_password") return view.waiting === "archive.password_wrong" ? "wrong password" : "needs a password";
  if (view.stuck) return view.phase + " — no progress for a while";
  const c = view.counts || {};
  if (outcome(view) === "nothing") return "nothing delivered";
  if (outcome(view) === "partial") return `${view.status} · ${c.delivered} of ${c.total} delivered`;
  return view.phase;
}

// How an ended job came out beside its state: "nothing" (done, but not one file
// delivered: not the grey "done" of one that delivered all), "partial" (failed or
// cancelled after delivering some: those can be downloaded; or done keeping a code:
// files that failed, an album's every one, or were kept back: no green bar), else "".
function outcome(view) {
  const delivered = (view.counts && view.counts.delivered) || 0;
  if (view.status === "done" && !delivered) return "nothing";
  if ((view.status === "failed" || view.status === "cancelled") && delivered) return "partial";
  if (view.status === "done" && view.error) return "partial";
  return "";
}

// The row's figures: share done, and the phase's own speed and time left while the
// page is live (stale ones are not shown while it reconnects); where it waits in line.
function detailText(view) {
  if (ENDED.includes(view.status) && view.finished_at) {
    // Ended: what it came to and when (its bar says 100 % already).
    const bits = view.bytes ? [size(view.bytes)] : [];
    bits.push(whenText(view.finished_at));
    return bits.join(" · ");
  }
  const p = view.progress;
  const share = Math.round((p.fraction || 0) * 100) + "%";
  const bits = [sizeUnknown(view) ? size(p.bytes) + " so far" : share];
  // Speed and time left belong to the phase under way, in its own unit (a conversion's
  // is media time per second); a job waiting, paused or ended has none.
  const moving = ["downloading", "converting", "delivering"].includes(view.phase) && live;
  if (moving && p.speed) bits.push(speedText(p.speed, p.speed_unit));
  if (moving && p.eta_s !== null && p.eta_s !== undefined) bits.push(etaText(p.eta_s));
  const c = view.counts || {};
  if (c.total && !ENDED.includes(view.status)) bits.push((c.finished || 0) + "/" + c.total + " files");
  if (view.waiting_next && view.status !== "needs_password") bits.push(view.waiting_next);
  if (view.in_line) bits.push(inLineText(view.in_line));
  return bits.join(" · ");
}

// A download whose size nobody knows (no Content-Length) while nothing else says its
// share: its bytes so far are what moves, and its bar moves to and fro, not at 0 %.
function sizeUnknown(view) {
  const p = view.progress;
  return view.phase === "downloading" && p.total == null && p.bytes > 0 && !(p.fraction > 0);
}

// A time as the list says it: the hour today, else the day (the full date in the title).
function whenText(epoch) {
  const at = new Date(epoch * 1000);
  const today = at.toDateString() === new Date().toDateString();
  return today
    ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleDateString([], { day: "numeric", month: "short" });
}

// Where the job's files went, and when it was added and ended, in words.
function whereText(view) {
  const bits = [];
  if (view.where) bits.push((ENDED.includes(view.status) ? "to " : "for ") + view.where);
  if (view.created_at) bits.push("added " + new Date(view.created_at * 1000).toLocaleString());
  if (view.finished_at) bits.push("ended " + new Date(view.finished_at * 1000).toLocaleString());
  return bits.join(" · ");
}

// What the details toggle unfolds: the source, the counts, a one-file job's preview.
function moreText(view) {
  const c = view.counts || {};
  const bits = [];
  if (c.total) bits.push(`${c.finished || 0} of ${c.total} files finished`);
  if (c.delivered) bits.push(`${c.delivered} delivered`);
  if (view.converted) bits.push(`${view.converted} converted to play everywhere`);
  if (c.skipped) bits.push(c.skipped + " skipped (not a photo or video)");
  return bits.join(" · ");
}

function speedText(speed, unit) {
  if (unit === "x") return speed.toFixed(1) + "× real time";
  return speed >= 1e6 ? (speed / 1e6).toFixed(1) + " MB/s" : Math.round(speed / 1e3) + " kB/s";
}

function etaText(seconds) {
  if (seconds < 120) return Math.round(seconds) + " s left";
  if (seconds < 7200) return Math.round(seconds / 60) + " min left";
  return (seconds / 3600).toFixed(1) + " h left";
}

// A queued job's place: "waiting: 2 downloads ahead", "waiting: 1 job to read ahead".
function inLineText(place) {
  const n = place.ahead;
  if (!n) return "waiting: next in line";
  if (place.reason === "downloads") return `waiting: ${n} download${n === 1 ? "" : "s"} ahead`;
  return `waiting: ${n} job${n === 1 ? "" : "s"} to read ahead`;
}

// A job just added, as read back: shown unless the live stream showed it first. A job
// that fails at once (a link's 404) is often sent by the stream before this read's
// answer arrives, and the older "queued" view would then stay, as nothing more is sent.
function renderMade(view) {
  if (!jobs.has(view.id)) render(view);
}

function render(view, many) {
  const old = jobs.get(view.id);
  // The bar never goes back within a run; a retried job is a new run (from its own figures).
  const again = old && ENDED.includes(old.status) && !ENDED.includes(view.status);
  if (old && !again && old.progress && view.progress.fraction < old.progress.fraction) {
    view.progress.fraction = old.progress.fraction;
  }
  jobs.set(view.id, view);
  const list = document.getElementById("jobs");
  let item = list.querySelector(`li[data-job="${view.id}"]`);
  if (!item) {
    item = document.createElement("li");
    item.className = "job";
    item.dataset.job = view.id;
  }
  const typing = item.querySelector("input[type=password]");
  if (typing && document.activeElement === typing && view.status === "needs_password") {
    return; // do not wipe a password being typed
  }
  item.dataset.status = view.status;
  item.dataset.outcome = outcome(view);
  place(list, item, view);
  item.dataset.dest = (view.dest || "").split(":")[0]; // library.js finds Library jobs by it
  // A click opens or closes the file list at once, its "toggle" event comes a task later:
  // a redraw in between (a live message) built the list from the old state, closed again.
  const fold = item.querySelector(".files > details");
  if (fold) fold.open ? opened.add(view.id) : opened.delete(view.id);
  const codeOpen = Boolean(item.querySelector("details.code-details[open]")); // an error's code
  item.replaceChildren();
  // One line, as MeTube's: name, phase, figures, the downloads, the actions.
  const row = document.createElement("div");
  row.className = "row";
  const pick = document.createElement("input");
  pick.type = "checkbox";
  pick.className = "pick";
  pick.checked = picked.has(view.id);
  pick.setAttribute("aria-label", "Select " + view.name);
  pick.addEventListener("change", () => {
    pick.checked ? picked.add(view.id) : picked.delete(view.id);
    showPicked();
  });
  const name = text("strong", view.name, "name");
  name.title = view.name;
  row.append(pick, name, text("span", statusText(view), "status"), text("span", detailText(view), "detail"));
  const files = (view.result && view.result.files) || [];
  if (files.length) row.append(fileList(view, files));
  const actions = document.createElement("span");
  actions.className = "actions";
  if (!ENDED.includes(view.status)) {
    actions.append(button("Cancel", () => api("POST", `/jobs/${view.id}/cancel`), view.name));
  }
  if (retryable(view)) {
    actions.append(button("Retry", () => api("POST", `/jobs/${view.id}/retry`), view.name));
  }
  if (ENDED.includes(view.status)) actions.append(removeButton(view));
  const more = moreBox(view, files);
  actions.append(moreToggle(view, more));
  row.append(actions);
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = Math.round((view.progress.fraction || 0) * 100);
  bar.setAttribute("aria-label", "Progress of " + view.name);
  bar.textContent = bar.value + "%";
  if (sizeUnknown(view)) {
    bar.removeAttribute("value"); // indeterminate: the share is not known
    bar.textContent = size(view.progress.bytes);
  }
  item.append(row, bar);
  if (view.error) item.append(errorNote(view.error, codeOpen));
  if (view.status === "needs_password") {
    if (view.waiting === "archive.password_wrong") {
      // Said on the card, with a new prompt (the card said "needs a password" as before).
      const wrong = text("p", "That password did not open it. ", "error wrong-password");
      wrong.append(text("span", view.waiting_next || "", "next"));
      item.append(wrong);
    }
    item.append(passwordForm(view));
  }
  if (view.result && view.result.unavailable) {
    const note = text("p", "Downloads are unavailable for now: " + view.result.unavailable + " ", "error");
    note.append(text("span", "They come back by themselves once the results store answers.", "next"));
    item.append(note);
  }
  item.append(more);
  filterOne(item);
  if (!many) emptyState();
}

// The details a row keeps folded (a toggle per row, its state kept across redraws).
const unfolded = new Set();

function moreBox(view, files) {
  const box = document.createElement("div");
  box.className = "more-box";
  box.id = "more-" + view.id;
  box.hidden = !unfolded.has(view.id);
  box.append(text("div", view.source, "source"));
  const where = whereText(view);
  if (where) box.append(text("div", where, "where"));
  const counts = moreText(view);
  if (counts) box.append(text("div", counts, "counts"));
  const gallery = window.ferrymanGallery;
  const one = (view.result && (view.result.files_total ?? files.length)) === 1;
  if (one && gallery && window.ferrymanViewable(files[0]) && !box.hidden) {
    box.append(gallery(view, files, null, false)); // built only when unfolded
  }
  return box;
}

function moreToggle(view, box) {
  const toggle = text("button", unfolded.has(view.id) ? "▾" : "▸", "fold");
  toggle.type = "button";
  toggle.setAttribute("aria-label", "Details of " + view.name);
  toggle.setAttribute("aria-expanded", String(unfolded.has(view.id)));
  toggle.setAttribute("aria-controls", box.id);
  toggle.addEventListener("click", () => {
    unfolded.has(view.id) ? unfolded.delete(view.id) : unfolded.add(view.id);
    render(jobs.get(view.id) || view);
    const again = document.querySelector(`#jobs li[data-job="${view.id}"] button.fold`);
    if (again) again.focus();
  });
  return toggle;
}

// What Remove forgets and what it keeps, by where the files went: a library's files
// and what a chat was sent stay; a download link's files go with the job.
function keeps(view) {
  const kind = (view.dest || "").split(":")[0];
  if (kind === "link") return "its download links and their files go too";
  if (kind === "telegram") return "what was sent to the chat stays there";
  if (kind === "library") return "its files stay in the library";
  return "what it delivered stays where it went";
}

function removeQuestion(views) {
  const said = views.length === 1 ? `“${views[0].name}”` : `${views.length} jobs`;
  const kept = [...new Set(views.map(keeps))].join("; ");
  return `Remove ${said} from the list? ${kept[0].toUpperCase()}${kept.slice(1)}.`;
}

function removeButton(view) {
  const remove = text("button", "Remove");
  remove.type = "button";
  remove.title = `Forget this job: ${keeps(view)}`;
  remove.setAttribute("aria-label", "Remove " + view.name);
  remove.addEventListener("click", async () => {
    if (!confirm(removeQuestion([view]))) return;
    remove.disabled = true;
    try {
      await api("DELETE", `/jobs/${view.id}`);
      forget(view.id);
    } catch (e) {
      showError(e);
      remove.disabled = false;
    }
  });
  return remove;
}

// Whether Retry can do something: a job failed or cancelled, or done with files failed.
function retryable(view) {
  return ["failed", "cancelled"].includes(view.status) || (view.status === "done" && Boolean(view.counts && view.counts.failed));
}

// The list's order: running jobs pinned on top (newest first), then those waiting in
// the order they will start, then the ended ones, newest first.
function rank(view) {
  if (ENDED.includes(view.status)) return [2, -view.id];
  if (view.status === "queued") return [1, view.in_line ? view.in_line.ahead : 0, view.id];
  return [0, -view.id];
}

function before(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

// A row's rank: from its view, or, for a row the server drew and no view has redrawn
// yet, from its number and state.
function rankOf(li) {
  const id = Number(li.dataset.job);
  return rank(jobs.get(id) || { id, status: li.dataset.status });
}

function place(list, item, view) {
  const key = rank(view);
  const prev = item.previousElementSibling;
  const next = item.nextElementSibling;
  const fits =
    item.parentNode === list && (!prev || !before(key, rankOf(prev))) && (!next || !before(rankOf(next), key));
  if (fits) return; // already where it belongs: no move (most updates)
  const last = list.lastElementChild;
  if (last && last !== item && !before(key, rankOf(last))) {
    list.append(item); // an older page's job: after every row shown (no scan of them all)
    return;
  }
  const after = Array.from(list.children).find((li) => li !== item && before(key, rankOf(li)));
  list.insertBefore(item, after || null);
}

const ENDED = ["done", "failed", "cancelled"];

// The page shows no job numbers: "job 7" in a server's message becomes that job's name
// where the page knows it, else "another job".
function plainWords(message) {
  return String(message).replace(/\bjob (\d+)\b/g, (_, id) => {
    const named = jobs.get(Number(id));
    return named ? `“${named.name}”` : "another job";
  });
}

// A card's error: what happened and what to do, in words; the code (for a bug report or
// the docs) folded under "Details", never a chip of its own.
function errorNote(error, open = false) {
  const note = text("div", plainWords(error.message) + " ", "error");
  note.append(text("span", error.next, "next"));
  const details = document.createElement("details");
  details.className = "code-details";
  details.open = open; // kept across a redraw, as the file list is
  details.append(text("summary", "Details"), text("code", error.code, "code"));
  // What a library itself said (a connection's repr, an errno): for a bug report only.
  if (error.detail) details.append(text("pre", error.detail, "said"));
  if (error.line) {
    // The one line to type where the fix is a setting on the server.
    const line = text("p", "On the server: ", "line");
    line.append(text("code", error.line));
    details.append(line);
  }
  note.append(details);
  return note;
}
const opened = new Set(); // jobs whose file list a person unfolded: kept open on re-render

function size(bytes) {
  if (bytes >= 1e9) return (bytes / 1e9).toFixed(1) + " GB";
  if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + " MB";
  return Math.max(1, Math.round(bytes / 1e3)) + " kB";
}

function fileLink(label, target) {
  const a = text("a", label);
  a.href = target.url;
  a.dataset.expires = target.expires_at;
  return a;
}

// One file: its link. Several: folded behind "42 files · 1.2 GB" and "Download all",
// unfolded on a click (a 42-file job listed 42 links before the zip).
function fileList(view, files) {
  const box = document.createElement("div");
  box.className = "files";
  const gallery = window.ferrymanGallery; // gallery.js: previews, and a viewer in the page
  const result = view.result; // one page of files, with the totals of all (files_total)
  const count = result.files_total ?? files.length;
  if (count === 1) {
    // Its preview is in the row's details (unfolded on demand): the row stays one line.
    box.append(fileLink("Download " + files[0].name, files[0]));
    return box;
  }
  const total = result.bytes_total ?? files.reduce((sum, f) => sum + (f.size || 0), 0);
  const fold = document.createElement("details");
  fold.open = opened.has(view.id);
  fold.addEventListener("toggle", () => (fold.open ? opened.add(view.id) : opened.delete(view.id)));
  fold.append(text("summary", `${count} files · ${size(total)}`));
  const inner = document.createElement("div");
  inner.className = "file-links";
  if (gallery) inner.append(gallery(view, files, fold));
  else {
    for (const f of files) inner.append(fileLink("Download " + f.name, f));
    if (count > files.length) inner.append(text("p", `${count - files.length} more in the zip`, "more"));
  }
  fold.append(inner);
  box.append(fold);
  if (view.result.zip && view.result.zip.url) box.append(fileLink("Download all (zip)", view.result.zip));
  return box;
}

// Several jobs selected: retry or remove them together.
const picked = new Set();

function showPicked() {
  for (const id of picked) if (!jobs.has(id)) picked.delete(id);
  const bar = document.getElementById("picked");
  if (!bar) return;
  bar.hidden = picked.size === 0;
  document.getElementById("picked-count").textContent = `${picked.size} selected`;
  // Offered only when one of them can be retried (a running or a whole job cannot).
  const retry = document.getElementById("picked-retry");
  if (retry) retry.hidden = !Array.from(picked, (id) => jobs.get(id)).some((v) => v && retryable(v));
}

async function onPicked(verb) {
  const views = Array.from(picked, (id) => jobs.get(id)).filter(Boolean);
  const ended = views.filter((v) => ENDED.includes(v.status));
  try {
    if (verb === "remove") {
      if (!ended.length) return showError(new Error("Only ended jobs can be removed; cancel the others first."));
      if (!confirm(removeQuestion(ended))) return;
      for (const id of await bulk("remove", ended)) forget(id);
    } else {
      await bulk("retry", views.filter(retryable));
    }
    picked.clear();
    for (const box of document.querySelectorAll("#jobs input.pick")) box.checked = false;
  } catch (e) {
    showError(e);
  }
  showPicked();
}

// One request for all of them (one per job met the rate limit past 120): the live
// stream brings the retried jobs' new views. Returns the ids done; says what was refused.
async function bulk(action, views) {
  const done = [];
  const refused = [];
  for (let at = 0; at < views.length; at += 1000) {
    const ids = views.slice(at, at + 1000).map((v) => v.id);
    const answer = await api("POST", "/jobs/bulk", { action, ids });
    done.push(...answer.done);
    refused.push(...answer.refused);
  }
  if (refused.length) {
    const first = jobs.get(refused[0].id);
    const name = first ? first.name : "a job";
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more)` : "";
    showError({ info: { message: `${name}${more}: ${refused[0].error.message}`, next: refused[0].error.next } });
  }
  return done;
}

function forget(id) {
  jobs.delete(id);
  opened.delete(id);
  picked.delete(id);
  showPicked();
  const item = document.querySelector(`#jobs li[data-job="${id}"]`);
  if (item) item.remove();
  emptyState();
}

// The list's views (the API's ``shown``): Queue is every job not ended.
const FILTERS = {
  all: () => true,
  queue: (s) => !ENDED.includes(s),
  failed: (s) => s === "failed" || s === "cancelled",
  done: (s) => s === "done",
};

function shownNow() {
  const chosen = document.querySelector('input[name="show"]:checked');
  return chosen ? chosen.value : "all";
}

function filterNow() {
  return FILTERS[shownNow()] || FILTERS.all;
}

function filterOne(item, keep) {
  const hide = !(keep || filterNow())(item.dataset.status);
  if (item.hidden !== hide) item.hidden = hide; // unchanged rows cost no style work
}

// Older jobs a page at a time, to any depth, per view: ``older[view]`` is the job
// before which that view has not been read yet (0: nothing older is left).
const PAGE_JOBS = 50;
const older = {};

const SNAPSHOT_JOBS = 200; // the newest jobs a snapshot holds (web/api/events.SNAPSHOT_JOBS)

// A snapshot holds the newest jobs of all: each view has read down to its oldest.
function snapshotRead(views) {
  if (views.length < SNAPSHOT_JOBS) {
    for (const view of Object.keys(FILTERS)) older[view] = 0; // every job is here
    return;
  }
  const oldest = Math.min(...views.map((v) => v.id));
  for (const view of Object.keys(FILTERS)) if (older[view]) older[view] = Math.min(older[view], oldest);
}

async function showOlder() {
  const view = shownNow();
  const more = document.getElementById("older");
  more.disabled = true;
  try {
    // Pages until one brings a job not shown yet (the live stream may have brought them).
    for (let fresh = 0; !fresh && older[view]; ) {
      const query = new URLSearchParams({ before: String(older[view]), limit: String(PAGE_JOBS), shown: view });
      const page = await api("GET", `/jobs?${query}`);
      for (const job of page.jobs) if (!jobs.has(job.id) && ++fresh) render(job, true);
      older[view] = page.next_before ?? 0;
    }
    if (view === "all") for (const other of Object.keys(older)) older[other] = Math.min(older[other], older.all);
  } catch (e) {
    showError(e);
  } finally {
    more.disabled = false;
  }
  emptyState();
}

// The tabs: the job list's views, and the watches in a view of their own.
function showView() {
  const view = shownNow();
  const watching = view === "watches";
  const jobsBox = document.getElementById("jobs-panel");
  const watchesBox = document.getElementById("watches-panel");
  if (jobsBox) jobsBox.hidden = watching;
  if (watchesBox) watchesBox.hidden = !watching;
  if (watching) return;
  const keep = filterNow();
  for (const item of document.querySelectorAll("#jobs li.job")) filterOne(item, keep);
  emptyState();
}

function emptyState() {
  const note = document.getElementById("empty");
  if (!note) return;
  const items = Array.from(document.querySelectorAll("#jobs li.job"));
  const shown = items.filter((li) => !li.hidden).length;
  note.textContent = !items.length
    ? "No jobs yet. Paste a link above, or choose files, and press Start."
    : shown
      ? ""
      : "No jobs of this kind.";
  note.hidden = shown > 0;
  const clear = document.getElementById("clear");
  if (clear) clear.hidden = !items.some((li) => ENDED.includes(li.dataset.status));
  const more = document.getElementById("older");
  if (more) more.hidden = !older[shownNow()];
}

async function clearFinished() {
  const ended = Array.from(jobs.values()).filter((v) => ENDED.includes(v.status));
  if (!ended.length) return;
  if (!confirm(removeQuestion(ended))) return;
  try {
    const answer = await api("POST", "/jobs/clear", {});
    for (const id of answer.removed) forget(id);
  } catch (e) {
    showError(e);
  }
}

// A per-job button is named with its job ("Retry holiday"): a screen reader's list of
// buttons otherwise reads "Retry, Retry, Retry".
function button(label, action, jobName) {
  const b = text("button", label);
  b.type = "button";
  if (jobName) b.setAttribute("aria-label", `${label} ${jobName}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      render(await action());
    } catch (e) {
      showError(e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function passwordForm(view) {
  const form = document.createElement("form");
  form.className = "password";
  const id = "password-" + view.id;
  const label = text("label", "Password");
  label.htmlFor = id;
  const input = document.createElement("input");
  input.type = "password";
  input.id = id;
  input.autocomplete = "off";
  const send = text("button", "Send password");
  send.type = "submit";
  const said = text("p", "", "error");
  said.setAttribute("role", "alert");
  form.append(label, input, send, said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      render(await api("POST", `/jobs/${view.id}/password`, { password: input.value }));
    } catch (e) {
      if (!e.info) return showError(e);
      said.textContent = `${plainWords(e.info.message)} — ${e.info.next}`; // on the card, not above
    }
  });
  return form;
}

function showError(e) {
  const box = document.getElementById("form-error");
  if (!box) return;
  if (e instanceof TypeError) {
    // fetch() could not reach the server: the browser's words ("Failed to fetch") say little.
    box.textContent = "ferryman is not answering right now; try again once it is back (the job list reconnects by itself).";
    return;
  }
  box.textContent = e.info ? `${plainWords(e.info.message)} — ${e.info.next}` : String(e.message || e);
}

// Links in any text: one per line, or pasted from a message with words around them
// (a trailing full stop or bracket is the sentence's, not the link's).
const LINK = /\b(?:https?|davs?):\/\/[^\s<>"'`]+/gi;

function findLinks(typed) {
  const found = [];
  for (const match of typed.matchAll(LINK)) {
    const link = match[0].replace(/[.,;:!?)\]}'"»”]+$/, "");
    if (!found.includes(link)) found.push(link);
  }
  return found;
}

const PLAYLIST = /[?&]list=|\/playlist\b|\/sets\/|\/album\//i;

function showPlaylist() {
  const box = document.querySelector(".for-playlist");
  if (box) box.hidden = !findLinks(document.getElementById("link").value).some((l) => PLAYLIST.test(l));
}

// The form remembers per browser the output and destination chosen last.
const REMEMBERED = ["output", "quality", "format", "bitrate", "chat", "preset", "rclone-remote", "rclone-path"];

function remember() {
  const kept = {};
  for (const id of REMEMBERED) {
    const node = document.getElementById(id);
    if (node) kept[id] = node.value;
  }
  const dest = document.querySelector('input[name="dest"]:checked');
  if (dest) kept.dest = dest.value;
  try {
    localStorage.setItem("ferryman.form", JSON.stringify(kept));
  } catch (e) {
    /* private mode: the form forgets, as before */
  }
}

function recall() {
  let kept = {};
  try {
    kept = JSON.parse(localStorage.getItem("ferryman.form") || "{}");
  } catch (e) {
    kept = {};
  }
  for (const id of REMEMBERED) {
    const node = document.getElementById(id);
    if (!node || typeof kept[id] !== "string") continue;
    if (node.tagName === "SELECT" && !Array.from(node.options).some((o) => o.value === kept[id])) continue;
    node.value = kept[id];
  }
  const dest = kept.dest && document.querySelector(`input[name="dest"][value="${CSS.escape(kept.dest)}"]`);
  if (dest) dest.checked = true;
  showOptions();
  showPlaylist();
}

function output() {
  const kind = document.getElementById("output").value;
  const spec = { kind };
  const playlist = document.getElementById("playlist");
  if (playlist && playlist.checked && !document.querySelector(".for-playlist").hidden) spec.playlist = true;
  if (kind === "video" || kind === "mute") spec.quality = document.getElementById("quality").value;
  if (kind === "audio") {
    spec.format = document.getElementById("format").value;
    if (spec.format !== "m4a") spec.bitrate = Number(document.getElementById("bitrate").value);
  }
  const preset = document.getElementById("preset"); // presets.js: its subtitles and .nfo
  const picked = preset && preset.value ? preset.selectedOptions[0].dataset : {};
  if (picked.subs) spec.subs = picked.subs.split(",");
  if (picked.nfo) spec.nfo = true;
  return spec;
}

function deliver() {
  const chosen = document.querySelector('input[name="dest"]:checked');
  const to = chosen ? chosen.value : "link";
  if (to === "link-telegram") return { to: "link", chat: "telegram" }; // kept in Telegram
  if (to === "rclone") {
    // rclone:REMOTE:path, a remote of the person's own rclone.conf (rclone.js fills it).
    const remote = document.getElementById("rclone-remote").value;
    if (!remote) throw new Error("Choose a remote first: give your rclone.conf under “rclone remotes”.");
    const path = document.getElementById("rclone-path").value.trim().replace(/^\/+/, "");
    return { to, chat: `${remote}:${path}` };
  }
  if (to !== "telegram") return { to };
  const chat = document.getElementById("chat");
  const topics = document.getElementById("topics");
  // Empty: the chat the form started at (the server's: me, or a person's own account).
  const where = (chat && (chat.value.trim() || chat.defaultValue)) || "me";
  // A forum group's topic per folder (telegram:-100…/topics): the server says what is wrong.
  return { to, chat: topics && topics.checked && !where.includes("/") ? `${where}/topics` : where };
}

// One piece by XMLHttpRequest: its upload progress events say the bytes sent as they go
// (fetch() says nothing until the piece is whole: a 5 MB file showed nothing for 12 s).
function sendPiece(id, file, offset, end, sent) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `${API}/uploads/${id}`);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(CSRF)) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Range", `bytes ${offset}-${end - 1}/${file.size}`);
    xhr.upload.onprogress = (event) => sent(offset + event.loaded);
    xhr.onload = () =>
      resolve({
        ok: xhr.status >= 200 && xhr.status < 300,
        status: xhr.status,
        body: xhr.responseText,
        retryAfter: seconds(xhr.getResponseHeader("Retry-After")),
      });
    xhr.onerror = () => reject(new TypeError("upload interrupted"));
    xhr.send(file.slice(offset, end));
  });
}

function uploadText(file, bytes, began) {
  const share = Math.round((bytes / Math.max(file.size, 1)) * 100);
  const bits = [`Uploading ${file.name}: ${share}% of ${size(file.size)}`];
  const seconds = (performance.now() - began.at) / 1000;
  const rate = seconds > 0.3 ? (bytes - began.bytes) / seconds : 0;
  if (rate > 0) {
    bits.push(rate >= 1e6 ? (rate / 1e6).toFixed(1) + " MB/s" : Math.round(rate / 1e3) + " kB/s");
    bits.push(Math.ceil((file.size - bytes) / rate) + " s left");
  }
  return bits.join(" · ");
}

// The seconds a server asked for, counted down where the user sees them.
async function waiting(secs, say) {
  for (let left = secs; left > 0; left -= 1) {
    say(`waiting ${left} s (the server asked for a pause)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ``call`` again after each 429 or 503, once the Retry-After it gave has passed.
async function patiently(call, say, where) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await call();
    } catch (e) {
      if (![429, 503].includes(e.status) || tries >= 20) throw e;
      await waiting(e.retryAfter ?? 5, (t) => say(where() + " · " + t));
    }
  }
}

// Where an unfinished upload of this very file stands, kept per browser: Start again
// with the same file goes on from its last piece instead of from 0.
function uploadKey(file) {
  return `ferryman.upload:${file.name}:${file.size}:${file.lastModified}`;
}

function kept(key, id) {
  try {
    if (id === undefined) return localStorage.getItem(key);
    if (id === null) localStorage.removeItem(key);
    else localStorage.setItem(key, id);
  } catch (e) {
    /* private mode: an upload begins again, as before */
  }
  return null;
}

async function upload(file, say) {
  const key = uploadKey(file);
  let state = null;
  const before = kept(key);
  if (before) {
    try {
      state = await api("GET", `/uploads/${encodeURIComponent(before)}`);
      if (state.size !== file.size) state = null;
    } catch (e) {
      state = null; // swept, or finished and taken: a new one
    }
  }
  const began = { at: performance.now(), bytes: state ? state.offset : 0 };
  const where = () => uploadText(file, state ? state.offset : 0, began);
  if (!state) state = await patiently(() => api("POST", "/uploads", { name: file.name, size: file.size }), say, where);
  kept(key, state.id);
  let failures = 0;
  say(where());
  while (!state.done) {
    const end = Math.min(state.offset + PIECE, file.size);
    try {
      const answer = await sendPiece(state.id, file, state.offset, end, (bytes) => say(uploadText(file, bytes, began)));
      if ([429, 503].includes(answer.status)) {
        // Not a failure: wait what the server said, then on from where it stands.
        await waiting(answer.retryAfter ?? 5, (t) => say(where() + " · " + t));
        began.at = performance.now();
        began.bytes = state.offset;
      } else if (!answer.ok && answer.status !== 409) throw new Error("upload answered " + answer.status);
      state = answer.ok ? JSON.parse(answer.body) : await patiently(() => api("GET", `/uploads/${state.id}`), say, where);
      failures = 0;
    } catch (e) {
      failures += 1; // the connection dropped: ask where the server is, and go on
      if (failures > 20) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1000 * failures, 10000)));
      state = await patiently(() => api("GET", `/uploads/${state.id}`), say, where);
    }
    say(where());
  }
  kept(key, null);
  return state.id;
}

async function start(event) {
  event.preventDefault();
  const form = event.target;
  const submit = form.querySelector("button[type=submit]");
  const error = document.getElementById("form-error");
  const status = document.getElementById("upload-state");
  error.textContent = "";
  const typed = document.getElementById("link").value;
  const links = findLinks(typed);
  const files = Array.from(document.getElementById("files").files);
  if (!links.length && typed.trim()) {
    // One message for all the words, and the box keeps them (it made one error per word).
    error.textContent = `No link in “${typed.trim().slice(0, 80)}”: paste a link that starts with https:// (words around it are fine).`;
    return;
  }
  if (!links.length && !files.length) {
    error.textContent = "Paste a link or choose files first.";
    return;
  }
  remember();
  try {
    deliver(); // a destination that cannot be sent (no rclone remote chosen): said before any upload
  } catch (e) {
    error.textContent = e.message;
    return;
  }
  if (files.length && !["as_is", "audio"].includes(output().kind)) {
    // Refused by the server after the whole upload otherwise (link.output_for_file).
    error.textContent =
      "An uploaded file is delivered as it is, converted only where it would not play: choose “As they are” or “Audio only” for files. Quality and mute apply to links.";
    return;
  }
  submit.disabled = true;
  // Each link on its own: one refused (a duplicate) no longer stops the others, and the
  // box keeps only the links that were not added, each error said beside its link.
  const refused = [];
  try {
    for (const source of links) {
      const request = { source, output: output(), deliver: deliver() };
      try {
        const made = await api("POST", "/jobs", request);
        renderMade(await api("GET", `/jobs/${made.id}`));
      } catch (e) {
        if (!e.info) throw e; // the server is out of reach: said once, below
        refused.push({ request, error: e });
      }
    }
    for (const file of files) {
      const id = await upload(file, (t) => (status.textContent = t));
      const made = await api("POST", "/jobs", { upload_id: id, output: output(), deliver: deliver() });
      renderMade(await api("GET", `/jobs/${made.id}`));
    }
    status.textContent = "";
    if (refused.length) {
      document.getElementById("link").value = refused.map((r) => r.request.source).join("\n");
      showRefused(refused);
    } else {
      form.reset();
      recall(); // the output and destination chosen last, not the defaults again
    }
  } catch (e) {
    showError(e);
  } finally {
    submit.disabled = false;
  }
}

function showRefused(refused) {
  const box = document.getElementById("form-error");
  box.replaceChildren();
  for (const { request, error } of refused) {
    const words = plainWords(error.info.message);
    const said = words.includes(request.source) ? words : `${request.source}: ${words}`;
    const line = text("div", said + " ");
    if (error.info.code === "source.duplicate") {
      // "is already job 12": the page shows no numbers, so "Open it" scrolls to that job.
      const found = /\bjob (\d+)/.exec(error.info.message);
      const card = found && document.querySelector(`#jobs li[data-job="${found[1]}"]`);
      if (card) {
        const open = text("button", "Open it");
        open.type = "button";
        open.className = "quiet";
        open.addEventListener("click", () => {
          const all = document.querySelector('input[name="show"][value="all"]');
          if (all && card.hidden) {
            all.checked = true;
            all.dispatchEvent(new Event("change"));
          }
          card.scrollIntoView({ behavior: "smooth", block: "center" });
          card.classList.add("flash");
          setTimeout(() => card.classList.remove("flash"), 1600);
        });
        line.append(open, " ");
      }
      line.append(
        button("Add again", async () => {
          const made = await api("POST", "/jobs", { ...request, force: true });
          line.remove();
          const links = document.getElementById("link");
          links.value = links.value.split("\n").filter((l) => l !== request.source).join("\n");
          return await api("GET", `/jobs/${made.id}`);
        }),
      );
    } else {
      line.append(text("span", error.info.next, "next"));
    }
    box.append(line);
  }
}

function showOptions() {
  const chosen = document.querySelector('input[name="dest"]:checked');
  for (const node of document.querySelectorAll(".for-telegram")) node.hidden = !chosen || chosen.value !== "telegram";
  for (const node of document.querySelectorAll(".for-rclone")) node.hidden = !chosen || chosen.value !== "rclone";
  const kind = document.getElementById("output").value;
  for (const node of document.querySelectorAll(".for-video")) node.hidden = !(kind === "video" || kind === "mute");
  for (const node of document.querySelectorAll(".for-audio")) node.hidden = kind !== "audio";
}

function receive(message) {
  if (message.seq !== undefined) last = Math.max(last, message.seq);
  if (message.epoch) epoch = message.epoch;
  if (message.type === "snapshot") {
    last = message.seq;
    for (const view of message.jobs) render(view, true);
    snapshotRead(message.jobs);
    emptyState();
  } else if (message.type === "job") {
    render(message.job);
  } else if (message.type === "removed") {
    forget(message.job.id);
  }
}

function reconnecting(on) {
  const banner = document.getElementById("conn");
  if (banner) banner.hidden = !on;
  if (live === !on) return;
  live = !on; // while it reconnects a speed would be stale: the rows drop them, and back
  for (const [id, view] of jobs) {
    const detail = document.querySelector(`#jobs li[data-job="${id}"] .detail`);
    if (detail) detail.textContent = detailText(view);
  }
}

// WebSocket first; after repeated failures Server-Sent Events; then polling.
let failures = { ws: 0, sse: 0 };

function connect() {
  if (failures.ws < 3 && "WebSocket" in window) return viaWebSocket();
  if (failures.sse < 3 && "EventSource" in window) return viaEvents();
  return viaPolling();
}

function viaWebSocket() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${API}/events`);
  let opened = false;
  socket.onopen = () => {
    opened = true;
    failures.ws = 0;
    reconnecting(false);
    socket.send(JSON.stringify({ jobs: "all", after: last, epoch }));
  };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data); // one message, or several in an array
    for (const message of Array.isArray(data) ? data : [data]) receive(message);
  };
  socket.onclose = () => {
    if (!opened) failures.ws += 1;
    reconnecting(true);
    setTimeout(connect, 1000);
  };
}

function viaEvents() {
  const query = new URLSearchParams({ after: String(last) });
  if (epoch) query.set("epoch", epoch);
  const source = new EventSource(`${API}/events?${query}`);
  let opened = false;
  source.onopen = () => {
    opened = true;
    failures.sse = 0;
    reconnecting(false);
  };
  source.onmessage = (event) => receive(JSON.parse(event.data));
  source.onerror = () => {
    reconnecting(true);
    if (!opened) {
      failures.sse += 1;
      source.close();
      setTimeout(connect, 1000);
    }
  };
}

async function viaPolling() {
  for (;;) {
    try {
      const query = new URLSearchParams({ after: String(last) });
      if (epoch) query.set("epoch", epoch);
      const data = await api("GET", `/events/poll?${query}`);
      reconnecting(false);
      for (const message of data.messages) receive(message);
      last = data.seq;
      epoch = data.epoch;
    } catch (e) {
      reconnecting(true);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// Links renew themselves before they expire (and after a 410, on the next look): the
// view's and those of the pages the gallery fetched ("Show more"), all in the view then.
setInterval(async () => {
  const soon = Date.now() / 1000 + 300;
  const pages = window.ferrymanGalleryFetched || (() => []);
  for (const [id, view] of jobs) {
    const files = ((view.result && view.result.files) || []).concat(pages(id));
    if (files.some((f) => f.expires_at < soon)) {
      try {
        view.result = await api("POST", `/jobs/${id}/links?limit=${Math.min(files.length, 1000)}`);
        render(view);
      } catch (e) {
        /* the next round tries again */
      }
    }
  }
}, 30000);

async function renewIfExpired(event) {
  const link = event.target.closest("a[data-expires]");
  if (!link || Number(link.dataset.expires) > Date.now() / 1000 + 5) return;
  event.preventDefault();
  const id = Number(link.closest("li").dataset.job);
  const view = jobs.get(id);
  view.result = await api("POST", `/jobs/${id}/links?limit=${Math.max(1, view.result.files.length)}`);
  render(view);
  const name = link.textContent;
  const fresh = Array.from(document.querySelectorAll(`li[data-job="${id}"] a`)).find((a) => a.textContent === name);
  if (fresh) location.href = fresh.href;
}

// The page's forms come with Start and Log in disabled: pressed before this script had
// taken the form, the browser sent it itself, as a GET with the link (or the token!) in
// the address, and the page reloaded saying nothing.
function ready(form) {
  const submit = form.querySelector("button[type=submit]");
  if (submit) submit.disabled = false;
}

async function login(event) {
  event.preventDefault();
  try {
    await api("POST", "/session", { token: document.getElementById("token").value });
    location.reload();
  } catch (e) {
    showError(e);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const loginForm = document.getElementById("login");
  if (loginForm) {
    loginForm.addEventListener("submit", login);
    ready(loginForm);
    return;
  }
  const startForm = document.getElementById("start");
  startForm.addEventListener("submit", start);
  ready(startForm);
  document.getElementById("output").addEventListener("change", showOptions);
  for (const radio of document.querySelectorAll('input[name="dest"]')) radio.addEventListener("change", showOptions);
  document.getElementById("jobs").addEventListener("click", renewIfExpired);
  for (const radio of document.querySelectorAll('input[name="show"]')) radio.addEventListener("change", showView);
  document.getElementById("older").addEventListener("click", showOlder);
  document.getElementById("clear").addEventListener("click", clearFinished);
  document.getElementById("picked-retry").addEventListener("click", () => onPicked("retry"));
  document.getElementById("picked-remove").addEventListener("click", () => onPicked("remove"));
  document.getElementById("link").addEventListener("input", showPlaylist);
  // A file dropped anywhere on the form is taken (dropped on the Link box it was lost).
  startForm.addEventListener("dragover", (event) => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    startForm.classList.add("dropping");
  });
  startForm.addEventListener("dragleave", () => startForm.classList.remove("dropping"));
  startForm.addEventListener("drop", (event) => {
    startForm.classList.remove("dropping");
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    document.getElementById("files").files = event.dataTransfer.files;
    document.getElementById("upload-state").textContent =
      Array.from(event.dataTransfer.files).map((f) => f.name).join(", ") + " ready: press Start.";
  });
  recall();
  emptyState();
  // "Share → ferryman" on a phone: /share sent us here with what was shared in ?add=.
  const shared = new URLSearchParams(location.search).get("add");
  if (shared !== null) {
    const box = document.getElementById("link");
    const found = findLinks(shared);
    box.value = found.length ? found.join("\n") : shared;
    showPlaylist();
    history.replaceState(null, "", "/"); // a reload does not add it twice
    document.getElementById("upload-state").textContent = found.length
      ? "Shared link ready: choose the output and press Start."
      : "";
  }
  try {
    const listed = await api("GET", `/jobs?limit=${PAGE_JOBS}`);
    for (const view of listed.jobs) render(view, true);
    const oldest = listed.next_before ?? 0;
    for (const view of Object.keys(FILTERS)) older[view] = oldest;
  } catch (e) {
    showError(e);
  }
  showView();
  connect();
});
