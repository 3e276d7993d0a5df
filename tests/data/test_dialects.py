"""CSV dialects: the delimiter (`,` `;` tab `|`, sniffed or named), the missing-value tokens,
and the C fast path under every delimiter, bit for bit against pyarrow. Tiny files."""

from __future__ import annotations

import bz2
import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from sigmoidnet.data import iter_batches
from sigmoidnet.data.formats import csv_fast, detect_format
from sigmoidnet.data.formats.csv import (
    DELIMITERS,
    MISSING_VALUES,
    CsvReader,
    csv_peek,
    sniff_delimiter,
)
from sigmoidnet.errors import ConfigError, DataError
from tests.data.util import csv_cfg, data_error, load, write


def raw_cfg(path: str, **data: Any) -> Any:
    """A CSV config that reads the values as they are (no standardization)."""
    return csv_cfg(path, normalize="none", **data)


# Error wording is checked through the streaming reader (eval, or predict without labels),
# which keeps the strict missing-value rule; the training loader may fill missing values.


def stream_x(path: str, features: list[str], keep: Sequence[str] = (), **kw: Any) -> np.ndarray:
    batches = list(iter_batches(path, features, ["y"], keep=keep, **kw))
    return np.concatenate([b.x for b in batches])


def stream_error(path: str, features: list[str], keep: Sequence[str] = (), **kw: Any) -> str:
    return data_error(lambda: stream_x(path, features, keep, **kw)).message


NO_CEXT = os.environ.get("SIGMOIDNET_NO_CEXT") == "1"
needs_cext = pytest.mark.skipif(
    NO_CEXT and not csv_fast.available(), reason="built without the C extension"
)

NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
each_delimiter = pytest.mark.parametrize("d", DELIMITERS, ids=list(NAMES.values()))


def table_text(d: str, rows: list[list[str]]) -> str:
    return "".join(d.join(r) + "\n" for r in rows)


def numeric_rows(d: str, n: int = 40) -> str:
    rng = np.random.default_rng(len(d) + ord(d))
    rows = [["a", "b", "y"]]
    for i in range(n):
        a, b = rng.standard_normal(2) * 10.0 ** rng.integers(-8, 8, 2)
        rows.append([f"{a:.9g}", f"{b:.17e}", str(i % 2)])
    return table_text(d, rows)


# ---------------------------------------------------------------------------------------------
# sniffing


@each_delimiter
def test_each_delimiter_is_sniffed(tmp_path: Path, d: str) -> None:
    path = write(tmp_path / "d.csv", numeric_rows(d))
    assert sniff_delimiter(path, path) == d
    reader = CsvReader(path)
    assert reader.delimiter == d and reader.columns == ["a", "b", "y"]
    assert reader.table(["a", "y"]).num_rows == 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # quoted fields holding other delimiters do not count
        ('a,b\n"x;y;z",1\n"p;q;r",2\n', ","),
        ('a;b\n"1,2,3";4\n"5,6";7\n', ";"),
        ('a|b\n"x\ty\tz"|1\n', "|"),
        ('a\tb\n"x,y,z;w"\t1\n', "\t"),
        # a quoted line break inside a field is one record
        ('a;b\n"one\ntwo, three";1\n4;5\n', ";"),
        # a tie on the number of fields goes to the first of , ; tab |
        ("a,b;c\n1,2;3\n", ","),
        # more fields win
        ("a;b;c,d\n1;2;3,4\n", ";"),
        # the header alone decides when there are no rows
        ("a;b;c\n", ";"),
        # nothing qualifies (a ragged row for every candidate): the comma
        ("a,b,c\n1,2\n", ","),
        ("abc\n1\n", ","),
        # empty lines before the header and after the rows, a BOM, CRLF line ends
        ("\ufeffa|b\r\n1|2\r\n\r\n", "|"),
        ("\n\na;b\n1;2\n", ";"),
    ],
)
def test_sniffing(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "s.csv", text)
    assert sniff_delimiter(path, path) == expected


