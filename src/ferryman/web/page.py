"""The page, rendered on the server: the form, and the job list as it is now (the script
in ``static/app.js`` keeps it live; without the script the list still shows), and the
Watches panel's frame (``static/watches.js`` fills it: watches have no page without a
script)."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from ferryman.engine.ops.phases import (
    BYTES,
    CONVERTING,
    DELIVERING,
    DOWNLOADING,
    eta_text,
    speed_text,
)
from ferryman.web.schemas import SiteRecord, Sites
from ferryman.web.telegram_choice import telegram_choice_field

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ferryman</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="apple-touch-icon" href="/static/icon-192.png">
<link rel="manifest" href="/manifest.webmanifest">
<meta name="theme-color" content="#2563eb">
<meta name="color-scheme" content="light dark">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/habits.js"></script>
<script src="/static/gallery.js" defer></script>
<script src="/static/app.js" defer></script>
<script src="/static/rows.js" defer></script>
<script src="/static/accounts.js" defer></script>
</head>
"""

_EMPTY = "No jobs yet. Paste a link above, or choose files, and press Start."
_QUALITIES = ("2160p", "1440p", "1080p", "720p", "480p", "360p", "best")
_BITRATES = (320, 256, 192, 128, 96)


# The Watches panel: its list and form are made by static/watches.js (with its styles).
_WATCHES = """<section id="watches-panel" aria-labelledby="watches-title" hidden>
  <link rel="stylesheet" href="/static/watches.css">
  <div class="jobs-head">
    <h2 id="watches-title">Watches</h2>
    <button type="button" id="watch-open" class="quiet" aria-expanded="false"
      aria-controls="watch-form-slot">Add a watch</button>
  </div>
  <p class="hint">A feed, a WebDAV folder or a channel, looked at on a schedule: what each
  look finds new becomes one job.</p>
  <div id="watch-form-slot"></div>
  <p id="watches-empty">No watches yet.</p>
  <ul id="watches"></ul>
  <script src="/static/watches.js" defer></script>
</section>"""


# Cookies for sites behind a login: static/cookies.js gives, shows and removes them.
_COOKIES = """<details id="cookies-panel" class="cookies">
  <summary>Cookies for sites behind a login<span class="kept"></span></summary>
  <link rel="stylesheet" href="/static/habits.css">
  <p class="hint">For a video a site shows only when you are logged in: export that site's
  cookies as a cookies.txt from a browser where you are logged in (a "Get cookies.txt"
  add-on does it) and give the file here. It is kept on this server for your next links
  (yours alone) and never shown back.</p>
  <p id="cookies-state" role="status"></p>
  <div class="row"><label for="cookies-file">cookies.txt</label>
  <input id="cookies-file" type="file" accept=".txt,text/plain">
  <button type="button" id="cookies-remove" class="quiet" hidden>Remove cookies</button></div>
  <div id="cookies-error" class="error" role="alert"></div>
  <script src="/static/cookies.js" defer></script>
  <script src="/static/library.js" defer></script>
</details>"""


# A person's own rclone.conf: static/rclone.js gives, lists, checks and removes it.
_RCLONE = """<details id="rclone-panel" class="cookies rclone">
  <summary>rclone remotes<span class="kept"></span></summary>
  <p class="hint">To take files from, or send them to, your own cloud storage
  (rclone:REMOTE:path): give the rclone.conf your rclone uses (<code>rclone config
  file</code> says where it is), or paste it. It is kept on this server for your jobs
  and watches alone; its passwords and tokens are never shown back. Remotes that would
  reach this server itself (a local folder, a command, a key file) are refused.</p>
  <p id="rclone-state" role="status"></p>
  <ul id="rclone-remotes" class="rclone-remotes"></ul>
  <div class="row"><label for="rclone-file">rclone.conf</label>
  <input id="rclone-file" type="file" accept=".conf,text/plain"></div>
  <label for="rclone-text" class="sr">rclone.conf's text</label>
  <textarea id="rclone-text" rows="4" spellcheck="false"
   placeholder="[gdrive]&#10;type = drive&#10;token = {...}"></textarea>
  <div class="row"><button type="button" id="rclone-keep">Keep pasted</button>
  <button type="button" id="rclone-reach" class="quiet" hidden>Check remotes</button>
  <button type="button" id="rclone-remove" class="quiet" hidden>Remove</button></div>
  <div id="rclone-error" class="error" role="alert"></div>
  <script src="/static/rclone.js" defer></script>
</details>"""


