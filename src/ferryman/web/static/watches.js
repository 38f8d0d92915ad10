// The page's Watches panel: add a watch, see each one's state, its last and next look
// and what went wrong, check it now, pause, resume, remove. It talks to
// /api/v1/watches with app.js's api() and text() (loaded before it) and looks again
// every few seconds (watches have no live events; a look is cheap).
"use strict";

const watchViews = new Map(); // id -> the API's view of the watch
const watchNotes = new Map(); // id -> what "Check now" said last, kept across re-renders
const EVERY_CHOICES = [
  ["10m", "10 minutes"],
  ["30m", "30 minutes"],
  ["1h", "hour"],
  ["3h", "3 hours"],
  ["6h", "6 hours"],
  ["12h", "12 hours"],
  ["1d", "day"],
];
const STATE_WORDS = { waiting: "waiting", checking: "looking now…", failing: "failing", paused: "paused" };

function clockText(seconds) {
  const when = new Date(seconds * 1000);
  const sameDay = when.toDateString() === new Date().toDateString();
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay ? time : when.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
}

function spanText(seconds) {
  const s = Math.abs(seconds);
  if (s < 60) return "less than a minute";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(s < 36000 ? 1 : 0).replace(/\.0$/, "") + " h";
  return (s / 86400).toFixed(1).replace(/\.0$/, "") + " days";
}