def test_a_bom_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "\ufeffa|b\r\n1|2\r\n")
    assert CsvReader(path).columns == ["a", "b"]


@pytest.mark.parametrize("name", ["x.tsv", "x.TAB", "x.tsv.gz"])
def test_a_tsv_name_prefers_tab(tmp_path: Path, name: str) -> None:
    text = "a,b,c\td\n1,2,3\t4\n"  # the comma gives more fields
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert sniff_delimiter(str(path), str(path)) == "\t"
    other = write(tmp_path / "x.csv", text)
    assert sniff_delimiter(other, other) == ","
    # ... but only when tab qualifies
    plain = write(tmp_path / "y.tsv", "a,b\n1,2\n")
    assert sniff_delimiter(plain, plain) == ","


@pytest.mark.parametrize(
    ("name", "pack"), [("d.csv.gz", gzip.compress), ("d.csv.bz2", bz2.compress)]
)
def test_compressed_files_are_sniffed_decompressed(tmp_path: Path, name: str, pack: Any) -> None:
    path = tmp_path / name
    path.write_bytes(pack(numeric_rows(";").encode()))
    reader = CsvReader(str(path))
    assert reader.delimiter == ";" and reader.columns == ["a", "b", "y"]


def test_a_line_cut_by_the_end_of_the_sample_is_not_counted(tmp_path: Path) -> None:
    row = "1.25;2.5;0\n"
    n = (1 << 16) // len(row) + 50
    text = "a;b;y\n" + row * n
    cut = (1 << 16) - len("a;b;y\n")
    assert cut % len(row)  # the 64 KiB sample ends mid-line
    path = write(tmp_path / "long.csv", text)
    assert sniff_delimiter(path, path) == ";"
    # and a quoted field open at the cut
    text = "a;b\n" + '"x,y";1\n' * ((1 << 16) // 8 - 1) + '"' + "z," * 40 + '";2\n'
    path = write(tmp_path / "quoted.csv", text)
    assert sniff_delimiter(path, path) == ";"


def test_sniffing_refuses_what_sniff_refuses(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"PAR1" + bytes(100))
    with pytest.raises(DataError, match="Parquet"):
        sniff_delimiter(str(path), str(path))


# ---------------------------------------------------------------------------------------------
# a named delimiter, and the one-column header


def test_a_named_delimiter_overrides_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "a,b;c\n1,2;3\n")
    assert CsvReader(path).columns == ["a", "b;c"]
    reader = CsvReader(path, ";")
    assert reader.delimiter == ";" and reader.columns == ["a,b", "c"]
    assert reader.table(["c"]).column("c").to_pylist() == [3.0]
    assert csv_peek(path, path, delimiter=";")[0] == ["a,b", "c"]
    assert csv_peek(path, path)[0] == ["a", "b;c"]


@pytest.mark.parametrize("bad", ["", ":", ",,", "\n", '"'])
def test_a_delimiter_that_is_not_one_of_the_four_is_refused(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path / "n.csv", "a,b\n1,2\n")
    with pytest.raises(ConfigError, match=r"data\.delimiter"):
        CsvReader(path, bad)


@pytest.mark.parametrize(
    ("text", "named", "message"),
    [
        (
            "a;b;c\n1;2;3\n4;5\n",  # ragged: no candidate qualifies
            None,
            "the header has one column, 'a;b;c': if the file is separated by ';', "
            'set data.delimiter: ";"',
        ),
        (
            "a\tb\tc\n1\t2\t3\n",
            ",",
            "the header has one column, 'a\\tb\\tc': if the file is separated by tabs, "
            'set data.delimiter: "\\t"',
        ),
        (
            "a|b\n1|2\n",
            ";",
            "the header has one column, 'a|b': if the file is separated by '|', "
            'set data.delimiter: "|"',
        ),
        (
            "a,b,c\n1,2,3\n",
            "|",
            "the header has one column, 'a,b,c': if the file is separated by ',', "
            'set data.delimiter: ","',
        ),
        (  # two candidates in the name: the one that splits it most
            "x|y;a;b\n1;2;3\n1;2\n",
            None,
            "the header has one column, 'x|y;a;b': if the file is separated by ';', "
            'set data.delimiter: ";"',
        ),
    ],
)
def test_a_one_column_header_names_the_delimiter_to_set(
    tmp_path: Path, text: str, named: str | None, message: str
) -> None:
    path = write(tmp_path / "one.csv", text)
    err = data_error(lambda: CsvReader(path, named))
    assert err.message == f"{path}: {message}"


