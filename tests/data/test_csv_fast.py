"""sigmoidnet.data.formats.csv_fast and its C parser: exact float32 values, the accepted
dialect, deferral to pyarrow for everything else, and thread ranges. An independent exact
oracle (Fractions) checks the rounding; pyarrow's own float32 parse is the reference for
whole files."""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from sigmoidnet.config import config_from_dict
from sigmoidnet.data import load_dataset
from sigmoidnet.data.formats import csv_fast as csvfast
from sigmoidnet.data.split import keep_rows_inplace as _keep_rows_inplace
from tests.conftest import write_learnable_csv

# The extension is optional for users without a C compiler; this project's install builds it,
# and its absence fails here unless SIGMOIDNET_NO_CEXT=1 says it is meant (then these skip).
NO_CEXT = os.environ.get("SIGMOIDNET_NO_CEXT") == "1"
pytestmark = pytest.mark.skipif(
    NO_CEXT and not csvfast.available(), reason="built without the C extension"
)

# ---------------------------------------------------------------------------------------------
# helpers


def f32_bits(v: float) -> int:
    return int(struct.unpack("<I", struct.pack("<f", v))[0])


def from_bits(b: int) -> float:
    return float(struct.unpack("<f", struct.pack("<I", b))[0])


def exact_f32(text: str) -> int:
    """Bits of the float32 nearest to the decimal `text` (ties to even), found exactly."""
    q = abs(Fraction(text))
    guess = f32_bits(float(np.float32(float(q))))
    candidates = [b for b in (guess - 1, guess, guess + 1) if 0 <= b < 0x7F800000]
    best = min(candidates, key=lambda b: (abs(Fraction(from_bits(b)) - q), b & 1))
    return best | (0x80000000 if text.startswith("-") else 0)


def read(path: Path, names: list[str], feats: list[str], labs: list[str], workers: int = 1) -> Any:
    return csvfast.read_numeric(str(path), names, feats, labs, workers)


