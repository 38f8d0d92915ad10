"""Entry names made safe to write anywhere, unique per archive, and OS clutter spotted.

An archive's names are hostile input: they may climb out of the target folder
(``../``, ``/abs``, ``C:\\``, ``\\\\server\\share``), carry bytes no filesystem
takes, be too long, or differ only in case or Unicode form (and so overwrite each
other on macOS and Windows). ``sanitize_path`` fixes one name; ``UniqueNames``
keeps a whole archive's names apart; ``is_junk`` spots what nobody wants delivered.
"""

from __future__ import annotations

import re
import unicodedata

MAX_COMPONENT_BYTES = 255  # NAME_MAX on every common filesystem
MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_DEPTH = 64
_MAX_EXT_BYTES = 32  # a longer "extension" is just part of the name
# Levels kept from the top when a path is too deep; the rest come from the bottom.
_KEEP_TOP_LEVELS = 32
# Components this short cannot be over MAX_COMPONENT_BYTES (4 UTF-8 bytes per character).
_SURELY_SHORT = MAX_COMPONENT_BYTES // 4

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly
_DRIVE = re.compile("[A-Za-z]:")
# Windows' path parser takes any UTF-16 unit before a colon as a drive (and Python's
# ntpath any character).
_DRIVE_LIKE = re.compile(".:", re.DOTALL)