def test_a_plain_one_column_file_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "a\n1\n2\n")
    reader = CsvReader(path)
    assert reader.columns == ["a"] and reader.delimiter == ","
    # a quoted comma in the name is the chosen delimiter, not another one
    path = write(tmp_path / "q.csv", '"a,b"\n1\n')
    assert CsvReader(path).columns == ["a,b"]


def test_a_long_one_column_name_is_shortened(tmp_path: Path) -> None:
    name = ";".join(f"column{i}" for i in range(40))
    path = write(tmp_path / "one.csv", name + "\n" + "1;" * 39 + "\n")
    err = data_error(lambda: CsvReader(path, ","))
    shown = name[:57] + "..."
    assert err.message == (
        f"{path}: the header has one column, {shown!r}: if the file is separated by ';', "
        'set data.delimiter: ";"'
    )


# ---------------------------------------------------------------------------------------------
# real-world forms


def test_r_write_csv(tmp_path: Path) -> None:
    # write.csv(df): a quoted header whose first column, the row names, is named ""
    text = (
        '"","x1","x2","name","y"\n'
        '"1",0.5,-1.25,"Smith, J.",1\n'
        '"2",1.5,2,"O\'Brien; P.",0\n'
        '"3",NA,3e-2,"a ""quoted"" word",1\n'
    )
    path = write(tmp_path / "r.csv", text)
    reader = CsvReader(path)
    assert reader.delimiter == "," and reader.columns == ["", "x1", "x2", "name", "y"]
    t = reader.table(reader.columns).to_pydict()
    assert t[""] == [1.0, 2.0, 3.0]
    assert t["x1"] == [0.5, 1.5, None]  # NA: missing
    assert t["name"] == ["Smith, J.", "O'Brien; P.", 'a "quoted" word']
    x = stream_x(path, ["x2"], keep=["", "x1", "name"])
    assert x[:, 0].tolist() == [-1.25, 2.0, np.float32(0.03)]
    msg = stream_error(path, ["x1", "x2"], keep=["", "name"])
    assert msg == f"{path}: column 'x1', row 3: missing value"


def test_european_semicolon_files(tmp_path: Path) -> None:
    text = (
        '"name";"city";"x";"y"\n'
        '"Müller, Hans";"Köln, DE";1.5;1\n'
        '"Dupont, Marie";"Paris";-2;0\n'
        "plain;Bern;3;1\n"
    )
    path = write(tmp_path / "eu.csv", text)
    reader = CsvReader(path)
    assert reader.delimiter == ";" and reader.columns == ["name", "city", "x", "y"]
    t = reader.table(reader.columns).to_pydict()
    assert t["name"] == ["Müller, Hans", "Dupont, Marie", "plain"]
    assert t["city"] == ["Köln, DE", "Paris", "Bern"]
    assert stream_x(path, ["x"], keep=["name", "city"])[:, 0].tolist() == [1.5, -2.0, 3.0]
    # a decimal comma is text, worded as usual
    path = write(tmp_path / "dec.csv", "x;y\n1;0\n2,5;1\n")
    assert stream_error(path, ["x"]) == f"{path}: column 'x', row 2: '2,5' is not a number"


