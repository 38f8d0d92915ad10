"""libarchive's error messages -> ferryman's error codes.

libarchive reports most failures as text only (its numeric codes say little more
than "warn" or "fatal"), so the code is chosen from the words: ``MESSAGE_CODES``,
first match wins, case-insensitive substrings; captured from libarchive 3.6.2.
Kept apart from ``libarchive.backend`` so the table can be read, and grown, on
its own.

==========================================  ===========================  ==========
libarchive says                             when                         code
==========================================  ===========================  ==========
Passphrase required for this entry          zip entry, no passphrase     password_required
Incorrect passphrase                        zip entry, none fits         password_required
RAR encryption support unavailable.         RAR4 encrypted headers       unsupported
RAR solid archive support unavailable.      RAR4 solid, 2nd entry on     unsupported
Encryption is not supported                 RAR5 encrypted headers       unsupported
The archive header is encrypted, but        7z with encrypted headers    unsupported
currently not supported
The file content is encrypted, but          7z AES data                  unsupported
currently not supported
Unsupported ZIP compression method          zip Deflate64 (method 9),    unsupported
(9: deflation-64-bit)                       and any method it lacks
Unsupported block header size               RAR5 ciphertext read as      unsupported
(was 5, max is 2)                           plain data
Unexpected codec ID: a                      7z ARM64/RISC-V filters      unsupported
any other "unsupported", "not supported",   e.g. RAR VM filters, 7z      unsupported
"support unavailable", "no support for",    codecs, "Decryption is
"unknown codec", "unknown encryption"       unsupported due to lack of
                                            crypto library"
"truncat", "premature", "unexpected end",   the input ends early         truncated
"no progress is possible"
anything else                               damage                       unreadable
==========================================  ===========================  ==========
"""

from __future__ import annotations

# (lower-case substring of libarchive's message, our code); first match wins.
MESSAGE_CODES: tuple[tuple[str, str], ...] = (
    ("passphrase required", "archive.password_required"),
    ("incorrect passphrase", "archive.password_required"),  # also "Too many incorrect ..."
    ("rar encryption support unavailable", "archive.unsupported"),
    ("rar solid archive support unavailable", "archive.unsupported"),
    ("encryption is not supported", "archive.unsupported"),
    ("encrypted, but currently not supported", "archive.unsupported"),
    ("unsupported zip compression method", "archive.unsupported"),
    ("unsupported block header size", "archive.unsupported"),
    ("unsupported", "archive.unsupported"),
    ("not supported", "archive.unsupported"),
    ("support unavailable", "archive.unsupported"),
    ("no support for", "archive.unsupported"),
    ("unknown codec", "archive.unsupported"),
    ("unknown encryption", "archive.unsupported"),
    # 7z coders libarchive lacks (ARM64 "a", RISC-V "b" branch filters): 7zz reads them.
    ("unexpected codec id", "archive.unsupported"),
    # libarchive reports a premature end in words only: tar/zip "Truncated ...",
    # gzip/bzip2 "truncated ... input", xz "No progress is possible".
    ("truncat", "archive.truncated"),
    ("premature", "archive.truncated"),
    ("unexpected end", "archive.truncated"),
    ("no progress is possible", "archive.truncated"),
)
# libarchive's refusal to go on after a fatal error; the real cause came before it.
FATAL_STATE_HINT = "invoked with archive structure in state"


def classify(message: str) -> str:
    """The error code for one of libarchive's messages (see ``MESSAGE_CODES``)."""
    lowered = message.lower()
    for hint, code in MESSAGE_CODES:
        if hint in lowered:
            return code
    return "archive.unreadable"
