// The Telegram accounts panel: each account of the engine's pool with its albums, upload
// speed, waits Telegram imposed and give-ways since the engine started (GET /telegram/accounts, an
// administrator's; what `ferryman -v status` and /metrics show). Refreshed while open.
// Uses app.js's api(); its own names stay inside this function.
(() => {
"use strict";

const EVERY_MS = 10000;

function span(textContent, className) {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = textContent;
  return s;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function speed(bytesPerSecond) {
  if (!bytesPerSecond) return null;
  const mb = bytesPerSecond / 1e6;
  return `${mb >= 10 ? mb.toFixed(0) : mb.toFixed(1)} MB/s`;
}

function left(seconds) {
  const s = Math.ceil(seconds);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 90 ? `${m} min` : `${Math.round(m / 60)} h`;
}

function row(a) {
  const li = document.createElement("li");
  li.dataset.account = a.name;
  const who = span(a.name, "who");
  const tags = [a.own ? "own account" : a.bot ? "bot" : "user", a.premium ? "Premium" : null];
  who.append(span(tags.filter(Boolean).join(" · "), "tag"));
  li.append(who, span(plural(a.albums, "album", "albums"), a.albums ? "fig" : "fig none"));
  const rate = speed(a.bytes_per_second);
  li.append(span(rate ? `${rate} uploading` : "no upload yet", rate ? "fig" : "fig none"));
  li.append(span(`waited ${a.waits}×`, a.waits ? "fig" : "fig none"));
  li.append(span(`gave way ${a.refused}×`, a.refused ? "fig" : "fig none"));
  const waiting = a.waiting_seconds > 0;
  li.append(span(waiting ? `wait: ${left(a.waiting_seconds)}` : "ready", waiting ? "fig waiting" : "fig none"));
  if (waiting) li.dataset.waiting = "";
  return li;
}

async function refresh(panel) {
  let data;
  try {
    data = await api("GET", "/telegram/accounts");
  } catch (e) {
    panel.hidden = true; // not an administrator, or the server is away: nothing to show
    return false;
  }
  const accounts = data.accounts || [];
  panel.hidden = accounts.length === 0;
  const albums = accounts.reduce((sum, a) => sum + a.albums, 0);
  panel.querySelector("summary .kept").textContent = accounts.length
    ? ` · ${plural(accounts.length, "account", "accounts")}, ${plural(albums, "album", "albums")}`
    : "";
  document.getElementById("pool-accounts").replaceChildren(...accounts.map(row));
  const note = document.getElementById("pool-note");
  note.textContent = data.note || "";
  note.hidden = !data.note;
  return true;
}

document.addEventListener("DOMContentLoaded", async () => {
  const panel = document.getElementById("pool-panel");
  if (!panel || !(await refresh(panel))) return;
  setInterval(() => {
    if (panel.open && !document.hidden) refresh(panel);
  }, EVERY_MS);
});
})();