@pytest.mark.parametrize("name", ["t.tsv", "t.tab", "t.tsv.gz", "t.tab.zst", "t.tsv.bz2"])
def test_tsv_and_tab_names_are_csv(name: str) -> None:
    assert detect_format(f"/nowhere/{name}") == "csv"


def test_a_tsv_file(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", "id\ta\tb\ty\nr1\t1\t2\t0\nr 2\t3\t4.5\t1\n")
    ds = load(raw_cfg(path, features=["a", "b"], labels=["y"]))
    assert ds.x_train.tolist() == [[1.0, 2.0], [3.0, 4.5]]
    batches = list(iter_batches(path, ["a", "b"], ["y"], keep=["id"]))
    assert [b.keep.column("id").to_pylist() for b in batches if b.keep is not None] == [
        ["r1", "r 2"]
    ]


# ---------------------------------------------------------------------------------------------
# errors under another delimiter: the re-reads use it too


@pytest.mark.parametrize("d", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_errors_name_the_row_under_any_delimiter(tmp_path: Path, d: str) -> None:
    def error(rows: list[list[str]]) -> str:
        return stream_error(write(tmp_path / "e.csv", table_text(d, rows)), ["a", "b"])

    # past the sniffed 64 KiB (a ragged row or a bad byte within them stops the sniffing
    # or is refused by it), and past pyarrow's first block for the re-typed column
    n = 12000  # 72 KB
    head = [["a", "b", "y"]] + [["1", "2", "0"]] * n
    assert error([*head, ["1", "oops", "1"]]).endswith(
        f"column 'b', row {n + 1}: 'oops' is not a number"
    )
    assert error([*head, ["1", "2"]]).endswith(f"row {n + 1}: expected 3 columns, got 2")
    assert error([*head, [""], ["1", "2", "0"]]).endswith(
        f"row {n + 1}: expected 3 columns, got an empty line"
    )
    assert error([*head, ["1", "NA", "0"]]).endswith(f"column 'b', row {n + 1}: missing value")
    path = tmp_path / "e.csv"
    path.write_bytes(table_text(d, head).encode() + d.join(["1", "\xff", "0"]).encode("latin-1"))
    msg = stream_error(str(path), ["a", "b"])
    assert f"column 'b', row {n + 1}: " in msg and "UTF-8" in msg, msg


def test_a_ragged_row_within_the_sample_asks_for_the_delimiter(tmp_path: Path) -> None:
    # no candidate qualifies: the comma, and a header of one column that holds a ';'
    path = write(tmp_path / "e.csv", "a;b;y\n1;2;0\n3;4\n")
    err = data_error(lambda: CsvReader(path))
    assert "if the file is separated by ';', set data.delimiter" in err.message


def test_a_ragged_row_under_a_named_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "a;b;y\n1;2;0\n3;4\n")
    with pytest.raises(DataError) as info:
        CsvReader(path, ";").table(["a", "b", "y"])
    assert info.value.message == f"{path}: row 2: expected 3 columns, got 2"


# ---------------------------------------------------------------------------------------------
# missing values


@pytest.mark.parametrize("token", MISSING_VALUES)
def test_missing_value_tokens_are_null_in_numeric_columns(tmp_path: Path, token: str) -> None:
    path = write(tmp_path / "m.csv", f"a,s,y\n1,x,0\n{token},{token},1\n")
    reader = CsvReader(path)
    t = reader.table(["a", "s", "y"]).to_pydict()
    assert t["a"] == [1.0, None]
    assert t["s"] == ["x", token]  # a text column keeps it as text
    assert stream_error(path, ["a"], keep=["s"]) == f"{path}: column 'a', row 2: missing value"


@pytest.mark.parametrize("cell", ['"NA"', '"null"', "na", "None", "n/a", "Null"])
def test_quoted_tokens_and_other_spellings_are_text(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path / "m.csv", f"a,y\n1,0\n{cell},1\n")
    text = cell.strip('"')
    assert stream_error(path, ["a"]) == f"{path}: column 'a', row 2: {text!r} is not a number"


@pytest.mark.parametrize(
    ("cell", "value"),
    [("inf", np.inf), ("-inf", -np.inf), ("Infinity", np.inf), ("-nan", np.nan), ("NAN", np.nan)],
)
def test_other_spellings_of_inf_and_nan_are_floats(tmp_path: Path, cell: str, value: float) -> None:
    path = write(tmp_path / "m.csv", f"a,y\n1,0\n{cell},1\n")
    (got,) = CsvReader(path).table(["a"]).column("a").to_pylist()[1:]
    assert got is not None and np.array_equal(np.float32(got), np.float32(value), equal_nan=True)
    if np.isinf(value):  # (NaN: the caller's to word)
        sign = "-" if value < 0 else ""
        assert stream_error(path, ["a"]).endswith(f"row 2: {sign}inf is not a finite number")


def test_a_missing_label_token(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "a,y\n1,0\n2,NA\n")
    assert CsvReader(path).table(["y"]).column("y").to_pylist() == [0.0, None]
    assert stream_error(path, ["a"]) == f"{path}: column 'y', row 2: missing label"


def test_a_row_of_missing_tokens_is_a_row_not_an_empty_line(tmp_path: Path) -> None:
    # (an all-null row is what an empty line reads as: the re-read tells them apart)
    for text in ["a,b,y\n1,2,0\nNA,nan,NULL\n3,4,1\n", "a,b,y\n1,2,0\nNA,,N/A\n"]:
        path = write(tmp_path / "m.csv", text)
        assert stream_error(path, ["a", "b"]).endswith("column 'y', row 2: missing label")
        msg = stream_error(path, ["a", "b"], require_labels=False)
        assert msg.endswith("column 'a', row 2: missing value")
        t = CsvReader(path).table(["a", "b", "y"])
        assert t.num_rows == text.count("\n") - 1
        assert t.slice(1, 1).to_pylist() == [{"a": None, "b": None, "y": None}]


# ---------------------------------------------------------------------------------------------
# the C fast path under every delimiter: taken, and bit for bit pyarrow's numbers


def arrow_bits(path: str, d: str, names: list[str]) -> dict[str, np.ndarray]:
    t = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=d),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float32())),
    )
    return {n: t.column(n).to_numpy().view(np.uint32) for n in names}