# The form's rclone destination: a remote of the person's own (static/rclone.js fills the
# picker from /api/v1/rclone) and a folder there; app.js sends it as rclone:REMOTE:path.
_RCLONE_CHOICE = """<label><input type="radio" name="dest" value="rclone">
    To an rclone remote</label>
    <span class="for-rclone" hidden><span id="rclone-pick" hidden>
    <label for="rclone-remote">Remote</label>
    <select id="rclone-remote" name="rclone-remote"></select>
    <label for="rclone-path">Folder</label>
    <input id="rclone-path" name="rclone-path" type="text" size="16" placeholder="Photos">
    </span><span id="rclone-none" class="hint" hidden>No remotes of yours yet: give your rclone.conf
    under “rclone remotes” below.</span></span>"""


# The Telegram pool's figures per account, for an administrator once the engine wrote
# them: static/pool.js fills it from /api/v1/telegram/accounts.
_POOL = """<details id="pool-panel" class="cookies pool" hidden>
  <summary>Telegram accounts<span class="kept"></span></summary>
  <link rel="stylesheet" href="/static/pool.css">
  <p class="hint">Since the engine started, per account: albums sent, upload speed while
  uploading, waits Telegram imposed, and albums it left to another account.</p>
  <ul id="pool-accounts"></ul>
  <p id="pool-note" class="hint" hidden></p>
  <script src="/static/pool.js" defer></script>
</details>"""


def sites_panel(view: Sites, now: float) -> str:
    """Which sites work now (``/api/v1/sites``'s view): yt-dlp's version and age in the
    summary, a row per site of the last day, latest first; rendered here, no request."""
    yt = view.yt_dlp
    if yt.version is None:
        version = "yt-dlp is not installed: links to media cannot be read"
    else:
        age = f", {yt.age_days} days old" if yt.age_days is not None else ""
        version = f"yt-dlp {yt.version}{age}"
    stale = (
        '<p class="stale">An older yt-dlp stops reading sites as they change: an administrator'
        f" updates it on the server ({escape(yt.update)}).</p>"
        if yt.stale
        else ""
    )
    rows = "".join(_site_row(site, now) for site in view.sites)
    return f"""<details id="sites-panel" class="cookies sites">
  <summary>Which sites work now<span class="kept"> · {escape(version)}</span></summary>
  <link rel="stylesheet" href="/static/sites.css">
  <p class="hint">Links of the last day by site, as their downloads ended.</p>{stale}
  <ul id="sites">{rows}</ul>
  {"" if rows else '<p id="sites-empty" class="hint">No links in the last day.</p>'}
</details>"""


def _site_row(site: SiteRecord, now: float) -> str:
    works = site.last_code is None
    latest = f"latest {_ago(now - site.last_at)}: " + (
        "came" if works else f"failed ({escape(site.last_code or '')})"
    )
    failed = ", ".join(f"{n}× {escape(code)}" for code, n in site.failed.items())
    return (
        f'<li data-site="{escape(site.site)}" data-works="{"yes" if works else "no"}">'
        f'<span class="who">{escape(site.site)}</span>'
        f'<span class="fig">{site.fetched} of {site.total} came</span>'
        f'<span class="fig{" bad" if failed else " none"}">{failed or "none failed"}</span>'
        f'<span class="fig last">{latest}</span></li>'
    )


def _ago(seconds: float) -> str:
    minutes = round(max(0.0, seconds) / 60)
    if minutes < 1:
        return "just now"
    return f"{minutes} min ago" if minutes < 90 else f"{round(minutes / 60)} h ago"


def _options(values: tuple[object, ...], chosen: object, label: str = "{}") -> str:
    return "".join(
        f'<option value="{v}"{" selected" if v == chosen else ""}>{label.format(v)}</option>'
        for v in values
    )


