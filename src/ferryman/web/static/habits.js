// ferryman's page habits, as MeTube and cobalt users expect them: the theme chosen
// (light, dark or the system's), Enter in the Link box starts, and a file dropped
// anywhere on the page is taken for upload instead of the browser opening it.
// Loaded in <head> without defer, so the chosen theme is set before the first paint.
"use strict";

(() => {
  const KEY = "ferryman.theme";
  const THEMES = ["auto", "light", "dark"];

  function chosenTheme() {
    try {
      const kept = localStorage.getItem(KEY);
      return THEMES.includes(kept) ? kept : "auto";
    } catch (e) {
      return "auto"; // private mode: the system's, as before
    }
  }

  // "auto" leaves data-theme off: the CSS follows prefers-color-scheme then.
  function applyTheme(theme) {
    if (theme === "auto") document.documentElement.removeAttribute("data-theme");
    else document.documentElement.dataset.theme = theme;
  }

  applyTheme(chosenTheme());

  function themeToggle() {
    const select = document.getElementById("theme");
    if (!select) return;
    select.value = chosenTheme();
    select.addEventListener("change", () => {
      applyTheme(select.value);
      try {
        localStorage.setItem(KEY, select.value);
      } catch (e) {
        /* private mode: kept for this visit only */
      }
    });
  }

  // Enter starts, as in a chat box; Shift+Enter is a new line for several links.
  function enterSubmits() {
    const box = document.getElementById("link");
    const form = document.getElementById("start");
    if (!box || !form) return;
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      const start = form.querySelector("button[type=submit]");
      if (start && start.disabled) return; // a start under way: not twice
      form.requestSubmit();
    });
  }

  const carriesFiles = (event) =>
    !!event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");

  // The form's own drop handler (app.js) takes a drop on the form; this one takes the
  // rest of the page, and keeps the browser from leaving the page to show the file.
  function dropsAnywhere() {
    const input = document.getElementById("files");
    if (!input) return;
    const zone = document.getElementById("dropzone");
    document.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      if (zone) zone.classList.add("dropping");
    });
    document.addEventListener("dragleave", (event) => {
      if (zone && !event.relatedTarget) zone.classList.remove("dropping");
    });
    document.addEventListener("drop", (event) => {
      if (zone) zone.classList.remove("dropping");
      if (!carriesFiles(event)) return;
      const taken = event.defaultPrevented; // the form took it already
      event.preventDefault();
      if (taken || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      const names = Array.from(input.files, (f) => f.name).join(", ");
      const said = document.getElementById("upload-state");
      if (said) said.textContent = names + " ready: press Start.";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    themeToggle();
    enterSubmits();
    dropsAnywhere();
  });
})();