def fast_values(d: str) -> list[str]:
    rng = np.random.default_rng(7)
    out = ["0", "-0", "+5", ".5", "-.5", "5.", "1e-45", "3.4028235e38", "16777217", "4.35"]
    for b in rng.integers(0, 0x7F800000, size=300).tolist():
        v = float(np.array([b], dtype=np.uint32).view(np.float32)[0])
        out += [repr(v), f"{v:.9g}", f"{-v:.25e}"]
    for x in rng.standard_normal(300) * 10.0 ** rng.integers(-20, 20, 300):
        out += [repr(float(x)), f"{x:.12f}"]
    return out


@needs_cext
@each_delimiter
def test_the_fast_path_is_taken_and_matches_pyarrow(tmp_path: Path, d: str) -> None:
    values = fast_values(d)
    rows = [["id", "v", "w", "y"]]
    rows += [[f"r{i}", v, values[-1 - i], str(i % 2)] for i, v in enumerate(values)]
    path = write(tmp_path / "f.csv", table_text(d, rows))
    reader = CsvReader(path)
    assert reader.delimiter == d
    names = reader.columns
    out = csv_fast.read_numeric(path, names, ["v", "w"], ["y"], 1, delimiter=reader.delimiter)
    assert out is not None  # the fast path read it
    x, y = out
    ref = arrow_bits(path, d, ["v", "w", "y"])
    assert np.array_equal(x[:, 0].view(np.uint32), ref["v"])
    assert np.array_equal(x[:, 1].view(np.uint32), ref["w"])
    assert np.array_equal(y[:, 0].view(np.uint32), ref["y"])
    # the project's pyarrow reader gives the same bits
    t = reader.table(["v", "w"])
    assert np.array_equal(t.column("v").to_numpy().view(np.uint32), ref["v"])
    # streaming, in batches
    got = list(csv_fast.iter_numeric(path, names, ["v", "w"], ["y"], 97, 1, delimiter=d))
    assert len(got) == -(-len(values) // 97)
    assert np.array_equal(np.concatenate([g[0] for g in got]), x)


@needs_cext
@each_delimiter
def test_thread_ranges_under_any_delimiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, d: str
) -> None:
    monkeypatch.setattr(csv_fast, "_RANGE_BYTES", 64)
    path = write(tmp_path / "t.csv", numeric_rows(d, 300))
    one = csv_fast.read_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 1, d)
    many = csv_fast.read_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 4, d)
    assert one is not None and many is not None
    assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1])
    ref = arrow_bits(path, d, ["a", "b"])
    assert np.array_equal(one[0][:, 1].view(np.uint32), ref["b"])


