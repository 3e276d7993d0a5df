"""The model artifact: one `.safetensors` file, written atomically, loaded without unpickling.

Format 4 is written now: format 2's layout, with a real table's preprocessor (format 3: raw
columns, categories, fill values, missing indicators, label mappings) whose categorical
columns also list the training values their `<other>` slot pools (format 4). Formats 1-3
still load. Format 2's layout: tensors: the MLP's weights under `model.*`, and the fitted
preprocessor's arrays under `preprocess.*` (`preprocess.mean`, `preprocess.std` when the data
was standardized), all float32. Metadata (safetensors' string map): `format` = "sigmoidnet",
`format_version`, and `sigmoidnet` = a JSON object with the format version, sigmoidnet
version, resolved config, feature and label names, `architecture`, `preprocessor` (the
preprocessor's own description), `decision` (per-label `thresholds`, and `calibration`:
null until calibration is fitted), `heldout` (which rows were held out, with their
fingerprint: `sigmoidnet.data.HeldOut`; null without validation rows), and the epoch and
metrics the weights came from.

Format 1 (the first release) still loads: tensors `norm.mean`/`norm.std` and top-level
`thresholds`; it has no held-out record.

Loading trusts nothing in the file. In order, before anything is allocated:

1. the path must name a readable regular file (no FIFO, device, directory or symlink loop);
2. the safetensors header (8-byte length, at most `MAX_HEADER_BYTES`, then JSON) is parsed
   with limits: nesting depth `MAX_JSON_DEPTH`, no duplicate keys, Python's int-digit limit;
3. the `sigmoidnet` metadata is validated by one strict pydantic model per format version
   (`MetadataV1` ... `MetadataV4`): exact types (no float for an int, no string for a number),
   bounded sizes, thresholds finite in [0, 1], names unique and of consistent lengths,
   the architecture equal to the config's model, and **no unknown keys** at any level: every
   writer of a format version writes exactly its key set, and a writer that adds something
   bumps `format_version` (an older sigmoidnet then says "upgrade" instead of ignoring, say,
   a calibration it cannot apply);
4. every tensor in the header is checked against what the metadata implies: the names
   (none missing, none extra), dtype F32, shapes (`Linear` weights are (out, in)), and the
   data offsets (contiguous, no gaps or overlaps, ending exactly at the end of the file);
5. the memory the model needs, from its sizes (`sigmoidnet.limits.model_memory_problem`: the
   weights and a forward pass over a chunk of rows), is compared with the memory available
   (`SIGMOIDNET_MEMORY_LIMIT` replaces the system's figure).

Only then is the tensor data read, once, straight into each tensor, and every value is
checked finite. Every problem is a one-line `CheckpointError` (exit 4).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import numpy as np
import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from safetensors.torch import save as st_save

from sigmoidnet import __version__
from sigmoidnet.config import Config, config_from_dict
from sigmoidnet.errors import CheckpointError, ConfigError, UsageError
from sigmoidnet.fsutil import InputFileError, atomic_write_bytes, open_input
from sigmoidnet.limits import (
    MAX_HIDDEN_LAYERS,
    MEMORY_ENV,
    available_memory,
    format_bytes,
    model_memory_problem,
)
from sigmoidnet.model import MLP, eval_chunk_rows
from sigmoidnet.preprocess import Preprocessor, PreprocessorStateError

FORMAT = "sigmoidnet"
FORMAT_VERSION = 4

#: safetensors' own cap on the JSON header (its Rust reader refuses more)
MAX_HEADER_BYTES = 100_000_000
#: nesting depth of the header JSON and of the metadata JSON (ours is at most 4 deep)
MAX_JSON_DEPTH = 32
#: per layer width / input / output size (torch's practical dimension limit)
MAX_DIM = 2**31 - 1

_METADATA_KEYS = {"format", "format_version", "sigmoidnet"}


@dataclass
class Artifact:
    """A trained model and everything needed to use it."""

    model: MLP
    config: Config
    feature_names: list[str]
    label_names: list[str]
    thresholds: list[float]
    preprocessor: Preprocessor
    heldout: dict[str, Any] | None = None  # `sigmoidnet.data.HeldOut.to_dict()`
    calibration: dict[str, Any] | None = None  # fitted calibration (none yet)
    #: where each label's threshold came from (format 4: "decision.threshold", "f1 on 67
    #: validation rows: F1 0.912", ...; None for older formats: their thresholds are 0.5)
    threshold_sources: list[str] | None = None
    epoch: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    sigmoidnet_version: str = __version__
    format_version: int = FORMAT_VERSION  # of the file it was loaded from

    def metadata(self) -> dict[str, Any]:
        pre_meta, _ = self.preprocessor.state()
        return {
            "format_version": FORMAT_VERSION,
            "sigmoidnet_version": self.sigmoidnet_version,
            "config": self.config.to_dict(),
            "feature_names": self.feature_names,
            "label_names": self.label_names,
            "architecture": {
                "input_size": self.model.input_size,
                "hidden_sizes": self.model.hidden_sizes,
                "output_size": self.model.output_size,
            },
            "preprocessor": pre_meta,
            "decision": {
                "thresholds": self.thresholds,
                "calibration": self.calibration,
                "sources": self.threshold_sources or ["decision.threshold"] * len(self.label_names),
            },
            "heldout": self.heldout,
            "epoch": self.epoch,
            "metrics": self.metrics,
        }


def to_bytes(art: Artifact) -> bytes:
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().to("cpu", torch.float32).contiguous()
        for k, v in art.model.state_dict().items()
    }
    _, arrays = art.preprocessor.state()
    for name, arr in arrays.items():
        tensors[f"preprocess.{name}"] = torch.from_numpy(np.ascontiguousarray(arr, np.float32))
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "sigmoidnet": json.dumps(art.metadata(), allow_nan=False),
    }
    data: bytes = st_save(tensors, metadata=meta)
    return data


def save(art: Artifact, path: str | Path) -> None:
    """Write the artifact atomically (temporary name in the same folder, then rename)."""
    atomic_write_bytes(Path(path), to_bytes(art))


# ---------------------------------------------------------------------------------------------
# the metadata schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Dim = Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]
Count = Annotated[StrictInt, Field(ge=0, lt=2**63)]
Fraction01 = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
Names = Annotated[list[StrictStr], Field(min_length=1)]
Scalar = Annotated[bool | int | float | str | None, PlainValidator(lambda v: _scalar(v))]


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"names must be unique, got {_show(n)} twice")
        seen.add(n)
    return names


class Architecture(_Strict):
    """The MLP's sizes: input → hidden_sizes → output."""

    input_size: Dim
    hidden_sizes: Annotated[list[Dim], Field(max_length=MAX_HIDDEN_LAYERS)]
    output_size: Dim

    def describe(self) -> str:
        return " → ".join(str(n) for n in [self.input_size, *self.hidden_sizes, self.output_size])


