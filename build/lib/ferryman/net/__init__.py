"""Network sources' adapter: probe a link, download it resumably, name it safely.

Imports only ``config``, ``errors``, ``fsutil``, ``model`` and the name and content
sniffing of ``archive.names`` / ``media.classify``; never the engine or the store.
"""
