# covlens: skip-file
"""A copy of a small third-party helper, kept as is: measuring it would only add noise."""

import re

_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")
