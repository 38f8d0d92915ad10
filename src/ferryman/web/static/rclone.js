// The page's "rclone remotes": give your own rclone.conf (a file, or its text pasted;
// checked and kept on the server for your rclone: jobs and watches alone), see its
// remotes (name, type, plain fields; never a password or a token), check whether each
// answers, remove it. Talks to /api/v1/rclone through app.js's api() (loaded before it).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function remoteLine(remote, reached) {
    const li = document.createElement("li");
    li.dataset.remote = remote.name;
    li.append(text("strong", `${remote.name}:`), text("span", remote.type, "type"));
    const fields = Object.entries(remote.shown || {}).filter(([k]) => k !== "type");
    if (fields.length) li.append(text("span", fields.map(([k, v]) => `${k} ${v}`).join(" · "), "fields"));
    if (remote.secret && remote.secret.length) li.append(text("span", `${remote.secret.join(", ")} kept, not shown`, "fields"));
    if (reached) li.append(reached.ok ? text("span", "answers", "ok") : text("span", `does not answer: ${reached.why}`, "bad"));
    return li;
  }

  function show(view, reach) {
    const list = $("rclone-remotes");
    const found = new Map((reach || []).map((r) => [r.remote.replace(/:$/, ""), r]));
    list.replaceChildren(...(view.remotes || []).map((r) => remoteLine(r, found.get(r.name))));
    const n = view.remotes.length === 1 ? "1 remote" : `${view.remotes.length} remotes`;
    $("rclone-state").textContent = view.kept
      ? `Kept: ${n}. Use them as rclone:REMOTE:path, as an input, a destination or a watch.`
      : "None kept: rclone:REMOTE:path jobs of yours cannot run yet.";
    $("rclone-remove").hidden = !view.kept;
    $("rclone-reach").hidden = !view.kept;
    document.querySelector("#rclone-panel summary .kept").textContent = view.kept ? ` · ${n}` : "";
    lastView = view;
    pick(view);
  }

  // The form's "To an rclone remote": its picker holds the person's own remotes, the one
  // chosen last (the form's remembered choice) chosen again.
  function pick(view) {
    const select = $("rclone-remote");
    if (!select) return;
    let kept = "";
    try {
      kept = JSON.parse(localStorage.getItem("ferryman.form") || "{}")["rclone-remote"] || "";
    } catch (e) {
      kept = "";
    }
    const was = select.value || kept;
    const names = (view.remotes || []).map((r) => r.name);
    select.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(was)) select.value = was;
    $("rclone-none").hidden = names.length > 0;
    $("rclone-pick").hidden = names.length === 0;
  }

  async function fillPicker() {
    const chosen = document.querySelector('input[name="dest"]:checked');
    if (!chosen || chosen.value !== "rclone") return;
    try {
      pick(await api("GET", "/rclone"));
    } catch (e) {
      pick({ remotes: [] });
    }
  }
  let lastView = { kept: false, remotes: [] };

  function said(e) {
    const box = $("rclone-error");
    if (e instanceof TypeError) {
      box.textContent = "ferryman is not answering right now; try again once it is back.";
      return;
    }
    if (!e.info) {
      box.textContent = String(e.message || e);
      return;
    }
    box.replaceChildren(text("span", `Not kept: ${e.info.message}.`), text("span", e.info.next, "next"));
  }

  async function put(body) {
    $("rclone-error").textContent = "";
    const response = await fetch(`${API}/rclone`, {
      method: "PUT",
      headers: { ...CSRF, "Content-Type": "text/plain" },
      credentials: "same-origin",
      body,
    });
    const data = await response.json();
    if (!response.ok) {
      const error = new Error(data.error ? data.error.message : response.statusText);
      error.info = data.error;
      throw error;
    }
    return data;
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const radio of document.querySelectorAll('input[name="dest"]')) radio.addEventListener("change", fillPicker);
    fillPicker(); // chosen last time (app.js's recall)
    const panel = $("rclone-panel");
    if (!panel) return;
    const input = $("rclone-file");
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      try {
        show(await put(file));
      } catch (e) {
        said(e);
      } finally {
        input.value = ""; // the same file again is a new change
      }
    });
    $("rclone-keep").addEventListener("click", async () => {
      const area = $("rclone-text");
      if (!area.value.trim()) return;
      try {
        show(await put(area.value));
        area.value = ""; // its secrets do not stay on the page
      } catch (e) {
        said(e);
      }
    });
    $("rclone-remove").addEventListener("click", async () => {
      $("rclone-error").textContent = "";
      try {
        await api("DELETE", "/rclone");
        show(await api("GET", "/rclone"));
      } catch (e) {
        said(e);
      }
    });
    $("rclone-reach").addEventListener("click", async () => {
      $("rclone-error").textContent = "";
      $("rclone-state").textContent = "Asking each remote…";
      try {
        show(lastView, (await api("GET", "/rclone/reach")).remotes);
      } catch (e) {
        show(lastView);
        said(e);
      }
    });
    // Asked when the panel is opened, not at every page load.
    panel.addEventListener("toggle", async () => {
      if (!panel.open) return;
      try {
        show(await api("GET", "/rclone"));
      } catch (e) {
        said(e);
      }
    });
  });
})();