def main_page(
    views: list[dict[str, Any]],
    *,
    telegram: bool,
    playlist_max: int = 50,
    pool: bool = False,
    sites: str = "",
    presets: str = "",
    chat: str | None = "me",
) -> str:
    """The page; ``pool``: with the Telegram accounts panel (an administrator's, once the
    engine wrote figures: no request of its own otherwise, within the rate limit);
    ``sites``: the sites panel as ``sites_panel`` made it; ``presets``: the form's Preset
    field (``web/preset_choice``); ``chat``: the Telegram chat the form starts with
    (``web/telegram_choice.page_chat``; None: a person with no Telegram account
    linked, told how to link one instead)."""
    jobs = "".join(job_item(v) for v in views)
    ended = "" if any(v["status"] in ("done", "failed", "cancelled") for v in views) else " hidden"
    telegram_choice = telegram_choice_field(chat) if telegram else ""
    return f"""{_HEAD}<body>
<header>
  <h1>ferryman</h1>
  <p id="conn" role="status" hidden>Reconnecting…</p>
  <label class="theme" for="theme">Theme</label>
  <select id="theme" name="theme">
    <option value="auto">Auto</option><option value="light">Light</option>
    <option value="dark">Dark</option>
  </select>
</header>
<main>
<p class="intro">Archives, media files and links in; playable media out. For example,
paste <code>https://example.com/watch?v=…</code>, choose Audio only, press Start, and
download the MP3.</p>
<form id="start" novalidate>
  <div class="field">
    <label for="link">Link</label>
    <textarea id="link" name="link" rows="2" autocomplete="off"
      placeholder="https://… a video page, an archive or a file; one per line"></textarea>
    <label class="for-playlist" hidden><input type="checkbox" id="playlist" name="playlist">
      Whole playlist (up to {playlist_max} videos), not only this one</label>
  </div>
  <div class="field dropzone" id="dropzone">
    <label for="files">Files</label>
    <p class="drop-hint">Drop files here (anywhere on the page), or choose them:</p>
    <input id="files" name="files" type="file" multiple>
  </div>
  {presets}
  <fieldset>
    <legend>Output</legend>
    <label for="output">Make</label>
    <select id="output" name="output">
      <option value="as_is">As they are</option>
      <option value="video">Video (MP4)</option>
      <option value="audio">Audio only</option>
      <option value="mute">Video without sound</option>
    </select>
    <span class="for-video"><label for="quality">Quality</label>
    <select id="quality" name="quality">{_options(_QUALITIES, "1080p")}</select></span>
    <span class="for-audio"><label for="format">Format</label>
    <select id="format" name="format">{_options(("mp3", "m4a", "opus"), "mp3")}</select>
    <label for="bitrate">Bitrate</label>
    <select id="bitrate" name="bitrate">{_options(_BITRATES, 192, "{} kbps")}</select></span>
  </fieldset>
  <fieldset>
    <legend>Destination</legend>
    <label><input type="radio" name="dest" value="link" checked> To download</label>
    <label><input type="radio" name="dest" value="library"> Library</label>
    {telegram_choice}
    {_RCLONE_CHOICE}
  </fieldset>
  <button type="submit" disabled>Start</button>
  <div id="form-error" class="error" role="alert"></div>
  <p id="upload-state" role="status"></p>
</form>
{_COOKIES}
{_RCLONE}
<div class="jobs-head">
  <h2 id="jobs-title">Jobs</h2>
  <fieldset class="show tabs">
    <legend class="sr">Show</legend>
    <label><input type="radio" name="show" value="all" checked> All</label>
    <label><input type="radio" name="show" value="queue"> Queue</label>
    <label><input type="radio" name="show" value="done"> Done</label>
    <label><input type="radio" name="show" value="failed"> Failed</label>
    <label><input type="radio" name="show" value="watches"> Watches</label>
  </fieldset>
  <button type="button" id="clear" class="quiet"{ended}>Clear finished</button>
</div>
<section id="jobs-panel" aria-labelledby="jobs-title">
  <div id="picked" class="picked" hidden><span id="picked-count"></span>
    <button type="button" id="picked-retry" class="quiet">Retry selected</button>
    <button type="button" id="picked-remove" class="quiet">Remove selected</button></div>
  <p id="empty" role="status">{"" if views else _EMPTY}</p>
  <ul id="jobs">{jobs}</ul>
  <button type="button" id="older" class="quiet" hidden>Show older</button>
</section>
{_WATCHES}
{_POOL if pool else ""}
{sites}
</main>
</body>
</html>
"""


