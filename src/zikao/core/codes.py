"""Random codes printed on paper (verification, tickets): unguessable, no look-alike characters."""

from __future__ import annotations

import secrets

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: read aloud and typed from paper without mistakes.
UNAMBIGUOUS_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


def random_code(length: int = 12) -> str:
    """A code with log2(25)*length bits of entropy (12 chars ≈ 55 bits), never derived from data."""
    return "".join(secrets.choice(UNAMBIGUOUS_ALPHABET) for _ in range(length))
