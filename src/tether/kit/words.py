"""Counts in words, the same on every screen, API message and email."""


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 connection`, `2 connections`, `1,200 connections` (`words` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