def one_column_file(tmp_path: Path, values: list[str], name: str = "v.csv") -> Path:
    path = tmp_path / name
    path.write_text("v,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(values)))
    return path


def arrow_f32(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    types = {n: pa.float32() for n in names}
    t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
    return {n: t.column(n).to_numpy() for n in names}


# ---------------------------------------------------------------------------------------------
# values


def test_the_extension_is_built() -> None:
    assert csvfast.available(), "sigmoidnet._csvparse was not built (is there a C compiler?)"


def decimal_strings(rng: np.random.Generator) -> list[str]:
    out: list[str] = []
    bits = rng.integers(0, 0x7F800000, size=3000, dtype=np.int64)
    signs = rng.integers(0, 2, size=3000) << 31
    for b in (bits | signs).tolist():
        v = from_bits(int(b))
        out += [repr(float(np.float32(v))), f"{v:.9g}", f"{v:.17g}", f"{v:.25e}"]
    for d in rng.standard_normal(3000) * 10.0 ** rng.integers(-30, 30, 3000):
        out += [repr(float(d)), f"{d:.12f}", f"{d:.20g}"]
    # exact float32 midpoints (the double-rounding trap) and a hair on either side
    for b in rng.integers(0x3A800000, 0x49800000, size=1500).tolist():  # ~1e-3 .. 1e6
        lo, hi = Fraction(from_bits(b)), Fraction(from_bits(b + 1))
        mid = (lo + hi) / 2
        text = _exact_decimal(mid)
        out += [text, text + "0000001", _exact_decimal(mid - Fraction(1, 10**40))[:60]]
        # the shortest decimal of the midpoint's double (<= 17 digits) is near but not on
        # the midpoint, while its nearest double *is* the midpoint: that double must not
        # decide the float32
        out += [repr(float(mid)), "-" + repr(float(mid))]
    out += [
        "0", "-0", "+0", "0.0", "-0.000", "1", "+5", ".5", "-.5", "5.", "1.e3", "007",
        "1e-45", "7e-46", "7.1e-46", "1.4e-45", "1.17549435e-38", "1.1754942e-38",
        "3.4028235e38", "3.40282356e38", "123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000001401298464324817",
        "1E+05", "1e0", "2.5e-0", "9007199254740993", "16777217", "16777219",
        "0.1", "0.2", "0.3", "1e22", "1e23", "1e-22", "1e-23", "4.35", "0e999999",
    ]  # fmt: skip
    return out


def _exact_decimal(q: Fraction) -> str:
    """The finite decimal expansion of a dyadic fraction."""
    sign = "-" if q < 0 else ""
    q = abs(q)
    k = 0
    while q.denominator != 1:
        q *= 10
        k += 1
    digits = str(q.numerator).rjust(k + 1, "0")
    return sign + (digits[:-k] + "." + digits[-k:] if k else digits)


def test_values_are_correctly_rounded_float32(tmp_path: Path) -> None:
    values = [v for v in decimal_strings(np.random.default_rng(0)) if len(v) < 120]
    path = one_column_file(tmp_path, values)
    out = read(path, ["v", "y"], ["v"], ["y"])
    assert out is not None
    x, y = out
    assert x.shape == (len(values), 1) and y.shape == (len(values), 1)
    got = x[:, 0].view(np.uint32).tolist()
    want = [exact_f32(v) for v in values]
    wrong = [(v, hex(g), hex(w)) for v, g, w in zip(values, got, want, strict=True) if g != w]
    assert not wrong, wrong[:5]
    # and pyarrow (fast_float) agrees, so both loader paths give the same arrays
    assert np.array_equal(arrow_f32(path, ["v"])["v"].view(np.uint32), x[:, 0].view(np.uint32))
    assert y[:, 0].tolist() == [i % 2 for i in range(len(values))]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('"1.5",0\n', "quoted number"),
        ("1.5 ,0\n", "space"),
        (" 1.5,0\n", "space"),
        ("abc,0\n", "text"),
        (",0\n", "empty cell"),
        ("nan,0\n", "nan"),
        ("inf,0\n", "inf"),
        ("-inf,0\n", "inf"),
        ("1e39,0\n", "float32 overflow"),
        ("3.4028236e38,0\n", "float32 overflow"),
        ("1e,0\n", "no exponent digits"),
        ("1e+,0\n", "no exponent digits"),
        (".,0\n", "no digits"),
        ("-,0\n", "no digits"),
        ("0x10,0\n", "hex"),
        ("1_000,0\n", "underscore"),
        ("1.5,0\r2,1\n", "bare CR line end"),
        ("1.5\n", "too few fields"),
        ("1.5,0,7\n", "too many fields"),
        ("1.5,true\n", "boolean label"),
        ("1" * 130 + ",0\n", "token too long for the exact fallback"),
        ("1.5;0\n", "other delimiter"),
    ],
)
def test_anything_but_plain_numbers_defers_to_pyarrow(tmp_path: Path, body: str, why: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text("v,y\n1,0\n" + body + "2,1\n")
    assert read(path, ["v", "y"], ["v"], ["y"]) is None, why


@pytest.mark.parametrize("d", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('"1.5"D0\n', "quoted number"),
        ("1,5D0\n", "decimal comma"),
        ("1.5 D0\n", "space"),
        (" 1.5D0\n", "space"),
        ("1.5\vD0\n", "vertical tab"),
        ("1.5\tD0\n", "tab (a delimiter only when it is the delimiter)"),
        ("DD0\n", "empty cell"),
        ("1.5D0D\n", "too many fields"),
        ("1.5\n", "too few fields"),
        ("NAD0\n", "missing-value token"),
        ("nanD0\n", "nan"),
    ],
)
def test_anything_but_plain_numbers_defers_under_any_delimiter(
    tmp_path: Path, d: str, body: str, why: str
) -> None:
    if d == "\t" and "\t" in body:
        body = body.replace("\t", "\t\t")  # an empty cell then
    path = tmp_path / "d.csv"
    path.write_text(f"v{d}y\n1{d}0\n" + body.replace("D", d) + f"2{d}1\n")
    assert csvfast.read_numeric(str(path), ["v", "y"], ["v"], ["y"], 1, d) is None, why
    path.write_text(f"v{d}y\n1{d}0\n2{d}1\n")
    assert csvfast.read_numeric(str(path), ["v", "y"], ["v"], ["y"], 1, d) is not None


