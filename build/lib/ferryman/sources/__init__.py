"""Inputs ferryman reads from, each turned into one uniform stream of entries."""
