"""Hypothesis strategies for hostile or careless input, written from the kinds of defect the
hardening issue found rather than from a list of cases: YAML that expands or nests without
end, sizes nobody can allocate, odd keys and names, YAML 1.1 scalars; data files that are
binary, mis-encoded, ragged, empty, extreme or of the wrong type; checkpoints whose metadata,
tensor table or bytes were tampered with."""

from __future__ import annotations

import gzip
import io
import json
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# configs

HUGE_INT = "1" + "0" * 5000  # past Python's int-string limit

small_ints = st.sampled_from([0, 1, 2, 3, 8, 32, -1, -7])
hostile_ints = st.sampled_from([10**12, 10**9, 2**63, -(2**63), 10**30])
floats = st.sampled_from(
    [0.0, 0.001, 0.01, 0.2, 0.5, 0.99, 1.0, 1.5, -0.1, 1e-300, 1e300, float("nan"), float("inf")]
)
words = st.sampled_from(
    ["", "x", "relu", "adam", "csv", "random", "auto", "cpu", "cuda", "yes", "no", "~", "null"]
)
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12
)
scalars = st.one_of(small_ints, hostile_ints, floats, words, texts, st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=6)

KEYS: dict[str, list[str]] = {
    "": ["name", "seed", "device", "data", "model", "train", "out_dir", "lr", "epoch"],
    "data": [
        "source", "n_samples", "n_features", "n_labels", "path", "labels", "features",
        "val_fraction", "val_path", "normalize", "label",
    ],
    "model": ["input_size", "hidden_sizes", "output_size", "activation", "dropout", "hidden"],
    "train": [
        "epochs", "batch_size", "lr", "optimizer", "weight_decay", "pos_weight", "precision",
        "momentum",
    ],
}  # fmt: skip

# values that keep a config quick to run when it is valid (epochs and rows stay small)
SENSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "epochs": st.sampled_from([0, 1, 2, -1, 1.5, "2", None]),
    "n_samples": st.one_of(st.sampled_from([1, 2, 40, 0, -5, 10**12]), hostile_ints),
    "n_features": st.one_of(st.sampled_from([1, 3, 64, 0]), hostile_ints),
    "n_labels": st.one_of(st.sampled_from([1, 2, 0]), hostile_ints),
    "batch_size": st.one_of(st.sampled_from([1, 4, 32, 0]), hostile_ints),
    "hidden_sizes": st.one_of(
        st.lists(st.sampled_from([1, 4, 16, 0, -2, 10**9, 2**40]), max_size=3), values
    ),
    "source": st.sampled_from(["random", "csv", "parquet", "npz", "excel"]),
}


def _section(name: str) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(KEYS[name])

    def value_for(key: str) -> st.SearchStrategy[Any]:
        return st.one_of(SENSIBLE.get(key, values), values) if key in SENSIBLE else values

    return st.dictionaries(keys, values, max_size=5).flatmap(
        lambda d: st.fixed_dictionaries({k: value_for(k) for k in d})
    )


@st.composite
def config_dicts(draw: st.DrawFn, data_paths: list[str]) -> dict[str, Any]:
    cfg: dict[str, Any] = draw(_section(""))
    for sec in ("data", "model", "train"):
        if draw(st.booleans()):
            cfg[sec] = draw(_section(sec))
    data = cfg.get("data")
    if isinstance(data, dict) and draw(st.booleans()):
        data["path"] = draw(st.sampled_from(data_paths))
        data.setdefault("source", draw(st.sampled_from(["csv", "parquet", "npz"])))
        data.setdefault("labels", ["y"])
    train = cfg.setdefault("train", {})
    if isinstance(train, dict) and "epochs" not in train:  # valid configs stay quick
        train["epochs"] = draw(SENSIBLE["epochs"])
    return cfg


def _yaml_scalar(v: Any) -> str:
    return json.dumps(v, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf")


def to_yaml(d: Any, indent: int = 0) -> str:
    """Block YAML of a dict, flow JSON-ish values (every JSON text is YAML 1.2)."""
    if not isinstance(d, dict):
        return _yaml_scalar(d) + "\n"
    pad = "  " * indent
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append(f"{pad}{k}:\n" + to_yaml(v, indent + 1))
        else:
            out.append(f"{pad}{k}: {_yaml_scalar(v)}\n")
    return "".join(out)


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    + "data: *i\n"
)