class PreprocessorMeta(_Strict):
    """`Preprocessor.state()`'s description (its arrays are the `preprocess.*` tensors)."""

    normalize: Literal["standard", "none"]
    feature_names: Names


class TablePreprocessorMeta(PreprocessorMeta):
    """Format 3: a real table's preprocessor also describes its raw columns, label
    mappings, the columns left out, and its imputation (`Preprocessor.state()`; the
    preprocessor checks that they agree with each other and with the feature names)."""

    columns: Annotated[list[dict[StrictStr, Any]], Field(min_length=1)] | None = None
    labels: list[dict[StrictStr, Any]] | None = None
    ignored: list[StrictStr] | None = None
    impute: Literal["median", "mean", "error"] | None = None
    max_categories: Annotated[StrictInt, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _all_or_none(self) -> TablePreprocessorMeta:
        given = [
            v is not None
            for v in (self.columns, self.labels, self.ignored, self.impute, self.max_categories)
        ]
        if any(given) and not all(given):
            raise ValueError(
                "a table's preprocessor needs columns, labels, ignored, impute "
                "and max_categories together"
            )
        return self

    def state(self) -> dict[str, Any]:
        """The description as `Preprocessor.state()` gave it."""
        return self.model_dump(exclude_none=True)


class Calibration(_Strict):
    """Format 4: per-label calibrated logits a·z + b (`sigmoidnet.calibrate.scaling`)."""

    method: Literal["temperature", "platt"]
    a: Annotated[list[FiniteFloat], Field(min_length=1)]
    b: Annotated[list[FiniteFloat], Field(min_length=1)]

    @model_validator(mode="after")
    def _shapes(self) -> Calibration:
        if len(self.a) != len(self.b):
            raise ValueError("calibration: a and b need one value per label each")
        if self.method == "temperature" and any(v != 0.0 for v in self.b):
            raise ValueError("calibration: temperature scaling has b = 0")
        if any(v <= 0.0 for v in self.a):
            raise ValueError("calibration: a must be positive (it keeps the ranking)")
        return self


class Decision(_Strict):
    thresholds: Annotated[list[Fraction01], Field(min_length=1)]
    calibration: Calibration | None
    #: format 4: where each threshold came from (absent before)
    sources: list[Annotated[StrictStr, Field(max_length=1000)]] | None = None


class HeldOutRecord(_Strict):
    """The shape of `sigmoidnet.data.HeldOut.to_dict()`."""

    path: StrictStr
    fraction: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
    seed: Count
    rows: Count
    n_val: Count
    fingerprint: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="after")
    def _n_val_within_rows(self) -> HeldOutRecord:
        if self.n_val > self.rows:
            raise ValueError(f"n_val {self.n_val} exceeds rows {self.rows}")
        return self