@needs_cext
@each_delimiter
def test_the_fast_path_defers_on_the_wrong_delimiter(tmp_path: Path, d: str) -> None:
    path = write(tmp_path / "w.csv", numeric_rows(d))
    for other in DELIMITERS:
        got = csv_fast.read_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 1, other)
        assert (got is not None) == (other == d), repr(other)
    assert csv_fast.read_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 1, ":") is None
    assert list(csv_fast.iter_numeric(path, ["a", "b", "y"], ["a"], ["y"], 10, 1, ":")) == []


@needs_cext
@each_delimiter
@pytest.mark.parametrize("token", [*MISSING_VALUES, "inf", "-nan", "Infinity"])
def test_the_fast_path_defers_on_missing_and_special_tokens(
    tmp_path: Path, d: str, token: str
) -> None:
    path = write(tmp_path / "m.csv", table_text(d, [["a", "y"], ["1", "0"], [token, "1"]]))
    assert csv_fast.read_numeric(path, ["a", "y"], ["a"], ["y"], 1, d) is None


@needs_cext
@pytest.mark.parametrize(
    "body",
    ["1\t 2\t0\n", " 1\t2\t0\n", "1 \t2\t0\n", "1\t2\t0\t\n", "1\t\t2\t0\n", "1\t2\v\t0\n"],
)
def test_tab_files_with_whitespace_defer(tmp_path: Path, body: str) -> None:
    # pyarrow trims spaces around numbers (or refuses the row); the C parser never skips
    # whitespace, so it defers and pyarrow's reading is the only one
    path = write(tmp_path / "s.tsv", "a\tb\ty\n3\t4\t1\n" + body)
    assert csv_fast.read_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 1, "\t") is None
    it = csv_fast.iter_numeric(path, ["a", "b", "y"], ["a", "b"], ["y"], 1, 1, "\t")
    assert [len(x) for x, _ in it] == [1]  # the row before it, then pyarrow takes over
    path = write(tmp_path / "t.tsv", "a\tb\ty\n3\t4\t1\n 1\t2 \t0\n")
    assert CsvReader(path).table(["a", "b"]).to_pydict() == {"a": [3.0, 1.0], "b": [4.0, 2.0]}


@needs_cext
@each_delimiter
def test_the_loaders_read_every_delimiter_alike(tmp_path: Path, d: str) -> None:
    comma = write(tmp_path / "c.csv", numeric_rows(","))
    other = write(tmp_path / "o.csv", numeric_rows(",").replace(",", d))
    a = load(csv_cfg(comma, features=["a", "b"]))
    b = load(csv_cfg(other, features=["a", "b"]))
    assert a.x_train.numpy().view(np.uint32).tolist() == b.x_train.numpy().view(np.uint32).tolist()
    assert np.array_equal(
        stream_x(comma, ["a", "b"], batch_rows=7).view(np.uint32),
        stream_x(other, ["a", "b"], batch_rows=7).view(np.uint32),
    )
