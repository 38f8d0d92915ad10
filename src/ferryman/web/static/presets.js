// The form's Preset choice (web/preset_choice.py): choosing one sets the output and the
// destination fields as its option's data says (subtitles and .nfo go with the request:
// app.js's output() reads them); changing one of those fields by hand afterwards puts
// the choice back to None, so the choice always says what the form holds.
// Uses app.js's showOptions(); its own names stay inside this function.
(() => {
"use strict";

const FIELDS = ["output", "quality", "format", "bitrate"];

function set(id, value) {
  const node = document.getElementById(id);
  if (!node || value === undefined) return;
  if (node.tagName === "SELECT" && !Array.from(node.options).some((o) => o.value === value)) return;
  node.value = value;
}

function apply(option) {
  const d = option.dataset;
  if (d.kind) {
    set("output", d.kind);
    set("quality", d.quality);
    set("format", d.format);
    set("bitrate", d.bitrate);
  }
  const dest = d.dest && document.querySelector(`input[name="dest"][value="${CSS.escape(d.dest)}"]`);
  if (dest) dest.checked = true;
  if (d.chat) set("chat", d.chat);
  showOptions();
}

document.addEventListener("DOMContentLoaded", () => {
  const preset = document.getElementById("preset");
  if (!preset) return;
  preset.addEventListener("change", () => {
    if (preset.value) apply(preset.selectedOptions[0]);
  });
  const byHand = () => {
    preset.value = "";
  };
  for (const id of FIELDS) document.getElementById(id)?.addEventListener("change", byHand);
  for (const radio of document.querySelectorAll('input[name="dest"]')) radio.addEventListener("change", byHand);
});
})();