class _Metadata(_Strict):
    sigmoidnet_version: Annotated[StrictStr, Field(max_length=100)]
    config: dict[str, Any]
    feature_names: Names
    label_names: Names
    architecture: Architecture
    epoch: Count | None
    metrics: dict[StrictStr, Scalar]

    @field_validator("feature_names", "label_names")
    @classmethod
    def _unique_names(cls, v: list[str]) -> list[str]:
        return _unique(v)

    def thresholds(self) -> list[float]:  # pragma: no cover - overridden
        raise NotImplementedError

    @model_validator(mode="after")
    def _consistent(self) -> _Metadata:
        arch = self.architecture
        if len(self.feature_names) != arch.input_size:
            raise ValueError(
                f"{len(self.feature_names)} feature names for an input size of {arch.input_size}"
            )
        if len(self.label_names) != arch.output_size:
            raise ValueError(
                f"{len(self.label_names)} label names for an output size of {arch.output_size}"
            )
        if len(self.thresholds()) != len(self.label_names):
            raise ValueError(
                f"{len(self.thresholds())} thresholds for {len(self.label_names)} labels"
            )
        return self


class MetadataV1(_Metadata):
    """Format 1 (sigmoidnet 0.1.0): top-level thresholds, no preprocessor or held-out record."""

    format_version: Annotated[StrictInt, Field(ge=1, le=1)]
    thresholds_: Annotated[list[Fraction01], Field(min_length=1, alias="thresholds")]

    def thresholds(self) -> list[float]:
        return list(self.thresholds_)


class MetadataV2(_Metadata):
    """Format 2: the preprocessor's description, the decision and the held-out record."""

    format_version: Annotated[StrictInt, Field(ge=2, le=2)]
    preprocessor: PreprocessorMeta
    decision: Decision
    heldout: HeldOutRecord | None

    def thresholds(self) -> list[float]:
        return list(self.decision.thresholds)

    @model_validator(mode="after")
    def _preprocessor_features(self) -> MetadataV2:
        if self.preprocessor.feature_names != self.feature_names:
            raise ValueError("preprocessor feature names disagree with the model's")
        if self.format_version == 2 and self.decision.sources is not None:
            raise ValueError("decision.sources is format 4's")
        if self.format_version in (1, 2, 3) and self.decision.calibration is not None:
            raise ValueError("decision.calibration: expected null (calibration is format 4's)")
        return self


