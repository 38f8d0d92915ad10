"""The page's Preset choice: the presets a person can name (``links/presets``: built-in
ones and their own, as ``ferryman preset list`` shows them), each option carrying the
form's fields it sets (``static/presets.js`` sets them; the request is the form's, as if
chosen by hand). A destination the form cannot say (a library folder of its own, a
remote) is left as chosen: the option says so."""

from __future__ import annotations

from html import escape
from pathlib import Path

from ferryman.links.presets import Preset, every
from ferryman.links.profile import Output, parse_token
from ferryman.web.accounts.who import Who

# The form's destinations a preset's can be, by what it says: a kind alone, or a chat.
_KINDS = ("link", "library", "telegram")


def offered(data_dir: Path, who: Who) -> list[Preset]:
    """The presets ``who`` can name (an administrator's are the machine's own, as the
    CLI's; blocking: reads a file)."""
    return every(data_dir, None if who.admin else who.account)


def preset_field(presets: list[Preset]) -> str:
    """The form's Preset field (nothing when there is none to offer)."""
    if not presets:
        return ""
    options = "".join(_option(p) for p in presets)
    return f"""<div class="field preset-field">
    <label for="preset">Preset</label>
    <select id="preset" name="preset">
      <option value="">None: as chosen below</option>{options}</select>
    <script src="/static/presets.js" defer></script>
  </div>"""


def _option(preset: Preset) -> str:
    fields: dict[str, str] = {}
    if preset.token:
        profile = parse_token(preset.token)
        if profile.output.is_audio:
            fields |= {"kind": "audio", "format": profile.output.value}
            fields |= {"bitrate": str(profile.kbps)} if profile.kbps else {}
        else:
            fields["kind"] = "mute" if profile.output is Output.MUTE else "video"
            fields["quality"] = f"{profile.height}p" if profile.height else "best"
        fields |= {"subs": ",".join(profile.subs)} if profile.subs else {}
        fields |= {"nfo": "1"} if profile.nfo else {}
    note = ""
    if preset.dest:
        kind, _, target = preset.dest.partition(":")
        if kind == "link" and target == "telegram":
            fields["dest"] = "link-telegram"  # the form's choice "kept in Telegram"
        elif kind in _KINDS and (not target or kind == "telegram"):
            fields |= {"dest": kind} | ({"chat": target} if target else {})
        else:
            note = " (its destination is the command line's)"
    data = "".join(f' data-{k}="{escape(v)}"' for k, v in fields.items())
    words = f"{preset.name}: {preset.describe()}{note}"
    return f'<option value="{escape(preset.name)}"{data}>{escape(words)}</option>'
