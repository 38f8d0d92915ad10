"""The parts every test's fetch-first source has alike: it takes the URIs of its one
scheme, names them as given, has no local path and inspects to itself. A test's source
subclasses ``SchemeFetchSource``, sets ``schemes`` and writes what it tests (``fetch``,
``open``)."""

from __future__ import annotations

from ferryman.sources.base import Access, Inspection


class SchemeFetchSource:
    schemes: tuple[str, ...] = ()
    description = ""
    access = Access.FETCH
    shown_as = ""

    def recognise(self, raw: str) -> str | None:
        return raw if raw.startswith(f"{self.schemes[0]}:") else None

    def describe(self, uri: str) -> str:
        return uri

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        return Inspection(uri, uri)