def test_the_c_parser_takes_the_four_delimiters_only() -> None:
    from sigmoidnet import _csvparse

    dest = np.array([0, -2], dtype=np.int32)
    for d in ",;\t|":
        src = f"1.5{d}0\n-2{d}1\n".encode()
        x = np.zeros((2, 1), dtype=np.float32)
        y = np.zeros((2, 1), dtype=np.float32)
        c_parse: Any = _csvparse.parse
        assert c_parse(src, 0, len(src), 2, dest, x, 1, y, 1, 2, False, d) == (2, -1)
        assert x[:, 0].tolist() == [1.5, -2.0] and y[:, 0].tolist() == [0.0, 1.0]
        if d != ",":  # the default is the comma
            assert _csvparse.parse(src, 0, len(src), 2, dest, x, 1, y, 1, 2, False)[1] == 3
    for bad in (":", "\n", '"', "1"):
        with pytest.raises(ValueError, match="delim"):
            c_parse(b"1:0\n", 0, 4, 2, dest, x, 1, y, 1, 2, False, bad)
    with pytest.raises(TypeError):
        c_parse(b"1:0\n", 0, 4, 2, dest, x, 1, y, 1, 2, False, ",,")


def test_quotes_in_a_skipped_column_defer(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,v,y\nr1,1,0\n"r,2",2,1\n')
    assert read(path, ["id", "v", "y"], ["v"], ["y"]) is None
    path.write_text("id,v,y\nr1,1,0\nr2,2,1\n")  # unquoted text there is fine: never parsed
    out = read(path, ["id", "v", "y"], ["v"], ["y"])
    assert out is not None and out[0][:, 0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", ["d.csv.gz", "d.csv.bz2", "d.csv.zst", "d.csv.lz4"])
def test_compressed_files_are_left_to_pyarrow(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("v,y\n1,0\n")  # (not really compressed: the name decides, as for pyarrow)
    assert read(path, ["v", "y"], ["v"], ["y"]) is None


def test_empty_and_header_only_files_defer(tmp_path: Path) -> None:
    for text in ["", "v,y", "v,y\n", "v,y\n\n\r\n"]:
        path = tmp_path / "e.csv"
        path.write_text(text)
        assert read(path, ["v", "y"], ["v"], ["y"]) is None, repr(text)


# ---------------------------------------------------------------------------------------------
# layout: line ends, empty lines, column routing, ranges


def test_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"v,y\r\n1,0\r\n2.5,1\n-3,0")
    out = read(path, ["v", "y"], ["v"], ["y"])
    assert out is not None
    x, y = out
    assert x[:, 0].tolist() == [1.0, 2.5, -3.0] and y[:, 0].tolist() == [0.0, 1.0, 0.0]
    ref = pacsv.read_csv(path)
    assert ref.num_rows == 3


@pytest.mark.parametrize("end", [b"\n\n", b"\r\n\r\n", b"\n\r\n\n\n"])
def test_empty_lines_that_end_the_file_are_ignored(tmp_path: Path, end: bytes) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"v,y\n1,0\n2.5,1" + end)
    out = read(path, ["v", "y"], ["v"], ["y"])
    assert out is not None and out[0][:, 0].tolist() == [1.0, 2.5]
    batches = list(csvfast.iter_numeric(str(path), ["v", "y"], ["v"], ["y"], 1, 1))
    assert [b[0][:, 0].tolist() for b in batches] == [[1.0], [2.5]]


@pytest.mark.parametrize(
    "body", [b"1,0\n\n2.5,1\n", b"1,0\r\n\r\n2.5,1\r\n", b"\n1,0\n", b"1,0\n\n\n\n2,1"]
)
def test_an_empty_line_between_rows_defers(tmp_path: Path, body: bytes) -> None:
    # pyarrow's reader then refuses it (`row N: expected 2 columns, got an empty line`)
    path = tmp_path / "l.csv"
    path.write_bytes(b"v,y\n" + body)
    assert read(path, ["v", "y"], ["v"], ["y"]) is None
    it = csvfast.iter_numeric(str(path), ["v", "y"], ["v"], ["y"], 1, 1)
    got = []
    with pytest.raises(StopIteration) as end:
        while True:
            got.append(next(it))
    assert end.value.value is False and len(got) <= 1  # the rows before it, then pyarrow


def test_columns_are_routed_by_name_in_the_requested_order(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b,skip,c,l1,l2\n1,2,x,3,1,0\n4,5,y,6,0,1\n")
    out = read(path, ["a", "b", "skip", "c", "l1", "l2"], ["c", "a", "b"], ["l2", "l1"])
    assert out is not None
    x, y = out
    assert x.tolist() == [[3, 1, 2], [6, 4, 5]]
    assert y.tolist() == [[0, 1], [1, 0]]
    assert x.flags.c_contiguous and y.flags.c_contiguous and x.dtype == np.float32


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_thread_ranges_give_the_same_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(csvfast, "_RANGE_BYTES", 64)  # many small ranges
    rng = np.random.default_rng(1)
    lines = []
    for i in range(500):
        lines.append(f"{rng.standard_normal():.7g},{rng.standard_normal():.5e},{i % 2}\n")
    lines.append("\n" * 200)  # empty lines at the end: whole ranges of them, ignored
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(lines))
    one = read(path, ["a", "b", "y"], ["a", "b"], ["y"], workers=1)
    many = read(path, ["a", "b", "y"], ["a", "b"], ["y"], workers=workers)
    assert one is not None and many is not None
    assert one[0].shape == (500, 2)
    assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1])
    ref = arrow_f32(path, ["a", "b", "y"])
    assert np.array_equal(one[0][:, 1], ref["b"]) and np.array_equal(one[1][:, 0], ref["y"])