# Folder names that only ever hold OS clutter (casefolded).
_JUNK_DIRS = frozenset(
    {
        "__macosx",
        ".spotlight-v100",
        ".trashes",
        ".fseventsd",
        ".appledouble",
        "$recycle.bin",
        "system volume information",
    }
)
_JUNK_FILES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini"})


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes (whole characters)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    # A cut inside a multi-byte character leaves only an incomplete tail to ignore.
    return raw[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _split_ext(name: str) -> tuple[str, str]:
    """(stem, ".ext"); no extension for dot-files or an implausibly long "extension"."""
    dot = name.rfind(".")
    if dot <= 0 or _utf8_len(name) - _utf8_len(name[:dot]) > _MAX_EXT_BYTES:
        return name, ""
    return name[:dot], name[dot:]


def _fit(name: str, max_bytes: int, *, keep_ext: bool = True, suffix: str = "") -> str | None:
    """``name`` + ``suffix`` (before the extension) within ``max_bytes``, or None.

    The stem is shortened, never the extension, so the file still opens with the
    right program; None when the stem would have to go entirely (leaving a hidden
    ".ext") or nothing but dots and spaces is left. The result ends in a character
    Windows keeps (no dot or space).
    """
    stem, ext = _split_ext(name) if keep_ext else (name, "")
    tail = suffix + ext
    budget = max_bytes - _utf8_len(tail)
    if budget < 0:
        return None
    cut = _cut(stem, budget)
    if stem and not cut:
        return None
    return (cut + tail).rstrip(" .") or None


def _clean_component(part: str) -> str:
    """One path component made portable, or "" when nothing usable is left.

    Windows drops trailing dots and spaces (so "a." and "a" are one file) and reads
    a leading "X:" as a drive, wherever the component ends up in a path: a drive
    letter goes, any other "X:" becomes "X_".
    """
    if len(part) <= _SURELY_SHORT and part[-1:] not in " ." and part[1:2] != ":":
        return part  # the common case, already clean ("" included)
    while True:
        part = part.rstrip(" .")
        if _DRIVE.match(part):
            part = part[2:]
        elif _DRIVE_LIKE.match(part):  # "0:" is a drive to Windows' path parser too
            part = part[0] + "_" + part[2:]
        else:
            break
    if len(part) <= _SURELY_SHORT:
        return part  # "", ".", "..", "  " and the like are now ""
    return _fit(part, MAX_COMPONENT_BYTES) or ""


def _limit_path(parts: list[str]) -> str:
    """Join ``parts``, dropping middle folders to stay within MAX_DEPTH and MAX_PATH_BYTES.

    The top folders (which album) and the file's own name (what it is) say the most,
    so the levels in between go first.
    """
    if len(parts) > MAX_DEPTH:
        parts = parts[:_KEEP_TOP_LEVELS] + parts[-(MAX_DEPTH - _KEEP_TOP_LEVELS) :]
    joined = "/".join(parts)
    if len(joined) <= MAX_PATH_BYTES // 4 or _utf8_len(joined) <= MAX_PATH_BYTES:
        return joined
    total = _utf8_len(joined)
    while total > MAX_PATH_BYTES and len(parts) > 1:
        dropped = parts.pop((len(parts) - 1) // 2)  # never the last (the file's name)
        total -= _utf8_len(dropped) + 1
    return "/".join(parts)


def sanitize_path(raw: str, index: int) -> str:
    """A relative '/'-path safe to join under any folder, never empty.

    Rules, in order: undecodable bytes (surrogate escapes) become U+FFFD; NFC;
    control characters become "_"; backslashes are separators; a UNC prefix
    (``//server/share``) goes, as do leading roots; each component loses trailing
    dots/spaces and a leading drive ("C:"; another "X:" becomes "X_"), is dropped
    if nothing is left (so "", ".", ".." and "..." vanish: ``a/../b`` is ``a/b``,
    nothing can climb), and is cut to 255 UTF-8 bytes keeping its extension. A path
    deeper than 64 levels keeps its top 32 and bottom 32; one over 4096 bytes then
    loses middle folders. Fallback ``entry-{index}``. Idempotent.
    """
    text = _SURROGATES.sub("\ufffd", raw)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROLS.sub("_", text).replace("\\", "/")
    parts = text.split("/")
    if text.startswith("//") and not text.startswith("///"):
        parts = parts[4:]  # "", "", server, share
    cleaned = [c for c in map(_clean_component, parts) if c]
    return _limit_path(cleaned) or f"entry-{index}"


def _key(name: str) -> str:
    """What case-insensitive, normalising filesystems (macOS, Windows) see as one name."""
    return unicodedata.normalize("NFC", name.casefold())


class _Node:
    """A name given out in one folder: a file, or a folder holding more names."""

    __slots__ = ("alias", "children", "next_n")

    def __init__(self, *, folder: bool) -> None:
        # Keys (``_key``) of the names in this folder; None for a file.
        self.children: dict[str, _Node] | None = {} if folder else None
        # For a file that a later entry wants as a folder: the folder used instead.
        self.alias: tuple[str, _Node] | None = None
        self.next_n = 2  # the next "(n)" to try for a name clashing with this one


class UniqueNames:
    """The names already given in one archive; ``claim`` hands out the next unique one.

    Two entries must never land on one file: not when they differ only in case or
    Unicode form, and not when one is a file and the other needs it as a folder
    (file ``a`` then ``a/b``). The later one is renamed "name (2).ext", "name (3).ext"…;
    a folder that clashes with an earlier file is renamed the same way ("a (2)/b"),
    and every later entry of that folder follows it there. A tree of names, so a
    claim costs the length of its path, however many names came before.
    """

    __slots__ = ("_claims", "_root")

    def __init__(self) -> None:
        self._root = _Node(folder=True)
        self._claims = 0

    def claim(self, path: str) -> str:
        """A sanitised path for ``path``, distinct from (and no folder of) any earlier one."""
        self._claims += 1
        parts = sanitize_path(path, self._claims - 1).split("/")
        names: list[str] = []
        nodes = [self._root]
        for folder in parts[:-1]:
            name, node = self._enter(nodes[-1], folder)
            names.append(name)
            nodes.append(node)
        return self._place(names, nodes, parts[-1])

    @staticmethod
    def _enter(parent: _Node, folder: str) -> tuple[str, _Node]:
        """The folder ``folder`` of ``parent``, made (or renamed, if it is a file) as needed."""
        children = parent.children
        assert children is not None
        key = _key(folder)
        node = children.get(key)
        if node is None:
            node = children[key] = _Node(folder=True)
            return folder, node
        if node.children is not None:
            return folder, node
        if node.alias is None:  # a file of that name came first
            n = 2
            while True:
                variant = _fit(folder, MAX_COMPONENT_BYTES, keep_ext=False, suffix=f" ({n})")
                assert variant is not None  # a 255-byte budget keeps part of any stem
                if _key(variant) not in children:
                    break
                n += 1
            node.alias = (variant, _Node(folder=True))
            children[_key(variant)] = node.alias[1]
        return node.alias

    @staticmethod
    def _place(names: list[str], nodes: list[_Node], name: str) -> str:
        """``name``, or its first free "(n)" variant, as a file in the deepest folder.

        Renamed folders and "(n)" suffixes add bytes: the stem is shortened to keep
        the path within MAX_PATH_BYTES, and if even that cannot fit, the file moves
        up a folder (at the top a name always fits).
        """
        while True:
            children = nodes[-1].children
            assert children is not None
            used = sum(_utf8_len(f) + 1 for f in names)
            limit = min(MAX_COMPONENT_BYTES, MAX_PATH_BYTES - used)
            # ``name`` is sanitised: at most 255 bytes, so it fits at the top. With a
            # suffix, 255 bytes leave room for some stem too: the top always works.
            candidate = name if used + _utf8_len(name) <= MAX_PATH_BYTES else _fit(name, limit)
            if candidate is not None:
                clash = children.get(_key(candidate))
                if clash is not None:
                    n = clash.next_n
                    while candidate is not None and _key(candidate) in children:
                        candidate = _fit(name, limit, suffix=f" ({n})")
                        n += 1
                    clash.next_n = n
            if candidate is not None:
                children[_key(candidate)] = _Node(folder=False)
                return "/".join([*names, candidate])
            names.pop()
            nodes.pop()


def is_junk(path: str) -> bool:
    """Whether ``path`` is OS clutter: resource forks, Finder/Explorer caches, trash.

    ``__MACOSX/`` and friends count anywhere in the path; AppleDouble ``._name``,
    ``.DS_Store``, ``Thumbs.db``, ``ehthumbs.db`` and ``desktop.ini`` as the file's
    own name. Case-insensitive, since the tools that make them are.
    """
    parts = [p.casefold() for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return False
    name = parts[-1]
    if name in _JUNK_FILES or (name.startswith("._") and len(name) > 2):
        return True
    return any(p in _JUNK_DIRS for p in parts)
