"""Shared pieces of the training tests (tiny networks, reference randomness, free ports)."""