MUTATIONS = [
    lambda t: t,
    lambda t: BILLION_LAUGHS,
    lambda t: "x: &x [*x]\n" + t,
    lambda t: "model:\n  hidden_sizes: " + "[" * 5000 + "]" * 5000 + "\n",
    lambda t: "".join(f"{' ' * i}k{i}:\n" for i in range(3000)),
    lambda t: t + "seed: 0o14\n",
    lambda t: t + "seed: 1_000\n",
    lambda t: t + "seed: 0b101\n",
    lambda t: t + f"seed: {HUGE_INT}\n",
    lambda t: t + "name: " + "n" * 300 + "\n",
    lambda t: t + 'name: "a/../../b"\n',
    lambda t: t + 'name: "x\\0y"\n',
    lambda t: t + "? [a, b]\n: 1\n",
    lambda t: t + "seed: !!python/object:os.system 1\n",
    lambda t: t + "train: {epochs: 1}\ntrain: {epochs: 2}\n",
    lambda t: t + 'out_dir: "\\ud800x"\n',
    lambda t: t + 'data: {source: csv, path: "a\\0b", labels: [y]}\n',
    lambda t: t + "data: {source: csv, path: ~nosuchuser/x.csv, labels: [y]}\n",
    lambda t: t + "\t\x00\xff",
    lambda t: t[: len(t) // 2],
]


VALID: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["run", "a.b-c_1", "x" * 100]),
    "seed": st.integers(0, 2**31),
    "device": st.sampled_from(["cpu", "auto"]),
    "activation": st.sampled_from(["relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu"]),
    "dropout": st.sampled_from([0.0, 0.1, 0.5]),
    "hidden_sizes": st.lists(st.integers(1, 16), max_size=3),
    "epochs": st.integers(1, 2),
    "batch_size": st.sampled_from([1, 3, 8, 1000]),
    "lr": st.sampled_from([1e-4, 0.01, 0.1, 10.0, 1e6]),
    "optimizer": st.sampled_from(["adam", "adamw", "sgd"]),
    "weight_decay": st.sampled_from([0.0, 0.01]),
    "momentum": st.sampled_from([0.0, 0.9]),
    "pos_weight": st.sampled_from([None, "auto", [2.0]]),
    "precision": st.sampled_from(["fp32", "bf16"]),
    "normalize": st.sampled_from(["standard", "none"]),
    "val_fraction": st.sampled_from([0.0, 0.2, 0.5]),
}


@st.composite
def near_valid_configs(draw: st.DrawFn, data_paths: list[str]) -> dict[str, Any]:
    """A config that trains quickly as it is, with up to two keys changed."""
    if draw(st.booleans()):
        data: dict[str, Any] = {"source": "random", "n_samples": 40, "n_features": 3}
    else:
        data = {"source": "csv", "path": data_paths[0], "labels": ["y"]}
    cfg: dict[str, Any] = {
        "data": data,
        "model": {"hidden_sizes": [4]},
        "train": {"epochs": 1, "batch_size": 8},
    }
    plausible = st.one_of(small_ints, floats, words)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        section = draw(st.sampled_from(["", "data", "model", "train"]))
        key = draw(st.sampled_from(KEYS[section]))
        valid = VALID.get(key, plausible)
        value = draw(st.one_of(valid, valid, SENSIBLE.get(key, plausible), values))
        if key == "epochs" and isinstance(value, int) and value > 3:
            value = 3
        target = cfg if section == "" else cfg.get(section)
        if isinstance(target, dict):
            target[key] = value
    return cfg


@st.composite
def config_texts(draw: st.DrawFn, data_paths: list[str]) -> str:
    if draw(st.sampled_from([True, True, True, False])):
        return to_yaml(draw(near_valid_configs(data_paths)))
    text = to_yaml(draw(config_dicts(data_paths)))
    return str(draw(st.sampled_from(MUTATIONS))(text))


# ---------------------------------------------------------------------------------------------
# data files

