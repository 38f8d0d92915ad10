"""Debrid services behind one face (``base.Debrid``), for ``magnet:`` and ``.torrent`` inputs."""