function everyText(seconds) {
  for (const [unit, size] of [["day", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return unit === "day" ? (n === 1 ? "every day" : `every ${n} days`) : `every ${n} ${unit}`;
    }
  }
  return `every ${seconds} s`;
}

function lookText(view) {
  const now = Date.now() / 1000;
  const bits = [];
  if (view.last_check_at) bits.push(`Last look ${clockText(view.last_check_at)} (${spanText(now - view.last_check_at)} ago)`);
  else bits.push("Not looked at yet");
  if (view.paused) bits.push("paused: no look until resumed");
  else if (view.state === "checking") bits.push("looking now");
  else if (view.next_check_at <= now) bits.push("next look due now");
  else bits.push(`next ${clockText(view.next_check_at)} (in ${spanText(view.next_check_at - now)})`);
  return bits.join(" · ");
}

function renderWatch(view) {
  watchViews.set(view.id, view);
  const list = document.getElementById("watches");
  let item = list.querySelector(`li[data-watch="${view.id}"]`);
  if (!item) {
    item = document.createElement("li");
    item.className = "watch";
    item.dataset.watch = view.id;
    const after = Array.from(list.children).find((li) => Number(li.dataset.watch) < view.id);
    list.insertBefore(item, after || null); // newest first, as the jobs
  }
  item.dataset.state = view.state;
  const title = text("div", "", "title");
  title.append(text("strong", view.source), " ", text("span", STATE_WORDS[view.state] || view.state, "status"));
  const made = `${view.jobs_made} job${view.jobs_made === 1 ? "" : "s"} made`;
  const about = [`to ${view.dest_text || view.dest}`, everyText(view.every_seconds), made];
  if (view.output_text) about.splice(1, 0, `as ${view.output_text}`);
  if (view.window) about.splice(2, 0, `only ${view.window}`);
  item.replaceChildren(title, text("div", about.join(" · "), "detail"), text("div", lookText(view), "detail when"));
  if (view.error) {
    const said = text("p", view.error.message + " ", "error");
    if (view.state === "failing") said.append(text("span", view.error.next || "", "next"));
    // The code folded under Details, as on a job's card: words first.
    const details = document.createElement("details");
    details.className = "code-details";
    details.append(text("summary", "Details"), text("code", view.error.code, "code"));
    said.append(details);
    item.append(said);
  } else if (view.note) {
    item.append(text("div", view.note, "detail"));
  }
  const note = watchNotes.get(view.id);
  if (note) {
    const said = text("p", note.text, note.bad ? "error found" : "found");
    said.setAttribute("role", "status");
    item.append(said);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  const named = view.source; // each button says which watch, for a screen reader
  actions.append(watchButton("Check now", () => checkNow(view), named));
  if (view.paused) actions.append(watchButton("Resume", () => api("POST", `/watches/${view.id}/resume`), named));
  else actions.append(watchButton("Pause", () => api("POST", `/watches/${view.id}/pause`), named));
  actions.append(watchButton("Remove", () => removeWatch(view), named));
  item.append(actions);
  watchesEmpty();
}

function watchButton(label, action, named) {
  const b = text("button", label);
  b.type = "button";
  if (named) b.setAttribute("aria-label", `${label} ${named}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const view = await action();
      if (view && view.id) renderWatch(view);
    } catch (e) {
      const item = b.closest("li");
      const id = item && Number(item.dataset.watch);
      if (id) watchNotes.set(id, { text: failureText(e), bad: true });
      if (id && watchViews.has(id)) renderWatch(watchViews.get(id));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function failureText(e) {
  if (e instanceof TypeError) return "ferryman is not answering right now; try again once it is back.";
  return e.info ? `${e.info.message} — ${e.info.next}` : String(e.message || e);
}

async function checkNow(view) {
  watchNotes.set(view.id, { text: "Looking now…", bad: false });
  renderWatch({ ...view, state: "checking" });
  const found = await api("POST", `/watches/${view.id}/check`);
  let said;
  if (found.busy) said = { text: "It is being looked at right now; its jobs show in the list when that look ends.", bad: false };
  else if (found.error) said = { text: "Looked just now: it failed, as the error above says.", bad: false };
  else if (found.made.length) {
    const titles = found.made.map((m) => m.title || `job ${m.job}`);
    const shown = titles.slice(0, 5).join(", ") + (titles.length > 5 ? ` and ${titles.length - 5} more` : "");
    said = { text: `Found ${found.made.length} new: ${shown}.`, bad: false };
  } else if (found.held && found.held.length) {
    const names = found.held.slice(0, 5).map((h) => h.title).join(", ");
    said = { text: `Nothing new yet: ${found.held.length} still being written (${names}); looked at again once it has settled.`, bad: false };
  } else said = { text: `Nothing new (${found.listed} listed).`, bad: false };
  watchNotes.set(view.id, said);
  await refreshWatches(); // its new state, times and count of jobs made
  return null;
}

async function removeWatch(view) {
  if (!confirm(`Stop watching ${view.source}? The jobs it made stay.`)) return null;
  await api("DELETE", `/watches/${view.id}`);
  forgetWatch(view.id);
  return null;
}

function forgetWatch(id) {
  watchViews.delete(id);
  watchNotes.delete(id);
  const item = document.querySelector(`#watches li[data-watch="${id}"]`);
  if (item) item.remove();
  watchesEmpty();
}

function watchesEmpty() {
  const note = document.getElementById("watches-empty");
  if (note) note.hidden = watchViews.size > 0;
}

async function refreshWatches() {
  try {
    const listed = await api("GET", "/watches");
    const ids = new Set(listed.watches.map((w) => w.id));
    for (const id of Array.from(watchViews.keys())) if (!ids.has(id)) forgetWatch(id);
    for (const view of listed.watches) renderWatch(view);
  } catch (e) {
    /* the next look tries again; the job list says when the server is away */
  }
}

// The form is made when asked for: the job form's output and destination choices,
// copied, so both offer the same (Telegram only where the job form has it).
function labelled(labelText, control) {
  const label = text("label", labelText);
  label.htmlFor = control.id;
  return label;
}

function copySelect(id, fromId) {
  const copy = document.getElementById(fromId).cloneNode(true);
  copy.id = id;
  copy.name = id;
  return copy;
}

function radio(name, value, words, checked) {
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "radio";
  input.name = name;
  input.value = value;
  input.checked = checked;
  label.append(input, " " + words);
  return label;
}

function fieldset(legend, ...children) {
  const set = document.createElement("fieldset");
  set.append(text("legend", legend), ...children);
  return set;
}

function span(cls, ...children) {
  const node = document.createElement("span");
  node.className = cls;
  node.append(...children);
  return node;
}

function buildWatchForm() {
  const form = document.createElement("form");
  form.id = "watch-form";
  form.noValidate = true;
  const source = document.createElement("input");
  source.type = "text";
  source.id = "w-source";
  source.autocomplete = "off";
  source.placeholder = "https://…/feed.xml or davs://…/folder/";
  const field = document.createElement("div");
  field.className = "field";
  field.append(labelled("Feed, folder or channel", source), source);
  const every = document.createElement("select");
  every.id = "w-every";
  for (const [value, words] of EVERY_CHOICES) {
    const option = text("option", words);
    option.value = value;
    option.selected = value === "1h";
    every.append(option);
  }
  const timing = fieldset(
    "When",
    span("", labelled("Look every", every), every),
    radio("w-since", "now", "Only what is new from now on", true),
    radio("w-since", "all", "What is there now, too", false),
  );
  const make = copySelect("w-output", "output");
  make.value = "as_is";
  const quality = copySelect("w-quality", "quality");
  const format = copySelect("w-format", "format");
  const bitrate = copySelect("w-bitrate", "bitrate");
  const output = fieldset(
    "Output",
    labelled("Make", make),
    make,
    span("w-for-video", labelled("Quality", quality), quality),
    span("w-for-audio", span("pair", labelled("Format", format), format), span("pair", labelled("Bitrate", bitrate), bitrate)),
  );
  const dest = fieldset("Destination");
  for (const [i, choice] of Array.from(document.querySelectorAll('#start input[name="dest"]')).entries()) {
    dest.append(radio("w-dest", choice.value, choice.parentElement.textContent.trim(), i === 0));
  }
  if (dest.querySelector('input[value="telegram"]')) {
    const chat = document.createElement("input");
    chat.type = "text";
    chat.id = "w-chat";
    const own = document.getElementById("chat"); // the page's: me, or a person's own account
    chat.value = chat.defaultValue = own ? own.defaultValue : "me";
    chat.size = 16;
    chat.placeholder = own ? own.placeholder : "me, @channel or -100…";
    const topics = document.createElement("input");
    topics.type = "checkbox";
    topics.id = "w-topics";
    const perFolder = labelled(" A topic per folder (a forum group)", topics);
    perFolder.prepend(topics);
    dest.append(span("w-for-telegram", labelled("Chat", chat), chat, perFolder));
  }
  const submit = text("button", "Watch it");
  submit.type = "submit";
  const cancel = text("button", "Cancel");
  cancel.type = "button";
  cancel.className = "quiet";
  cancel.addEventListener("click", () => closeWatchForm());
  const buttons = span("buttons", submit, " ", cancel);
  const error = text("div", "", "error");
  error.id = "watch-error";
  error.setAttribute("role", "alert");
  form.append(field, timing, output, dest, buttons, error);
  const shown = () => {
    const kind = make.value;
    for (const node of form.querySelectorAll(".w-for-video")) node.hidden = !(kind === "video" || kind === "mute");
    for (const node of form.querySelectorAll(".w-for-audio")) node.hidden = kind !== "audio";
    const to = form.querySelector('input[name="w-dest"]:checked');
    for (const node of form.querySelectorAll(".w-for-telegram")) node.hidden = !to || to.value !== "telegram";
  };
  make.addEventListener("change", shown);
  for (const r of dest.querySelectorAll("input")) r.addEventListener("change", shown);
  shown();
  form.addEventListener("submit", addWatch);
  return form;
}

function watchRequest(form) {
  const request = {
    source: form.querySelector("#w-source").value.trim(),
    every: form.querySelector("#w-every").value,
    since: form.querySelector('input[name="w-since"]:checked').value,
  };
  const to = form.querySelector('input[name="w-dest"]:checked').value;
  const chat = form.querySelector("#w-chat");
  const topics = form.querySelector("#w-topics");
  let where = (chat && (chat.value.trim() || chat.defaultValue)) || "me";
  if (topics && topics.checked && !where.includes("/")) where += "/topics"; // a forum group's topic per folder
  request.to = to === "telegram" ? `telegram:${where}` : `${to}:`;
  const kind = form.querySelector("#w-output").value;
  if (kind === "video" || kind === "mute") request.quality = form.querySelector("#w-quality").value;
  if (kind === "mute") request.mute = true;
  if (kind === "audio") {
    request.audio = form.querySelector("#w-format").value;
    if (request.audio !== "m4a") request.bitrate = Number(form.querySelector("#w-bitrate").value);
  }
  return request;
}

async function addWatch(event) {
  event.preventDefault();
  const form = event.target;
  const error = form.querySelector("#watch-error");
  const submit = form.querySelector("button[type=submit]");
  error.textContent = "";
  const request = watchRequest(form);
  if (!request.source) {
    error.textContent = "Paste the link of a feed, a WebDAV folder or a channel first.";
    return;
  }
  submit.disabled = true;
  error.textContent = "";
  try {
    renderWatch(await api("POST", "/watches", request));
    closeWatchForm();
  } catch (e) {
    error.textContent = failureText(e);
  } finally {
    submit.disabled = false;
  }
}

function openWatchForm() {
  const slot = document.getElementById("watch-form-slot");
  if (!slot.firstChild) slot.append(buildWatchForm());
  document.getElementById("watch-open").setAttribute("aria-expanded", "true");
  document.getElementById("watch-open").hidden = true;
  document.getElementById("w-source").focus();
}

function closeWatchForm() {
  document.getElementById("watch-form-slot").replaceChildren();
  const open = document.getElementById("watch-open");
  open.setAttribute("aria-expanded", "false");
  open.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("watches-panel");
  if (!panel) return;
  document.getElementById("watch-open").addEventListener("click", openWatchForm);
  refreshWatches();
  // Another look every 5 s while the page is shown (a watch's state and times move),
  // every second or so while a look is due or under way (its outcome soon shows).
  let looked = Date.now();
  setInterval(async () => {
    if (document.visibilityState !== "visible") return;
    const now = Date.now();
    const busy = Array.from(watchViews.values()).some(
      (w) => !w.paused && (w.state === "checking" || w.next_check_at * 1000 <= now),
    );
    if (now - looked < (busy ? 1000 : 5000)) return;
    looked = now;
    await refreshWatches();
  }, 500);
});