@pytest.mark.parametrize("workers", [1, 3, 5])
@pytest.mark.parametrize("blank", ["\n", "\n" * 150, "\r\n" * 40])
def test_empty_lines_between_rows_defer_across_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, blank: str
) -> None:
    # wherever the range cuts fall: at the end of one range, or filling whole ranges
    monkeypatch.setattr(csvfast, "_RANGE_BYTES", 64)
    for at in (1, 37, 150, 299):
        path = tmp_path / "t.csv"
        path.write_text("a,y\n" + "1.5,0\n" * at + blank + "2,1\n" * (300 - at))
        assert read(path, ["a", "y"], ["a"], ["y"], workers=workers) is None, at


def test_a_bad_value_in_a_later_range_defers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfast, "_RANGE_BYTES", 64)
    path = tmp_path / "b.csv"
    path.write_text("a,y\n" + "1.5,0\n" * 300 + "oops,1\n" + "2,1\n" * 10)
    assert read(path, ["a", "y"], ["a"], ["y"], workers=4) is None


# ---------------------------------------------------------------------------------------------
# through load_dataset: the fast path and pyarrow agree


def csv_config(path: Path, **data: Any) -> Any:
    d: dict[str, Any] = {"source": "csv", "path": str(path), "labels": ["a", "b"]}
    d.update(data)
    return config_from_dict({"seed": 3, "data": d, "model": {}}, "t.yaml")


