"""The ``[debrid]`` and ``[torbox]`` sections: which debrid service reads magnets and
``.torrent`` files, and each service's account (Torbox's stays in ``[torbox]``, which
``torbox:`` items use too). A key is a secret (masked by ``config show``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ferryman.config.sections import Section

SERVICES = ("torbox", "realdebrid", "alldebrid", "premiumize", "debridlink")
DebridService = Literal["auto", "torbox", "realdebrid", "alldebrid", "premiumize", "debridlink"]


class TorboxSettings(Section):
    """The Torbox account that ``torbox:`` references are resolved with."""

    api_key: str = Field("", description="From torbox.app/settings; a secret.")
    api_base: str = Field(
        "https://api.torbox.app", pattern="^https?://", description="Torbox's API address."
    )
    requests_per_minute: int = Field(
        300, ge=1, le=300, description="API calls a minute at most (Torbox allows 300)."
    )


class RealDebridAccount(Section):
    """A Real-Debrid account (its API token, from real-debrid.com/apitoken)."""

    api_key: str = Field("", description="From real-debrid.com/apitoken; a secret.")
    api_base: str = Field(
        "https://api.real-debrid.com/rest/1.0",
        pattern="^https?://",
        description="Real-Debrid's API address.",
    )
    requests_per_minute: int = Field(
        250, ge=1, le=250, description="API calls a minute at most (Real-Debrid allows 250)."
    )


class AllDebridAccount(Section):
    """An AllDebrid account (an API key from alldebrid.com/apikeys)."""

    api_key: str = Field("", description="From alldebrid.com/apikeys; a secret.")
    api_base: str = Field(
        "https://api.alldebrid.com/v4", pattern="^https?://", description="AllDebrid's API."
    )
    agent: str = Field(
        "ferryman", min_length=1, description="The agent name AllDebrid asks every call for."
    )
    requests_per_minute: int = Field(
        600, ge=1, le=600, description="API calls a minute at most (AllDebrid allows 600)."
    )


class PremiumizeAccount(Section):
    """A Premiumize account (its API key, from premiumize.me/account)."""

    api_key: str = Field("", description="From premiumize.me/account; a secret.")
    api_base: str = Field(
        "https://www.premiumize.me/api", pattern="^https?://", description="Premiumize's API."
    )
    requests_per_minute: int = Field(60, ge=1, le=600, description="API calls a minute at most.")


class DebridLinkAccount(Section):
    """A Debrid-Link account (an API key from debrid-link.com/webapp/apikey)."""

    api_key: str = Field("", description="From debrid-link.com/webapp/apikey; a secret.")
    api_base: str = Field(
        "https://debrid-link.com/api/v2", pattern="^https?://", description="Debrid-Link's API."
    )
    requests_per_minute: int = Field(60, ge=1, le=600, description="API calls a minute at most.")


class DebridSettings(Section):
    """The debrid service magnets and ``.torrent`` files go through."""

    service: DebridService = Field(
        "auto",
        description="torbox, realdebrid, alldebrid, premiumize or debridlink; auto: the"
        " first of them (in that order) whose key is set.",
    )
    realdebrid: RealDebridAccount = Field(default_factory=RealDebridAccount)  # type: ignore[arg-type]
    alldebrid: AllDebridAccount = Field(default_factory=AllDebridAccount)  # type: ignore[arg-type]
    premiumize: PremiumizeAccount = Field(default_factory=PremiumizeAccount)  # type: ignore[arg-type]
    debridlink: DebridLinkAccount = Field(default_factory=DebridLinkAccount)  # type: ignore[arg-type]
