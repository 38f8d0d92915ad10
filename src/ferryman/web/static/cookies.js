// The page's "Cookies for sites behind a login": give a cookies.txt (checked and kept on
// the server for the next link jobs, as MeTube takes one), see whether one is kept (how
// many cookies, for which sites; the file itself is never shown back), remove it.
// Talks to /api/v1/cookies through app.js's api() (loaded before it).
"use strict";

(() => {
  function sitesText(sites) {
    const shown = sites.slice(0, 4).join(", ");
    return sites.length > 4 ? `${shown} and ${sites.length - 4} more` : shown;
  }

  function show(view) {
    const state = document.getElementById("cookies-state");
    const remove = document.getElementById("cookies-remove");
    const summary = document.querySelector("#cookies-panel summary .kept");
    if (view.kept) {
      const n = view.count === 1 ? "1 cookie" : `${view.count} cookies`;
      state.textContent = `Kept: ${n} for ${sitesText(view.sites)}. Links use them from now on.`;
    } else {
      state.textContent = "None kept: links are fetched as a visitor who is not logged in.";
    }
    remove.hidden = !view.kept;
    summary.textContent = view.kept ? " · kept" : "";
  }

  function said(e) {
    const box = document.getElementById("cookies-error");
    if (e instanceof TypeError) {
      box.textContent = "ferryman is not answering right now; try again once it is back.";
      return;
    }
    if (!e.info) {
      box.textContent = String(e.message || e);
      return;
    }
    box.replaceChildren(text("span", `That is not a cookies.txt: ${e.info.message}.`), text("span", e.info.next, "next"));
  }

  async function put(file) {
    const box = document.getElementById("cookies-error");
    box.textContent = "";
    const response = await fetch(`${API}/cookies`, {
      method: "PUT",
      headers: { ...CSRF, "Content-Type": "text/plain" },
      credentials: "same-origin",
      body: file,
    });
    const data = await response.json();
    if (!response.ok) {
      const error = new Error(data.error ? data.error.message : response.statusText);
      error.info = data.error;
      throw error;
    }
    return data;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const input = document.getElementById("cookies-file");
    const remove = document.getElementById("cookies-remove");
    if (!input || !remove) return;
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
    remove.addEventListener("click", async () => {
      document.getElementById("cookies-error").textContent = "";
      try {
        await api("DELETE", "/cookies");
        show(await api("GET", "/cookies"));
      } catch (e) {
        said(e);
      }
    });
    // Asked when the panel is opened, not at every page load (one request less against
    // the API's per-minute budget for a page that never looks).
    const panel = document.getElementById("cookies-panel");
    panel.addEventListener("toggle", async () => {
      if (!panel.open) return;
      try {
        show(await api("GET", "/cookies"));
      } catch (e) {
        said(e);
      }
    });
  });
})();