class MetadataV3(MetadataV2):
    """Format 3: format 2, with a real table's preprocessor (raw columns, categories, fill
    values, missing indicators, label mappings)."""

    format_version: Annotated[StrictInt, Field(ge=3, le=3)]
    preprocessor: TablePreprocessorMeta

    @model_validator(mode="after")
    def _preprocessor_state(self) -> MetadataV3:
        try:
            Preprocessor.expected_arrays(self.preprocessor.state())
        except PreprocessorStateError as e:
            raise ValueError(f"preprocessor: {e}") from None
        if self.format_version == 3 and any("pooled" in c for c in self.preprocessor.columns or []):
            raise ValueError("preprocessor: 'pooled' categories are format 4's")
        if self.format_version == 3 and self.decision.sources is not None:
            raise ValueError("decision.sources is format 4's")
        if self.format_version == 3 and self.decision.calibration is not None:
            raise ValueError("decision.calibration: expected null (calibration is format 4's)")
        return self


class MetadataV4(MetadataV3):
    """Format 4: format 3, with the training values each `<other>` slot pools (`pooled` of a
    categorical column), so that a value never seen in training is counted at inference."""

    format_version: Annotated[StrictInt, Field(ge=4, le=4)]

    @model_validator(mode="after")
    def _threshold_sources(self) -> MetadataV4:
        sources = self.decision.sources
        if sources is None or len(sources) != len(self.label_names):
            raise ValueError("decision.sources: expected one entry per label")
        cal = self.decision.calibration
        if cal is not None and len(cal.a) != len(self.label_names):
            raise ValueError("decision.calibration: expected one a and b per label")
        return self


_SCHEMAS: dict[int, type[_Metadata]] = {
    1: MetadataV1,
    2: MetadataV2,
    3: MetadataV3,
    4: MetadataV4,
}


class TensorEntry(_Strict):
    """One tensor in a safetensors header."""

    dtype: StrictStr
    shape: list[Annotated[StrictInt, Field(ge=0, lt=2**63)]]
    data_offsets: Annotated[list[Count], Field(min_length=2, max_length=2)]


# ---------------------------------------------------------------------------------------------
# messages


def _show(value: Any, limit: int = 60) -> str:
    """A short, one-line rendering of a value from the file."""
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    except (ValueError, RecursionError):  # pragma: no cover - values are depth-capped
        text = type(value).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
               int: "an integer", float: "a number", type(None): "null"}  # fmt: skip
_EXPECTED = {
    "model_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "a boolean",
    "none_required": "null",
}