@pytest.mark.parametrize("normalize", ["none", "standard"])
@pytest.mark.parametrize("val_fraction", [0.0, 0.25])
def test_load_dataset_is_the_same_with_and_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, normalize: str, val_fraction: float
) -> None:
    path = write_learnable_csv(tmp_path / "l.csv", n=300)
    feats = [f"f{i}" for i in range(6)]
    cfg = csv_config(path, features=feats, normalize=normalize, val_fraction=val_fraction)
    calls: list[Any] = []
    real = csvfast.read_numeric

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(out := real(*args, **kw))
        return out

    monkeypatch.setattr(csvfast, "read_numeric", spy)
    fast = load_dataset(cfg.data, cfg.seed)
    assert calls and calls[0] is not None  # the fast path did read it
    monkeypatch.setattr(csvfast, "_csvparse", None)
    slow = load_dataset(cfg.data, cfg.seed)
    assert calls[-1] is None
    for name in ("mean_", "std_"):  # the fitted preprocessing
        m, n = getattr(fast.preprocessor, name), getattr(slow.preprocessor, name)
        assert (m is None) == (n is None) and (m is None or np.array_equal(m, n)), name
    for name in ("x_train", "y_train", "x_val", "y_val"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert bool((a.view(-1) == b.view(-1)).all()) or a.numel() == 0, name
            assert a.is_contiguous(), name
    assert fast.feature_names == slow.feature_names == [f"f{i}" for i in range(6)]
    assert fast.description == slow.description


def test_bad_labels_get_pyarrows_message(tmp_path: Path) -> None:
    from sigmoidnet.errors import DataError

    path = tmp_path / "b.csv"
    path.write_text("x,a,b\n1,0,1\n2,1,2\n3,0,0\n")
    with pytest.raises(DataError) as info:
        load_dataset(csv_config(path, val_fraction=0.0).data, 0)
    assert "column 'b', row 2" in info.value.message and "0 or 1" in info.value.message


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_keep_rows_inplace_equals_boolean_indexing(step: int) -> None:
    rng = np.random.default_rng(step)
    x = rng.standard_normal((257, 3)).astype(np.float32)
    keep = rng.random(257) < 0.7
    want = x[keep].copy()
    got = _keep_rows_inplace(x, keep, step=step)
    assert np.array_equal(got, want) and got.flags.c_contiguous
    assert np.shares_memory(got, x)


# ---------------------------------------------------------------------------------------------
# streaming (eval/predict): iter_batches on the fast path, and the hand-over to pyarrow


def batches_of(path: Path, labels: list[str] | None, batch_rows: int, **kw: Any) -> list[Any]:
    from sigmoidnet.data import iter_batches

    return list(iter_batches(str(path), ["a", "b"], labels, batch_rows=batch_rows, **kw))


def same_batches(one: list[Any], two: list[Any]) -> None:
    assert [(len(b), b.first_row) for b in one] == [(len(b), b.first_row) for b in two]
    for p, q in zip(one, two, strict=True):
        assert np.array_equal(p.x.view(np.uint32), q.x.view(np.uint32))
        assert (p.y is None) == (q.y is None)
        if p.y is not None:
            assert np.array_equal(p.y, q.y)


def plain_file(tmp_path: Path, n: int, bad: dict[int, str] | None = None) -> Path:
    rng = np.random.default_rng(5)
    rows = [f"{rng.standard_normal():.8g},{rng.standard_normal():.6e},{i % 2}" for i in range(n)]
    for i, text in (bad or {}).items():
        rows[i] = text
    path = tmp_path / "s.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def spy_stream(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    got: list[Any] = []
    real = csvfast.iter_numeric

    def spy(*args: Any, **kw: Any) -> Any:
        gen = real(*args, **kw)
        while True:
            try:
                item = next(gen)
            except StopIteration as end:
                got.append(end.value)
                return end.value
            got.append(len(item[0]))
            yield item

    monkeypatch.setattr(csvfast, "iter_numeric", spy)
    return got


@pytest.mark.parametrize("require_labels", [True, False])  # eval; predict (labels skipped)
def test_streaming_matches_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, require_labels: bool
) -> None:
    path = plain_file(tmp_path, 103)
    ended = spy_stream(monkeypatch)
    fast = batches_of(path, ["y"], 10, require_labels=require_labels)
    assert ended == [10] * 10 + [3, True]  # every row from the C parser
    assert all((b.y is None) != require_labels for b in fast)
    monkeypatch.setattr(csvfast, "_csvparse", None)
    same_batches(fast, batches_of(path, ["y"], 10, require_labels=require_labels))
    assert [b.first_row for b in fast] == list(range(1, 104, 10))