CELLS = [
    "0", "1", "2", "-1", "0.5", "1e-3", "3.4028235e38", "-3.4028235e38", "1e39", "", "nan",
    "inf", "-inf", "abc", "yes", "no", "true", "FALSE", '"1"', '"a,b"', '"x\ny"', "1,5",
    " 1 ", "0x10", "1_0", "\u00e9", "9" * 400,
]  # fmt: skip
LABELS = ["0", "1", "0", "1", "2", "", "yes", "0.5", "true", "nan"]


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["clean"] * 4 + ["table"] * 5 + ["binary", "gzip", "latin1", "empty", "parquet"]
        )
    )
    if kind == "binary":
        return bytes(draw(st.binary(min_size=1, max_size=300)))
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"a,b,y\n", b"\xef\xbb\xbf"]))
    if kind == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.table({"a": [1.0], "b": [2.0], "y": [1]}), buf)
        return buf.getvalue()
    header = draw(
        st.sampled_from(
            [["a", "b", "y"], ["b", "a", "y"], ["a", "y"], ["a", "b", "y", "id"], ["a", "a", "y"],
             ["", "a", "b", "y"], ['"a\nb"', "b", "y"], ["a", "b", "Y"]]
        )
    )  # fmt: skip
    rows = []
    if kind == "clean":  # plain numbers and 0/1 labels: it should train
        header = ["a", "b", "y"]
        for i in range(draw(st.integers(4, 40))):
            a, b = draw(st.floats(-1e6, 1e6)), draw(st.floats(-5, 5))
            rows.append(f"{a!r},{b!r},{i % 2}")
        return ("\n".join(["a,b,y", *rows]) + "\n").encode()
    for _ in range(draw(st.integers(0, 25))):
        cells = [draw(st.sampled_from(CELLS)) for _ in header]
        if "y" in header:
            cells[header.index("y")] = draw(st.sampled_from(LABELS))
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]  # a short row
        elif draw(st.integers(0, 19)) == 0:
            cells.append("extra")
        rows.append(",".join(cells))
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    text = "\n".join([sep.join(header), *(r.replace(",", sep) for r in rows)])
    text += draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))
    if kind == "gzip":
        return gzip.compress(text.encode())
    if kind == "latin1":
        return ("caf\u00e9," + text).encode("latin-1", "replace")
    return text.encode()


ARROW_COLUMNS = [
    lambda n: pa.array(np.linspace(-1, 1, n)),
    lambda n: pa.array(np.arange(n, dtype=np.int64)),
    lambda n: pa.array([None] * n, pa.float64()),
    lambda n: pa.array([1.0 if i % 3 else None for i in range(n)]),
    lambda n: pa.array([float("nan")] * n),
    lambda n: pa.array([3.4028235e38] * n),
    lambda n: pa.array([1e300] * n),
    lambda n: pa.array([str(i) for i in range(n)]),
    lambda n: pa.array(["x"] * n),
    lambda n: pa.array([i % 2 == 0 for i in range(n)]),
    lambda n: pa.array([[1.0]] * n),
    lambda n: pa.array(np.arange(n).astype("datetime64[s]")),
    lambda n: pa.array([b"\x00\xff"] * n),
    lambda n: pa.array(["a", "b"] * (n // 2) + ["a"] * (n % 2)).dictionary_encode(),
]
ARROW_LABELS = [
    lambda n: pa.array([i % 2 for i in range(n)], pa.int8()),
    lambda n: pa.array([i % 2 == 1 for i in range(n)]),
    lambda n: pa.array([2] * n),
    lambda n: pa.array([None] * n, pa.int64()),
    lambda n: pa.array([float(i % 2) for i in range(n)]),
    lambda n: pa.array(["0", "1"] * (n // 2) + ["0"] * (n % 2)),
]


@st.composite
def parquet_bytes(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 30))
    cols: dict[str, Any] = {}
    for name in draw(st.sampled_from([["a", "b", "y"], ["a", "y"], ["b", "a", "y"], ["a", "b"]])):
        pool = ARROW_LABELS if name == "y" else ARROW_COLUMNS
        cols[name] = draw(st.sampled_from(pool))(n)
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return buf.getvalue()


@st.composite
def npz_bytes(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 20))
    f = draw(st.sampled_from([2, 2, 1, 3, 0]))
    dtype = draw(st.sampled_from(["float32", "float64", "int64", "bool", "float16", "U3", "c8"]))
    shape = draw(st.sampled_from([(n, f), (n, f), (n,), (n, f, 1), ()]))
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    with np.errstate(over="ignore", invalid="ignore"):
        x = (rng.normal(size=shape) * draw(st.sampled_from([1.0, 1e39, 1e300]))).astype(dtype)
    if draw(st.booleans()) and x.dtype.kind == "f" and x.size:
        x.flat[0] = draw(st.sampled_from([np.nan, np.inf]))
    arrays: dict[str, Any] = {"X": x}
    y_kind = draw(st.sampled_from(["ok", "ok", "two", "bad", "missing", "short"]))
    if y_kind != "missing":
        m = n - 1 if y_kind == "short" and n else n
        y = rng.integers(0, 2 if y_kind != "bad" else 4, size=(m,) if y_kind != "two" else (m, 2))
        arrays["y"] = y
    if draw(st.booleans()):
        arrays["feature_names"] = np.array(draw(st.sampled_from([["a", "b"], ["b", "a"], ["a"]])))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# checkpoints


def split_safetensors(raw: bytes) -> tuple[dict[str, Any], bytes]:
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join_safetensors(header: Any, body: bytes, length: int | None = None) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text) if length is None else length) + text + body