def job_item(view: dict[str, Any]) -> str:
    """One job as a list item (the script renders the same from the same data)."""
    progress = view["progress"]
    percent = round((progress.get("fraction") or 0) * 100)
    error = view.get("error")
    name = escape(view["name"])
    # One row, as the script draws it: name, phase, figures, downloads; then the bar.
    parts = [
        f'<li class="job" data-job="{view["id"]}" data-status="{escape(view["status"])}"'
        f' data-outcome="{outcome(view)}"><div class="row">',
        f'<strong class="name" title="{escape(view["source"])}">{name}</strong>'
        f'<span class="status">{escape(status_text(view))}</span>'
        f'<span class="detail">{escape(detail_text(view))}</span>',
    ]
    tail = [
        f'</div><progress max="100" value="{percent}" aria-label="Progress of {name}">'
        f"{percent}%</progress>"
    ]
    if error:
        tail.append(
            f'<p class="error">{escape(error["message"])} <span class="next">'
            f"{escape(error['next'])}</span></p>"
        )
    result = view.get("result") or {}
    files = result.get("files") or []
    links = [f'<a href="{escape(f["url"])}">Download {escape(f["name"])}</a>' for f in files]
    count = int(result.get("files_total", len(files)))  # the view carries a page of them
    if count == 1 and len(links) == 1:
        parts.append(f'<div class="files">{links[0]}</div>')
    elif links:  # folded, as the script does: "42 files · 1.2 GB", then the zip
        total = int(result.get("bytes_total", sum(int(f.get("size") or 0) for f in files)))
        zipped = (result.get("zip") or {}).get("url")
        if count > len(links):  # the script fetches the rest a page at a time
            links.append(f'<p class="more">{count - len(links)} more in the zip</p>')
        parts.append(
            f'<div class="files"><details><summary>{count} files · {size_text(total)}'
            f'</summary><div class="file-links">{"".join(links)}</div></details>'
            + (f'<a href="{escape(zipped)}">Download all (zip)</a>' if zipped else "")
            + "</div>"
        )
    return "".join([*parts, *tail, "</li>"])


def outcome(view: dict[str, Any]) -> str:
    """As the script's: "nothing" (done, not one file delivered), "partial" (failed
    or cancelled after delivering some, or done keeping a code: files that failed or
    were kept back), else ""."""
    delivered = (view.get("counts") or {}).get("delivered", 0)
    if view["status"] == "done" and not delivered:
        return "nothing"
    if view["status"] in ("failed", "cancelled") and delivered:
        return "partial"
    if view["status"] == "done" and view.get("error"):
        return "partial"
    return ""


def status_text(view: dict[str, Any]) -> str:
    if view["status"] == "needs_password":
        return "needs a password"
    if view.get("stuck"):
        return f"{view['phase']} — no progress for a while"
    counts = view.get("counts") or {}
    if outcome(view) == "nothing":
        return "nothing delivered"
    if outcome(view) == "partial":
        return f"{view['status']} · {counts['delivered']} of {counts['total']} delivered"
    return str(view["phase"])


def detail_text(view: dict[str, Any]) -> str:
    if view["status"] in ("done", "failed", "cancelled") and view.get("finished_at"):
        # As the script: what it came to and when (the script redraws it in the reader's
        # own time zone once its first snapshot arrives).
        ended = [size_text(view["bytes"])] if view.get("bytes") else []
        return " · ".join([*ended, time.strftime("%H:%M", time.localtime(view["finished_at"]))])
    progress = view["progress"]
    bits = [f"{round((progress.get('fraction') or 0) * 100)}%"]
    # As the script: the phase under way with its own figures, where known.
    moving = view.get("phase") in (DOWNLOADING, CONVERTING, DELIVERING)
    if moving and progress.get("speed"):
        bits.append(speed_text(progress["speed"], progress.get("speed_unit") or BYTES))
    if moving and progress.get("eta_s") is not None:
        bits.append(eta_text(progress["eta_s"]))
    counts = view.get("counts") or {}
    if counts.get("total") and view["status"] not in ("done", "failed", "cancelled"):
        bits.append(f"{counts.get('finished', 0)}/{counts['total']} files")
    if view.get("waiting_next") and view["status"] != "needs_password":
        bits.append(str(view["waiting_next"]))
    return " · ".join(bits)


