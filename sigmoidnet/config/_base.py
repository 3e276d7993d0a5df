"""What every config section shares: strict frozen models, the checks of paths and run names, and
how a bad value is shown in a message.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sigmoidnet.limits import MAX_NAME_LENGTH

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

PosInt = Annotated[int, Field(ge=1)]
PosFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    # no key takes NaN or an infinity
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, validate_default=True, allow_inf_nan=False
    )


def path_problem(value: str) -> str | None:
    """What makes `value` unusable as a path, before any file system call, or None."""
    if "\x00" in value:
        return "the path contains a NUL byte"
    bad = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        return f"the path is not valid text (it holds a lone surrogate, {bad!a})"
    return None


def check_path(v: str | None) -> str | None:
    if v is not None:
        problem = path_problem(v)
        if problem is not None:
            raise ValueError(problem)
    return v


NAME_RULE = (
    f"a name is 1 to {MAX_NAME_LENGTH} characters: letters A-Z and a-z, digits, '_', '-' and"
    " '.', and does not start with '.'"
)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a run directory, or None. Allowed: 1 to MAX_NAME_LENGTH ASCII
    letters, digits, `_`, `-` and `.`, not starting with `.` (no path separators, no NUL, no
    control characters, nothing a file system might refuse or hide)."""
    if not name:
        return "empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"too long ({len(name)} characters)"
    for c in name:
        if c.isascii() and (c.isalnum() or c in "_-."):
            continue
        if c in "/\\":
            return f"a path separator ({c!r}) is not allowed"
        if c == "\x00":
            return "a NUL byte is not allowed"
        if not c.isprintable():
            return f"a control character ({c!a}) is not allowed"
        return f"{c!a} is not allowed"
    if name.startswith("."):
        return "it starts with '.'"
    return None


def describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