def test_streaming_hands_over_to_pyarrow_mid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # row 37 is a quoted number: fine for pyarrow, not plain; the rows before it come from C
    path = plain_file(tmp_path, 80, {36: '"1.5",2.5,0'})
    ended = spy_stream(monkeypatch)
    mixed = batches_of(path, ["y"], 8)
    assert ended == [8, 8, 8, 8, False]  # rows 1-32 from C, the rest from pyarrow
    monkeypatch.setattr(csvfast, "_csvparse", None)
    same_batches(mixed, batches_of(path, ["y"], 8))
    assert sum(len(b) for b in mixed) == 80


def test_streaming_errors_name_the_right_row(tmp_path: Path) -> None:
    from sigmoidnet.errors import DataError

    for bad, message in [
        ("1,oops,0", "column 'b', row 57: 'oops' is not a number"),
        ("1,2,7", "column 'y', row 57: label must be 0 or 1, got 7"),
        ("1,2", "row 57: expected 3 columns, got 2"),
    ]:
        path = plain_file(tmp_path, 90, {56: bad})
        with pytest.raises(DataError) as info:
            batches_of(path, ["y"], 10)
        assert info.value.message.endswith(message), info.value.message


def test_streaming_with_keep_columns_uses_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.csv"
    path.write_text("id,a,b\n007,1,2\n010,3,4\n")
    ended = spy_stream(monkeypatch)
    (b,) = batches_of(path, None, 10, keep=["id"])
    assert ended == [] and b.keep is not None and b.keep.column("id").to_pylist() == ["007", "010"]


# ---------------------------------------------------------------------------------------------
# regressions found in review


def test_an_exponent_cancelled_by_a_long_run_of_zeros_is_not_trusted(tmp_path: Path) -> None:
    # 1e900000 and 2.5e(1234567-123456) overflow; the capped exponent must not make them 1.0
    for cell in ["0." + "0" * 99999 + "1e1000000", "-0." + "0" * 123455 + "25e1234567"]:
        path = tmp_path / "e.csv"
        path.write_text(f"v,y\n1,0\n{cell},1\n")
        assert read(path, ["v", "y"], ["v"], ["y"]) is None
    path.write_text("v,y\n" + "0." + "0" * 200 + "1,1\n")  # long but small: pyarrow's to read
    assert read(path, ["v", "y"], ["v"], ["y"]) is None


@pytest.mark.parametrize(
    "text",
    [
        b"f,a\r1.5,0\n2.5,1\n3.5,0\n",  # header ended by a bare CR
        b"f,a\r1.5,0\r\n2.5,1\r\n",
        b"\n5,1\n1.5,0\n2.5,1\n",  # empty line before the header
        b"\r\n5,1\n1.5,0\n",
    ],
)
def test_headers_pyarrow_reads_differently_are_left_to_it(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(text)
    names = pacsv.read_csv(path).schema.names
    assert read(path, names, names[:1], names[1:]) is None
    assert list(csvfast.iter_numeric(str(path), names, names[:1], names[1:], 10, 1)) == []


def test_a_column_asked_for_twice_is_left_to_pyarrow(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,0\n")
    assert read(path, ["a", "y"], ["a", "a"], ["y"]) is None