def size_text(size: int) -> str:
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    if size >= 1e6:
        return f"{size / 1e6:.1f} MB"
    return f"{max(1, round(size / 1e3))} kB"


def login_page(*, accounts: bool = True) -> str:
    """The sign-in page: a person's name and password (or passkey) once accounts exist,
    and a server token (``web.tokens``) for administrators and scripts."""
    hidden = "" if accounts else " hidden"
    token = "Or a server token (<code>web.tokens</code>)" if accounts else "Token"
    return f"""{_HEAD}<body>
<header><h1>ferryman</h1></header>
<main>
<form id="signin"{hidden}>
  <div class="field">
    <label for="account-name">Name</label>
    <input id="account-name" name="name" type="text" autocomplete="username webauthn">
  </div>
  <div class="field">
    <label for="account-password">Password</label>
    <input id="account-password" name="password" type="password" autocomplete="current-password">
  </div>
  <div class="sign-in-buttons">
    <button type="submit" disabled>Sign in</button>
    <button id="passkey-signin" type="button" class="quiet" hidden>Sign in with a passkey</button>
  </div>
</form>
<form id="login">
  <div class="field">
    <label for="token">{token}</label>
    <input id="token" name="token" type="password" autocomplete="current-password">
  </div>
  <button type="submit" disabled>Log in</button>
  <p id="form-error" class="error" role="alert"></p>
</form>
</main>
</body>
</html>
"""


def api_page(spec: dict[str, Any]) -> str:
    """The API described from its OpenAPI document, on the server: no script, nothing
    fetched from elsewhere (Swagger UI would load from a CDN, which the page's CSP and
    an offline machine both refuse)."""
    rows = []
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            params = ", ".join(
                p["name"] + ("" if p.get("required") else "?") for p in op.get("parameters", [])
            )
            body: dict[str, Any] = op.get("requestBody", {}).get("content", {})
            first: dict[str, Any] = next(iter(body.values()), {})
            ref = str(first.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
            rows.append(
                f"<tr><td>{escape(method.upper())}</td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(_what(op))}</td><td>{escape(params)}</td>"
                f"<td>{f'<a href=#{escape(ref)}>{escape(ref)}</a>' if ref else ''}</td></tr>"
            )
    models = []
    for name, model in spec.get("components", {}).get("schemas", {}).items():
        required = set(model.get("required", []))
        fields = "".join(
            f"<li><code>{escape(field)}</code>{'' if field in required else ' (optional)'}"
            f" {escape(_type_of(info))}"
            f"{' — ' + escape(info['description']) if info.get('description') else ''}</li>"
            for field, info in model.get("properties", {}).items()
        )
        text = escape(model.get("description") or "")
        models.append(f'<h3 id="{escape(name)}">{escape(name)}</h3><p>{text}</p><ul>{fields}</ul>')
    return f"""{_HEAD}<body>
<header><h1>ferryman API</h1></header>
<main class="docs">
<p>Every error is <code>{{"error": {{"code", "message", "next", "retryable"}}}}</code>.
The machine-readable description: <a href="/api/openapi.json">/api/openapi.json</a>.
Live events also come over a WebSocket at <code>/api/v1/events</code>: send
<code>{{"jobs": "all" | [ids], "after": N, "epoch": E}}</code> first.
More in <code>ferryman docs web</code>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>parameters</th>
<th>body</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<h2>Bodies</h2>
{"".join(models)}
</main>
</body>
</html>
"""


def _what(op: dict[str, Any]) -> str:
    """The first sentence of the route's docstring, else FastAPI's summary."""
    text = str(op.get("description") or "").strip()
    return text.split("\n\n")[0].replace("\n", " ") if text else str(op.get("summary") or "")


def _type_of(info: dict[str, Any]) -> str:
    if "enum" in info:
        return "one of " + ", ".join(str(v) for v in info["enum"])
    if "const" in info:
        return f"= {info['const']}"
    if "anyOf" in info:
        return " or ".join(_type_of(option) for option in info["anyOf"])
    if "$ref" in info:
        return str(info["$ref"]).rsplit("/", 1)[-1]
    return str(info.get("type", "any"))