def _set_path(obj: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return value
    key, rest = path[0], path[1:]
    if (isinstance(obj, dict) and key in obj) or (
        isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj)
    ):
        obj[key] = _set_path(obj[key], rest, value)
    return obj


def _paths(obj: Any, prefix: list[Any] | None = None) -> list[list[Any]]:
    prefix = prefix or []
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, [*prefix, k])
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += _paths(v, [*prefix, i])
    return out


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), small_ints, hostile_ints, floats, words,
        st.just(HUGE_INT), st.just("1e999"),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
    max_leaves=5,
)  # fmt: skip


@st.composite
def tampered_checkpoints(draw: st.DrawFn, raw: bytes) -> bytes:
    header, body = split_safetensors(raw)
    kind = draw(
        st.sampled_from(
            ["meta", "meta", "meta", "dtype", "shape", "offsets", "drop", "truncate", "flip",
             "length", "deep", "version", "values"]
        )
    )  # fmt: skip
    meta = header["__metadata__"]
    if kind == "meta":
        info = json.loads(meta["sigmoidnet"])
        path = draw(st.sampled_from(_paths(info)))
        info = _set_path(info, path, draw(json_values))
        text = json.dumps(info, allow_nan=True)
        if draw(st.booleans()):
            text = text.replace('"' + HUGE_INT + '"', HUGE_INT).replace('"1e999"', "1e999")
        meta["sigmoidnet"] = text
        return join_safetensors(header, body)
    names = sorted(k for k in header if k != "__metadata__")
    name = draw(st.sampled_from(names))
    if kind == "dtype":
        header[name]["dtype"] = draw(st.sampled_from(["F64", "I8", "BF16", "BOOL", "F16", "U8"]))
    elif kind == "shape":
        shape = header[name]["shape"]
        header[name]["shape"] = draw(
            st.sampled_from([shape[::-1], [*shape, 1], [], [2 * 10**8], [0], [-1]])
        )
    elif kind == "offsets":
        a, b = header[name]["data_offsets"]
        header[name]["data_offsets"] = draw(st.sampled_from([[a, b + 4], [b, a], [0, 10**12]]))
    elif kind == "drop":
        del header[name]
    elif kind == "truncate":
        whole = join_safetensors(header, body)
        return whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "flip":
        whole = bytearray(join_safetensors(header, body))
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(whole) - 1))
            whole[i] ^= draw(st.integers(1, 255))
        return bytes(whole)
    elif kind == "length":
        return join_safetensors(header, body, draw(st.sampled_from([0, 2**40, 2**64 - 1, 7])))
    elif kind == "deep":
        meta["sigmoidnet"] = "[" * 100000 + "]" * 100000
    elif kind == "version":
        meta["format_version"] = draw(st.sampled_from(["0", "3", "x", "1e3", "-1", HUGE_INT]))
    elif kind == "values":
        lo, hi = header[name]["data_offsets"]
        patch = struct.pack("<f", draw(st.sampled_from([float("nan"), float("inf"), -1.0, 0.0])))
        body = body[:lo] + patch * ((hi - lo) // 4) + body[hi:]
    return join_safetensors(header, body)
