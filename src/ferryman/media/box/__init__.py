"""Decoding untrusted media in confined worker processes: the pool (``MediaBox``), its worker."""
