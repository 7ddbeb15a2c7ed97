"""The root of Yichuang's exception hierarchy.

Every package raises subclasses of `YichuangError` that also inherit the builtin they
resemble (`class ConfigError(YichuangError, ValueError)`), so a caller can catch either
"anything Yichuang refused" or the ordinary Python category.
"""

from __future__ import annotations

__all__ = ["YichuangError"]


class YichuangError(Exception):
    """Base class of every error Yichuang raises on purpose."""
