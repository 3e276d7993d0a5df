"""Build and take apart safetensors files byte by byte, to tamper with sigmoidnet artifacts.

Generic on purpose (the hypothesis fuzz suite generates tampered checkpoints with it): no
validation, no safetensors library, so that anything — a header that is not JSON, a wrong
length prefix, overlapping offsets, a dtype that does not exist — can be written.

    header, data = read_safetensors(path)
    info = metadata_info(header)                 # the `sigmoidnet` JSON, parsed
    info["architecture"]["hidden_sizes"] = [7.5]
    set_metadata_info(header, info)
    write_safetensors(out, header, data)

    tensors = unpack(header, data)               # {name: (dtype, shape, bytes)}
    tensors["model.net.0.bias"] = f32(np.full(7, np.nan))
    header, data = pack(tensors, header["__metadata__"])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: (dtype, shape, raw little-endian bytes) of one tensor
Tensor = tuple[str, list[int], bytes]

DTYPES = {  # safetensors dtype names → numpy dtypes
    "F32": "<f4",
    "F64": "<f8",
    "F16": "<f2",
    "I8": "i1",
    "U8": "u1",
    "I32": "<i4",
    "I64": "<i8",
    "BOOL": "?",
}


def read_safetensors(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """(header as parsed JSON, the tensor data bytes after it)."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def encode_header(header: Mapping[str, Any] | str | bytes) -> bytes:
    """The header's bytes: JSON for a mapping (NaN allowed, as `json.dumps` writes it), as is
    for text or bytes; padded with spaces to a multiple of 8 as safetensors does."""
    if isinstance(header, Mapping):
        body = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        body = header.encode("utf-8", "surrogatepass")
    else:
        body = header
    return body + b" " * (-len(body) % 8)


def safetensors_bytes(
    header: Mapping[str, Any] | str | bytes,
    tensor_bytes: bytes = b"",
    *,
    length: int | None = None,
) -> bytes:
    """A whole file: the 8-byte little-endian header length (`length` to lie about it),
    the header, the tensor data."""
    body = encode_header(header)
    n = len(body) if length is None else length
    return n.to_bytes(8, "little") + body + tensor_bytes


def write_safetensors(
    path: str | Path,
    header: Mapping[str, Any] | str | bytes,
    tensor_bytes: bytes = b"",
    *,
    length: int | None = None,
) -> Path:
    """Write `safetensors_bytes(header, tensor_bytes, length=length)` to `path`."""
    p = Path(path)
    p.write_bytes(safetensors_bytes(header, tensor_bytes, length=length))
    return p


def metadata_info(header: Mapping[str, Any]) -> Any:
    """The parsed `sigmoidnet` metadata JSON of a header."""
    return json.loads(header["__metadata__"]["sigmoidnet"])


def set_metadata_info(header: dict[str, Any], info: Any) -> dict[str, Any]:
    """Store `info` (any JSON-able value; NaN/inf written as NaN/Infinity) as the header's
    `sigmoidnet` metadata, in place; returns the header."""
    header["__metadata__"] = {**header["__metadata__"], "sigmoidnet": json.dumps(info)}
    return header


def unpack(header: Mapping[str, Any], data: bytes) -> dict[str, Tensor]:
    """The tensors of a (well-formed) header and data, in file order."""
    items = [(k, v) for k, v in header.items() if k != "__metadata__"]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    return {
        k: (v["dtype"], list(v["shape"]), data[v["data_offsets"][0] : v["data_offsets"][1]])
        for k, v in items
    }


def pack(
    tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], bytes]:
    """A header (with `data_offsets` laid out back to back, in the given order) and the data."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    chunks: list[bytes] = []
    pos = 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    return header, b"".join(chunks)


def tensor(values: Any, dtype: str = "F32") -> Tensor:
    """A tensor entry from array-like values in a safetensors dtype."""
    arr = np.ascontiguousarray(np.asarray(values).astype(DTYPES[dtype]))
    return dtype, list(arr.shape), arr.tobytes()


def array(t: Tensor) -> np.ndarray:
    """The values of a tensor entry."""
    dtype, shape, raw = t
    return np.frombuffer(raw, dtype=DTYPES[dtype]).reshape(shape)