def _validation_problem(e: ValidationError) -> str:
    """The first problem of a pydantic error, as `where: what, got <value>`, in one line."""
    errors = e.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    kind, value = first["type"], first["input"]
    if kind == "missing":
        what = "missing"
    elif kind == "extra_forbidden":
        what = "unknown key (not part of this format)"
    elif kind in _EXPECTED:
        got = _JSON_TYPES.get(type(value), type(value).__name__)
        shown = "" if value is None else f" {_show(value, 40)}"
        what = f"expected {_EXPECTED[kind]}, got {got}{shown}"
    elif kind.startswith("value_error"):
        what = first["msg"].removeprefix("Value error, ")
    elif kind in ("too_long", "too_short"):
        what = first["msg"].replace(" after validation", "").lower()
    else:  # bounds, patterns, literals, finite numbers
        what = first["msg"].replace("Input should be", "expected a value", 1)
        what = what.replace("a value a ", "a ").replace("a value '", "'")
        what = f"{what[0].lower()}{what[1:]}, got {_show(value)}"
    text = f"{loc}: {what}" if loc else what
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def _scalar(v: Any) -> Any:
    """A metrics value: a boolean, an integer, a finite number, a string or null."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"expected a finite number, got {_show(v)}")
        return v
    raise ValueError(f"expected a number, a string, a boolean or null, got {_show(v, 40)}")


# ---------------------------------------------------------------------------------------------
# JSON with limits


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {_show(k)}")
        out[k] = v
    return out


def _tree_problem(value: Any) -> str | None:
    """What no JSON value of ours holds, walked without recursion and without copying:
    nesting deeper than `MAX_JSON_DEPTH`, or a string (key or value) that is not valid
    Unicode (a lone surrogate, which `\\ud800` escapes give and no file name or column can
    hold)."""
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        for v in stack[-1]:
            if isinstance(v, str):
                if not _is_unicode(v):
                    return f"holds a string that is not valid Unicode ({_show(v)})"
            elif isinstance(v, (dict, list)):
                if len(stack) > MAX_JSON_DEPTH:
                    return f"is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
                if isinstance(v, dict):
                    bad = next((k for k in v if not _is_unicode(k)), None)
                    if bad is not None:
                        return f"holds a string that is not valid Unicode ({_show(bad)})"
                    v = v.values()
                stack.append(iter(v))
                break
        else:
            stack.pop()
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_memory(text: bytes | bytearray | str) -> int:
    """An upper bound on the bytes `json.loads(text)` allocates: about 72 per list or object,
    100 per value or key, twice the text (measured: 2 to 12 times what it takes)."""
    if isinstance(text, str):
        containers = text.count("[") + text.count("{")
        items = text.count(",") + text.count(":") + containers
    else:
        containers = text.count(b"[") + text.count(b"{")
        items = text.count(b",") + text.count(b":") + containers
    return 72 * containers + 100 * items + 2 * len(text)


def _parse_json(text: bytes | bytearray | str, what: str, where: str) -> Any:
    """`json.loads` with limits: nothing but a one-line reason (as ValueError) when the text
    is not JSON we could have written; a `CheckpointError` when parsing it would take more
    memory than there is."""
    need = _json_memory(text)
    available = _memory_available()
    if available is not None and need > available:
        raise CheckpointError(
            where,
            f"reading {what} ({len(text):,} bytes of JSON) would need up to "
            f"{format_bytes(need)} of memory, but {format_bytes(available)} is available",
        )
    try:
        if not isinstance(text, str):
            text = text.decode("utf-8")  # json.loads would guess UTF-16/32 from bytes
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None
    except ValueError as e:  # JSONDecodeError, the int-digit limit, duplicate keys
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "integer string conversion" in first:
            first = "an integer with too many digits"
        raise ValueError(f"{what} is not valid JSON ({first[:120]})") from None
    problem = _tree_problem(value)
    if problem is not None:
        raise ValueError(f"{what} {problem}")
    return value


# ---------------------------------------------------------------------------------------------
# memory


def _memory_available() -> int | None:
    try:
        return available_memory()
    except ValueError as e:  # a bad SIGMOIDNET_MEMORY_LIMIT
        raise UsageError(MEMORY_ENV, str(e)) from None


def _check_memory(arch: Architecture, where: str) -> None:
    """Refuse a model that would not fit, from its sizes alone (`sigmoidnet.limits`: the
    weights and a forward pass over `EVAL_ROWS` rows, against the memory available)."""
    try:
        rows = eval_chunk_rows(arch.input_size, arch.hidden_sizes, arch.output_size)
        problem = model_memory_problem(
            arch.input_size, arch.hidden_sizes, arch.output_size, rows=rows
        )
    except ValueError as e:  # a bad SIGMOIDNET_MEMORY_LIMIT
        raise UsageError(MEMORY_ENV, str(e)) from None
    if problem is not None:
        raise CheckpointError(where, f"{problem} (architecture {arch.describe()})")


# ---------------------------------------------------------------------------------------------
# loading


def _open_regular(path: Path, where: str) -> tuple[IO[bytes], int]:
    """The file opened for reading, and its size; only a regular file is opened (a FIFO
    or a device is named, never read)."""
    try:
        return open_input(
            path,
            missing="no such file",
            directory="is a directory, expected a .safetensors model file",
        )
    except InputFileError as e:
        raise CheckpointError(where, str(e)) from None


def _read_exactly(f: IO[bytes], buf: memoryview, where: str) -> None:
    got = 0
    while got < len(buf):
        try:
            n = f.readinto(buf[got:])  # type: ignore[attr-defined]
        except OSError as e:
            raise CheckpointError(where, f"cannot read: {e.strerror or e}") from None
        if not n:
            raise CheckpointError(where, "the file is truncated (it shrank while being read)")
        got += n


def _read_header(f: IO[bytes], size: int, where: str) -> tuple[dict[str, Any], int]:
    """The safetensors header JSON object, and where the tensor data starts."""
    # safetensors layout: 8-byte little-endian header length, then a JSON header
    if size < 8:
        raise CheckpointError(where, "not a safetensors file (too short)")
    prefix = bytearray(8)
    _read_exactly(f, memoryview(prefix), where)
    n = int.from_bytes(prefix, "little")
    if n < 2 or 8 + n > size:
        raise CheckpointError(
            where,
            f"not a safetensors file, or truncated (header length {n} in a file of {size} bytes)",
        )
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(
            where,
            f"not a safetensors model: its header of {n:,} bytes exceeds the limit of "
            f"{MAX_HEADER_BYTES:,} bytes",
        )
    raw = bytearray(n)
    _read_exactly(f, memoryview(raw), where)
    try:
        header = _parse_json(raw, "header", where)
    except ValueError as e:
        raise CheckpointError(where, f"not a safetensors file ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(where, "not a safetensors file (header is not a JSON object)")
    return header, 8 + n


def _format_version(meta: dict[str, Any], where: str) -> int:
    text = meta.get("format_version")
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,9}", text):
        raise CheckpointError(
            where, f"bad format_version {_show(text)} in metadata (expected a number as text)"
        )
    version = int(text)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            where,
            f"model format version {version} is newer than this sigmoidnet ({__version__}) "
            f"reads (up to {FORMAT_VERSION}); upgrade sigmoidnet",
        )
    if version < 1:
        raise CheckpointError(where, f"bad format_version {version} in metadata")
    return version


def _parse_metadata(header: dict[str, Any], where: str) -> tuple[int, _Metadata, Config]:
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "sigmoidnet" not in meta:
        raise CheckpointError(where, "a safetensors file, but not a sigmoidnet model (no metadata)")
    version = _format_version(meta, where)
    for key, value in meta.items():
        if key not in _METADATA_KEYS:
            raise CheckpointError(where, f"unknown metadata entry {_show(key)}")
        if not isinstance(value, str):
            raise CheckpointError(where, f"metadata entry {_show(key)} is not a string")
    try:
        info = _parse_json(meta["sigmoidnet"], "the sigmoidnet metadata", where)
    except ValueError as e:
        raise CheckpointError(where, str(e)) from None
    if not isinstance(info, dict):
        raise CheckpointError(where, "the sigmoidnet metadata is not a JSON object")
    inner = info.get("format_version")
    if type(inner) is int and inner != version:
        raise CheckpointError(
            where,
            f"bad sigmoidnet metadata: format_version {_show(inner)} disagrees with the "
            f"file's {version}",
        )
    try:
        parsed = _SCHEMAS[version].model_validate(info)
    except ValidationError as e:
        raise CheckpointError(where, f"bad sigmoidnet metadata: {_validation_problem(e)}") from None
    try:
        cfg = config_from_dict(parsed.config, f"{where} (metadata config)")
    except ConfigError as e:
        raise CheckpointError(where, f"bad config in metadata: {e.what}") from None
    arch, m = parsed.architecture, cfg.model
    if (
        list(m.hidden_sizes) != arch.hidden_sizes
        or m.input_size not in (None, arch.input_size)
        or m.output_size not in (None, arch.output_size)
    ):
        raise CheckpointError(
            where,
            f"bad sigmoidnet metadata: the architecture ({arch.describe()}) disagrees with "
            f"the config's model (hidden_sizes {m.hidden_sizes})",
        )
    return version, parsed, cfg


def _expected_tensors(
    version: int, parsed: _Metadata, cfg: Config, names: set[str], where: str
) -> tuple[dict[str, tuple[int, ...]], MLP]:
    """Every tensor the metadata implies, with its shape, and the model on the meta device
    (sizes only: nothing is allocated)."""
    arch = parsed.architecture
    with torch.device("meta"):
        model = MLP(
            arch.input_size,
            arch.hidden_sizes,
            arch.output_size,
            cfg.model.activation,
            cfg.model.dropout,
        )
    expected = {f"model.{k}": tuple(v.shape) for k, v in model.state_dict().items()}
    n = arch.input_size
    if isinstance(parsed, MetadataV3):
        shapes = Preprocessor.expected_arrays(parsed.preprocessor.state())
        expected |= {f"preprocess.{k}": v for k, v in shapes.items()}
    elif isinstance(parsed, MetadataV2):
        if parsed.preprocessor.normalize == "standard":
            expected |= {"preprocess.mean": (n,), "preprocess.std": (n,)}
    else:  # format 1: standard normalization when its tensors are there
        present = {"norm.mean", "norm.std"} & names
        if len(present) == 1:
            raise CheckpointError(
                where, f"normalization tensors are inconsistent ({sorted(present)[0]} alone)"
            )
        if present:
            expected |= {"norm.mean": (n,), "norm.std": (n,)}
    return expected, model


def _check_tensors(
    raw_entries: dict[str, Any],
    expected: Mapping[str, tuple[int, ...]],
    data_size: int,
    arch: Architecture,
    where: str,
) -> list[str]:
    """Check the header's tensors against `expected` (names, then each entry's form, dtype,
    shape and data offsets); their names in file order."""
    model_of = f"the model of architecture {arch.describe()}"
    missing = sorted(set(expected) - set(raw_entries))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        owner = (
            model_of
            if missing[0].startswith("model.")
            else "standard normalization"
            if missing[0] in ("preprocess.mean", "preprocess.std", "norm.mean", "norm.std")
            else "the preprocessing"
        )
        raise CheckpointError(where, f"missing tensor {_show(missing[0])}{more} of {owner}")
    extra = sorted(set(raw_entries) - set(expected))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise CheckpointError(
            where,
            f"unexpected tensor {_show(extra[0])}{more}: not part of {model_of}"
            + ("" if extra[0].startswith("model.") else " and its preprocessing"),
        )
    entries: dict[str, TensorEntry] = {}
    for name, value in raw_entries.items():
        try:
            entries[name] = TensorEntry.model_validate(value)
        except ValidationError as e:
            raise CheckpointError(
                where, f"bad header entry for tensor {_show(name)}: {_validation_problem(e)}"
            ) from None
        if entries[name].dtype != "F32":
            raise CheckpointError(
                where, f"tensor {_show(name)} has dtype {_show(entries[name].dtype)}, expected F32"
            )
    for name, want in expected.items():
        got = tuple(entries[name].shape)
        if got != want:
            hint = " (Linear weights are (out, in))" if name.endswith(".weight") else ""
            raise CheckpointError(
                where,
                f"tensor {_show(name)} has shape {list(got)}, expected {list(want)} for "
                f"architecture {arch.describe()}{hint}",
            )
    order = sorted(entries, key=lambda k: entries[k].data_offsets)
    pos = 0
    for name in order:
        start, end = entries[name].data_offsets
        nbytes = 4 * math.prod(expected[name])
        if start != pos or end - start != nbytes:
            raise CheckpointError(
                where,
                f"tensor {_show(name)} has bad data offsets [{start}, {end}] "
                f"(expected [{pos}, {pos + nbytes}]): the header does not describe the data",
            )
        pos = end
    if pos != data_size:
        what = "is truncated" if pos > data_size else "has extra bytes"
        raise CheckpointError(
            where,
            f"the file {what}: the header declares {format_bytes(pos)} of tensor data, "
            f"the file holds {format_bytes(data_size)}",
        )
    return order


def _read_tensors(
    f: IO[bytes], order: list[str], expected: Mapping[str, tuple[int, ...]], where: str
) -> dict[str, torch.Tensor]:
    """The tensor data, read once, in file order, straight into one tensor each."""
    out: dict[str, torch.Tensor] = {}
    for name in order:
        try:
            t = torch.empty(expected[name], dtype=torch.float32)
        except (MemoryError, RuntimeError) as e:  # memory taken since it was estimated
            detail = " ".join(str(e).split())[:120] or type(e).__name__
            raise CheckpointError(
                where, f"not enough memory for tensor {_show(name)} ({detail})"
            ) from None
        arr = t.numpy()
        _read_exactly(f, arr.reshape(-1).view(np.uint8).data, where)
        if sys.byteorder == "big":  # pragma: no cover - safetensors is little-endian
            arr.byteswap(inplace=True)
        total = float(t.sum(dtype=torch.float64))  # finite iff every value is (no overflow)
        if not math.isfinite(total):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(
                where,
                f"tensor {_show(name)} holds {bad} non-finite value{'s' if bad != 1 else ''} "
                "(NaN or inf)",
            )
        out[name] = t
    return out


def load(path: str | Path) -> Artifact:
    """Load an artifact; every problem is a one-line `CheckpointError` (exit 4)."""
    where = str(path)
    f, size = _open_regular(Path(path), where)
    with f:
        header, data_start = _read_header(f, size, where)
        version, parsed, cfg = _parse_metadata(header, where)
        arch = parsed.architecture
        raw_entries = {k: v for k, v in header.items() if k != "__metadata__"}
        expected, model = _expected_tensors(version, parsed, cfg, set(raw_entries), where)
        order = _check_tensors(raw_entries, expected, size - data_start, arch, where)
        _check_memory(arch, where)
        tensors = _read_tensors(f, order, expected, where)

    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True, assign=True)  # names and shapes checked above
    model.eval()
    preprocessor = _load_preprocessor(parsed, tensors, where)
    heldout = (
        parsed.heldout.model_dump() if isinstance(parsed, MetadataV2) and parsed.heldout else None
    )
    return Artifact(
        model=model,
        config=cfg,
        feature_names=list(parsed.feature_names),
        label_names=list(parsed.label_names),
        thresholds=parsed.thresholds(),
        threshold_sources=(
            list(parsed.decision.sources)
            if isinstance(parsed, MetadataV2) and parsed.decision.sources is not None
            else None
        ),
        preprocessor=preprocessor,
        heldout=heldout,
        calibration=(
            parsed.decision.calibration.model_dump()
            if isinstance(parsed, MetadataV2) and parsed.decision.calibration is not None
            else None
        ),
        epoch=parsed.epoch,
        metrics=dict(parsed.metrics),
        sigmoidnet_version=parsed.sigmoidnet_version,
        format_version=version,
    )


def _load_preprocessor(
    parsed: _Metadata, tensors: dict[str, torch.Tensor], where: str
) -> Preprocessor:
    """Format 2: the preprocessor's own state; format 1: `norm.mean`/`norm.std` (standard
    normalization when present, none otherwise)."""
    features = list(parsed.feature_names)
    if isinstance(parsed, MetadataV3):
        prefix = "preprocess."
        meta: dict[str, Any] = parsed.preprocessor.state()
    elif isinstance(parsed, MetadataV2):
        prefix = "preprocess."
        meta = parsed.preprocessor.model_dump()
    else:
        prefix = "norm."
        has = "norm.mean" in tensors
        meta = {"feature_names": features, "normalize": "standard" if has else "none"}
    arrays = {k[len(prefix) :]: v.numpy() for k, v in tensors.items() if k.startswith(prefix)}
    try:
        return Preprocessor.from_state(meta, arrays)
    except PreprocessorStateError as e:
        raise CheckpointError(where, str(e)) from None
