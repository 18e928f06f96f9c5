"""The anthropic-beta header: which values look like beta names.

The real API answers an unknown beta with 400 invalid_request_error "Unexpected value(s) `X` for the
`anthropic-beta` header", and some compatible layers ignore betas. The fake cannot know every beta the real API
knows (new ones ship monthly), so it takes the middle road: a value shaped like a beta name (`name-YYYY-MM-DD`,
or `name-YYYYMMDD` as in `claude-code-20250219`) is accepted and ignored, and anything else gets the real API's 400.
"""

from __future__ import annotations

import re

from .errors import ApiError, invalid_request

BETA_NAME = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*-(?:\d{4}-\d{2}-\d{2}|\d{8})")


def malformed(header: str | None) -> list[str]:
    """The comma-separated values of an anthropic-beta header that do not look like beta names."""
    if not header:
        return []
    values = [value.strip() for value in header.split(",")]
    return [value for value in values if value and not BETA_NAME.fullmatch(value)]


def check(header: str | None) -> ApiError | None:
    """The real API's 400 for beta values that do not look like beta names, or None."""
    bad = malformed(header)
    if not bad:
        return None
    return invalid_request(f"Unexpected value(s) `{','.join(bad)}` for the `anthropic-beta` header.")
