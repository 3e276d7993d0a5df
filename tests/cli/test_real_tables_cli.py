"""Real tables from the command line: R, semicolon and TSV files train with no row number as a
feature; predict and eval take raw rows and encode them as training did, to the bit. Then,
as they are published (R's `write.csv`: quoted header, a first column `""` of row numbers,
`NA`; a `;` file; a `.tsv` file), the columns table at training start, predict's row order
and its note on a category never seen, and every bad input: its exit code and exactly one
line on stderr."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from sigmoidnet import artifact
from sigmoidnet.data import iter_batches, load_dataset, split
from sigmoidnet.data.transform import encode_checked
from tests.cli.util import invoke


def rows(n: int = 80) -> list[list[str]]:
    out = []
    for i in range(n):
        age = "" if i % 9 == 0 else str(20 + (i * 17) % 45)
        plan = ["basic", "gold", "pro", "basic"][i % 4]
        city = ["Lyon", "Paris", "NA", "Nice", ""][i % 5]
        churn = "Yes" if (i * 7) % 10 < 4 else "No"
        out.append([age, plan, city, "true" if i % 3 else "false", churn])
    return out


HEADER = ["age", "plan", "city", "member", "churn"]


def write(path: Path, delimiter: str = ",", r_style: bool = False) -> Path:
    if r_style:  # R's write.csv: quoted header and text, a "" column of row numbers, NA

        def cell(v: str, numeric: bool) -> str:
            return ("NA" if v == "" else v) if numeric else f'"{v}"'

        lines = ['"",' + ",".join(f'"{h}"' for h in HEADER)]
        for i, r in enumerate(rows(), start=1):
            lines.append(f'"{i}",' + ",".join(cell(v, j == 0) for j, v in enumerate(r)))
        path.write_text("\n".join(lines) + "\n")
        return path
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(HEADER)
        w.writerows(rows())
    return path


def train(tmp_path: Path, data: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data: {{source: csv, path: {data.name}, labels: [churn]}}\n"
        "train: {epochs: 3, batch_size: 16}\n"
        f"out_dir: {tmp_path / 'runs'}\n"
    )
    code, out, err = invoke("train", "--config", str(cfg))
    assert code == 0, err
    assert "categorical" in out  # the columns table at the start
    return tmp_path / "runs" / "latest" / "model.safetensors"


@pytest.mark.parametrize(
    ("name", "delimiter", "r_style"),
    [("r.csv", ",", True), ("semi.csv", ";", False), ("tab.tsv", "\t", False)],
)
def test_dialects_train_without_row_numbers(
    tmp_path: Path, name: str, delimiter: str, r_style: bool
) -> None:
    model = train(tmp_path, write(tmp_path / name, delimiter, r_style))
    art = artifact.load(model)
    assert art.preprocessor.raw_names == ["age", "plan", "city", "member"]
    assert art.preprocessor.ignored == ([""] if r_style else [])
    assert "age[missing]" in art.feature_names and "city=<missing>" in art.feature_names
    code, out, err = invoke("predict", "--checkpoint", str(model), "--data", str(tmp_path / name))
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 80


def test_predict_encodes_raw_rows_as_training_did(tmp_path: Path) -> None:
    data = write(tmp_path / "t.csv")
    model = train(tmp_path, data)
    art = artifact.load(model)
    # every row of the file, through predict's path (stream → stored preprocessor), equals
    # what training fed the model (the same split of the same file), to the bit
    from sigmoidnet.config import load_config
    from sigmoidnet.data.split import val_mask

    ds = load_dataset(load_config(tmp_path / "c.yaml").data, 0)
    (batch,) = iter_batches(str(data), art.preprocessor, ["churn"], require_labels=True)
    assert batch.y is not None
    mask = val_mask(batch.y, 0.2, 0, str(data))
    assert mask is not None and ds.x_val is not None
    again = encode_checked(art.preprocessor, batch.raw([]), str(data))
    np.testing.assert_array_equal(again[~mask], ds.x_train.numpy())
    np.testing.assert_array_equal(again[mask], ds.x_val.numpy())
    # an unseen category and a missing value: the stored fill, indicator and slots
    new = tmp_path / "new.csv"
    new.write_text("churn,member,city,plan,age\n,true,Berlin,platinum,\n")  # another order
    code, out, err = invoke("predict", "--checkpoint", str(model), "--data", str(new))
    assert code == 0, err
    assert "column 'plan': 1 value never seen in training (encoded as all zeros)" in err
    assert "column 'city': 1 value never seen" in err
    pre = art.preprocessor
    age = pre.columns[0]
    assert pre.mean_ is not None and pre.std_ is not None and age.fill is not None
    x = np.zeros((1, pre.n_features), np.float32)
    names = pre.feature_names
    x[0, names.index("age")] = (np.float32(age.fill) - pre.mean_[0]) / pre.std_[0]
    x[0, names.index("age[missing]")] = 1.0
    x[0, names.index("member")] = (np.float32(1.0) - pre.mean_[1]) / pre.std_[1]
    want = torch.sigmoid(art.model(torch.from_numpy(x))).item()
    got_p = float(out.splitlines()[1].split(",")[0])
    assert got_p == pytest.approx(want, rel=1e-6)


def test_eval_counts_rows_without_a_label(tmp_path: Path) -> None:
    data = write(tmp_path / "t.csv")
    model = train(tmp_path, data)
    test = tmp_path / "test.csv"
    test.write_text("age,plan,city,member,churn\n30,gold,Lyon,true,Yes\n40,pro,Nice,false,\n"
                    "50,basic,Paris,true,No\n")  # fmt: skip
    code, out, err = invoke("eval", "--checkpoint", str(model), "--data", str(test), "--json")
    assert code == 0, err
    assert "1 row without a label left out" in err and '"n_rows": 2' in out
    test.write_text("age,plan,city,member,churn\n30,gold,Lyon,true,Maybe\n")
    code, out, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "label 'Maybe' is not one the model knows" in err
    assert len(err.strip().splitlines()) == 1
    test.write_text("age,plan,member,churn\n30,gold,true,Yes\n")
    code, _, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "column 'city' is missing" in err
    test.write_text("age,plan,city,member,churn,extra\n30,gold,Lyon,true,Yes,1\n")
    code, _, err = invoke("eval", "--checkpoint", str(model), "--data", str(test))
    assert code == 3 and "extra column 'extra'" in err


# ---------------------------------------------------------------------------------------------
# published tables, as users have them

N = 60
SEED = 0
HOLDOUT = 0.2
PLANS = ["basic", "pro", "basic", "team", "NA"]  # NA: a missing category


def churn_labels() -> list[str]:
    return ["yes" if (i * 7) % 40 > 18 else "no" for i in range(N)]


def rare_row() -> int:
    """A row the run holds out (seeded, stratified split): its category is never seen in
    training, so predicting the raw training file meets it."""
    y = np.array([[v == "yes"] for v in churn_labels()], dtype=np.float32)
    mask = split.val_mask(y, HOLDOUT, SEED, "x")
    assert mask is not None
    return int(np.flatnonzero(mask)[0])


def table_rows() -> list[list[str]]:
    """[row number, age, plan, city, churn] as text; NA marks a missing value."""
    rare = rare_row()
    rows = []
    for i, churn in enumerate(churn_labels()):
        age = "NA" if i % 11 == 0 else str(20 + (i * 7) % 40)
        plan = "enterprise" if i == rare else PLANS[i % 5]
        city = ["Oslo", "Bergen", "Oslo", "Tromsø"][i % 4]
        rows.append([str(i + 1), age, plan, city, churn])
    return rows


def write_r_csv(path: Path, rows: list[list[str]]) -> None:
    """As R's write.csv: every name and text quoted, row names in an unnamed first column,
    NA unquoted."""

    def q(v: str) -> str:
        return "NA" if v == "NA" else f'"{v}"'

    lines = ['"","age","plan","city","churn"']
    lines += [",".join([q(r[0]), r[1], q(r[2]), q(r[3]), q(r[4])]) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_delimited(path: Path, rows: list[list[str]], sep: str) -> None:
    """No row numbers; an empty cell for a missing value."""
    lines = [sep.join(["age", "plan", "city", "churn"])]
    lines += [sep.join("" if v == "NA" else v for v in r[1:]) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


DIALECTS: dict[str, tuple[str, Callable[[Path, list[list[str]]], None]]] = {
    "r": ("r.csv", write_r_csv),
    "semicolon": ("semi.csv", lambda p, r: write_delimited(p, r, ";")),
    "tsv": ("t.tsv", lambda p, r: write_delimited(p, r, "\t")),
}


def config(
    folder: Path, data_file: str, extra: str = "", name: str = "run", holdout: float = HOLDOUT
) -> Path:
    cfg = folder / f"{name}.yaml"
    cfg.write_text(
        f"seed: {SEED}\n"
        "device: cpu\n"
        "data:\n"
        "  source: csv\n"
        f"  path: {data_file}\n"
        "  labels: [churn]\n"
        f"  val_fraction: {holdout}\n"
        f"{extra}"
        "model:\n"
        "  hidden_sizes: [4]\n"
        "train:\n"
        "  epochs: 2\n"
        "  batch_size: 16\n"
        f"out_dir: {folder / ('runs_' + name)}\n",
        encoding="utf-8",
    )
    return cfg


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def predictions(stdout: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(stdout)))
    return rows[0], rows[1:]


def probabilities(rows: list[list[str]]) -> np.ndarray:
    return np.array([float(r[-2]) for r in rows])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    """Each dialect trained once: name → (data file, model, the training run's stdout)."""
    folder = tmp_path_factory.mktemp("dialects")
    rows = table_rows()
    out: dict[str, tuple[Path, Path, str]] = {}
    for name, (file_name, writer) in DIALECTS.items():
        data = folder / file_name
        writer(data, rows)
        cfg = config(folder, file_name, name=name)
        code, stdout, stderr = invoke("train", "--config", str(cfg))
        assert code == 0, stdout + stderr
        out[name] = (data, folder / f"runs_{name}" / "latest" / "model.safetensors", stdout)
        out[name + ":stderr"] = (data, out[name][1], stderr)
    return out


# ---------------------------------------------------------------------------------------------
# the three dialects train, and predict/eval take their raw rows


@pytest.mark.parametrize("name", list(DIALECTS))
def test_a_published_table_trains_as_it_is(
    runs: dict[str, tuple[Path, Path, str]], name: str
) -> None:
    data, model, stdout = runs[name]
    _, _, stderr = runs[name + ":stderr"]
    art = artifact.load(model)
    assert art.format_version == 4
    assert "" not in art.feature_names and "" not in art.preprocessor.raw_names
    assert art.preprocessor.raw_names == ["age", "plan", "city"]
    assert art.feature_names[:2] == ["age", "age[missing]"]
    assert "plan=<missing>" in art.feature_names and "city=Tromsø" in art.feature_names
    assert "plan=enterprise" not in art.feature_names  # held out: never seen in training
    (label,) = art.preprocessor.labels
    assert (label.positive, label.negative) == ("yes", "no")
    # the columns table, at training start: after the data line, before the device line
    lines = stdout.splitlines()
    at = {key: next(i for i, ln in enumerate(lines) if ln.split()[:1] == [key]) for key in (
        "data", "column", "age", "plan", "city", "churn", "device"
    )}  # fmt: skip
    assert at["data"] < at["column"] < at["age"] < at["device"]
    assert lines[at["column"]].split() == ["column", "type", "missing", "categories"]
    assert lines[at["age"]].split()[:3] == ["age", "numeric", "6"]  # rows 1, 12, 23, ...
    assert lines[at["plan"]].split()[:3] == ["plan", "categorical", "12"]
    assert lines[at["city"]].split()[:3] == ["city", "categorical", "3:"]
    assert "'yes' = 1, 'no' = 0" in lines[at["churn"]]
    # notes on stderr: the row numbers left out (R), the held-out row's category
    unseen = f"note: {data}: column 'plan': 1 value never seen in training (encoded as all zeros)"
    if name == "r":
        row_numbers = next(ln for ln in lines if "an unnamed first column" in ln)
        assert row_numbers.split()[:2] == ["left", "out"]
        left_out = f"note: {data}: column '' left out: an unnamed first column (row numbers)"
        assert stderr.splitlines() == [left_out, unseen]
    else:
        assert "left out" not in stdout and stderr.splitlines() == [unseen]


@pytest.mark.parametrize("name", list(DIALECTS))
def test_predict_on_the_raw_training_file_keeps_row_order_and_notes_the_unseen(
    runs: dict[str, tuple[Path, Path, str]], name: str, tmp_path: Path
) -> None:
    data, model, _ = runs[name]
    code, stdout, stderr = invoke("predict", "--checkpoint", str(model), "--data", str(data))
    assert code == 0, stderr
    assert stderr == (
        f"note: {data}: column 'plan': 1 value never seen in training (encoded as all zeros)\n"
    )
    header, rows = predictions(stdout)
    assert header == ["p_churn", "churn_pred"] and len(rows) == N
    # the same rows backwards: the same predictions backwards
    text = data.read_text(encoding="utf-8").splitlines()
    backwards = tmp_path / data.name
    backwards.write_text("\n".join([text[0], *reversed(text[1:])]) + "\n", encoding="utf-8")
    code, again, _ = invoke("predict", "--checkpoint", str(model), "--data", str(backwards))
    assert code == 0
    # (a row's float32 logit may round differently at another place in the batch)
    p, back = probabilities(rows), probabilities(predictions(again)[1])
    np.testing.assert_allclose(back, p[::-1], rtol=1e-6, atol=0)
    assert [r[1] for r in predictions(again)[1]] == [r[1] for r in rows[::-1]]
    assert len(set(p.tolist())) > N // 2  # the order is seen in the probabilities
    if name == "r":  # the row numbers, passed through, are in order
        code, kept, _ = invoke(
            "predict", "--checkpoint", str(model), "--data", str(data), "--keep", ""
        )
        assert code == 0
        header, kept_rows = predictions(kept)
        assert header == ["", "p_churn", "churn_pred"]
        assert [r[0] for r in kept_rows] == [str(i) for i in range(1, N + 1)]
        assert [r[1:] for r in kept_rows] == rows


def test_predict_of_another_dialect_with_columns_in_another_order(
    runs: dict[str, tuple[Path, Path, str]], tmp_path: Path
) -> None:
    """A model trained on R's file scores the `;` file's rows (no row numbers, columns
    reordered, ages as floats): the same probabilities."""
    r_data, model, _ = runs["r"]
    code, base, _ = invoke("predict", "--checkpoint", str(model), "--data", str(r_data))
    assert code == 0
    rows = table_rows()
    other = tmp_path / "other.csv"
    lines = ["city;churn;age;plan"]
    lines += [
        f"{r[3]};{r[4]};{'' if r[1] == 'NA' else r[1] + '.0'};{'' if r[2] == 'NA' else r[2]}"
        for r in rows
    ]
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stdout, stderr = invoke("predict", "--checkpoint", str(model), "--data", str(other))
    assert code == 0, stderr
    assert predictions(stdout)[1] == predictions(base)[1]


def test_eval_data_with_missing_labels_says_how_many_rows_were_left_out(
    runs: dict[str, tuple[Path, Path, str]], tmp_path: Path
) -> None:
    _, model, _ = runs["tsv"]
    rows = table_rows()[:10]
    rows[2][4] = ""
    rows[5][4] = "NA"
    rows[7][4] = "YES"  # an obvious pair: any case
    data = tmp_path / "labelled.tsv"
    write_delimited(data, rows, "\t")
    text = data.read_text(encoding="utf-8").replace("\tNA\n", "\t\n")
    data.write_text(text, encoding="utf-8")
    code, stdout, stderr = invoke("eval", "--checkpoint", str(model), "--data", str(data), "--json")
    assert code == 0, stderr
    assert f"note: {data}: 2 rows without a label left out\n" in stderr
    report = json.loads(stdout)
    assert (
        report["n_rows"] == 8 and report["notes"][0] == f"{data}: 2 rows without a label left out"
    )
    code, _, stderr = invoke("eval", "--checkpoint", str(model), "--data", str(data))
    assert code == 0 and "2 rows without a label left out" in stderr


def test_eval_of_the_held_out_rows_of_a_real_table(
    runs: dict[str, tuple[Path, Path, str]],
) -> None:
    _, model, _ = runs["semicolon"]
    code, stdout, stderr = invoke("eval", "--run", str(model.parent), "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["n_rows"] == round(HOLDOUT * N)
    assert "column 'plan': 1 value never seen in training" in stderr


# ---------------------------------------------------------------------------------------------
# bad inputs: the exit code and exactly one stderr line


def numbers_with(word: str, n: int = 30) -> str:
    return "a,churn\n" + "".join(
        f"{word if i == 7 else i},{'yes' if i % 2 else 'no'}\n" for i in range(n)
    )


BAD_TRAINING = {
    "declared numeric holding text": (
        "a,b,churn\n1,2,yes\n2,x3,no\n3,4,yes\n",
        "  numeric: [b]\n",
        "column 'b', row 2: 'x3' is not a number",
    ),
    "a stray word in numbers": (
        numbers_with("oops"),
        "",
        "column 'a', row 8: 'oops' is not a number, in a column of numbers",
    ),
    "a pair that is not obvious": (
        "a,churn\n1,stay\n2,leave\n3,stay\n4,leave\n",
        "",
        "label column 'churn' holds 'leave' and 'stay'; say which is the positive class "
        "with data.positive: {churn: leave}",
    ),
    "data.positive not in the column": (
        "a,churn\n1,stay\n2,leave\n3,stay\n4,leave\n",
        "  positive: {churn: gone}\n",
        "has no value 'gone' (named by data.positive); it holds 'leave' and 'stay'",
    ),
    "three label values": (
        "a,churn\n1,yes\n2,no\n3,maybe\n4,no\n",
        "",
        "label column 'churn' holds 3 distinct values ('maybe', 'no', 'yes')",
    ),
    "every label missing": ("a,churn\n1,\n2,NA\n3,\n4,\n", "", "no rows with a label"),
    "impute error with a missing value": (
        "a,b,churn\n1,2,yes\n2,,no\n3,4,yes\n4,5,no\n",
        "  impute: error\n",
        "column 'b', row 2: missing value",
    ),
    "inf": (
        "a,c,churn\n1,x,yes\ninf,y,no\n3,x,yes\n4,y,no\n",
        "",
        "column 'a', row 2: inf is not a finite number",
    ),
    "the wrong delimiter": (
        "a;c;churn\n1;x;yes\n2;y;no\n3;x;yes\n4;y;no\n",
        '  delimiter: ","\n',
        'set data.delimiter: ";"',
    ),
}


@pytest.mark.parametrize("case", list(BAD_TRAINING))
def test_bad_training_data_is_exit_3_in_one_line(tmp_path: Path, case: str) -> None:
    text, extra, expect = BAD_TRAINING[case]
    (tmp_path / "bad.csv").write_text(text, encoding="utf-8")
    cfg = config(tmp_path, "bad.csv", extra, holdout=0)
    code, stdout, stderr = invoke("train", "--config", str(cfg))
    line = one_error_line(stderr)
    assert code == 3, stderr
    assert line.startswith(f"error: {tmp_path / 'bad.csv'}: ") and expect in line
    assert stdout == ""
    assert not (tmp_path / "runs_run").exists() or not any((tmp_path / "runs_run").iterdir())


BAD_CONFIG = {
    "max_categories 0": "  max_categories: 0\n",
    "an unknown delimiter": '  delimiter: ":"\n',
    "an unknown impute": "  impute: zero\n",
    "positive names a feature": "  positive: {a: 1}\n",
    "categorical and numeric": "  categorical: [a]\n  numeric: [a]\n",
    "a label in categorical": "  categorical: [churn]\n",
}


@pytest.mark.parametrize("case", list(BAD_CONFIG))
def test_bad_table_keys_are_exit_2_in_one_line(tmp_path: Path, case: str) -> None:
    (tmp_path / "ok.csv").write_text("a,churn\n1,yes\n2,no\n3,yes\n4,no\n", encoding="utf-8")
    cfg = config(tmp_path, "ok.csv", BAD_CONFIG[case])
    code, _, stderr = invoke("train", "--config", str(cfg))
    one_error_line(stderr)
    assert code == 2, stderr


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    rows = "".join(
        f"{20 + i},{['a', 'b', 'c'][i % 3]},{'yes' if i % 2 else 'no'}\n" for i in range(12)
    )
    (folder / "s.csv").write_text("age,plan,churn\n" + rows, encoding="utf-8")
    cfg = config(folder, "s.csv", name="small")
    code, _, stderr = invoke("train", "--config", str(cfg), "--quiet")
    assert code == 0, stderr
    return folder / "runs_small" / "latest" / "model.safetensors"


BAD_SCORING = {
    "predict: a missing column": ("predict", "plan\na\n", "column 'age' is missing"),
    "predict: an extra column": (
        "predict",
        "age,plan,note\n20,a,x\n",
        "extra column 'note' not seen in training",
    ),
    "predict: text in a numeric column": (
        "predict",
        "age,plan\n20,a\nold,b\n",
        "column 'age', row 2: 'old' is not a number",
    ),
    "predict: inf": ("predict", "age,plan\n20,a\n-inf,b\n", "column 'age', row 2: -inf"),
    "eval: a label the model does not know": (
        "eval",
        "age,plan,churn\n20,a,yes\n21,b,maybe\n",
        "column 'churn', row 2: label 'maybe' is not one the model knows ('yes' or 'no')",
    ),
    "eval: no label column": ("eval", "age,plan\n20,a\n", "label column 'churn' is missing"),
    "eval: an extra column": (
        "eval",
        "age,plan,note,churn\n20,a,x,yes\n",
        "extra column 'note' not seen in training",
    ),
    "eval: no row has a label": ("eval", "age,plan,churn\n20,a,\n21,b,NA\n", "no rows to evaluate"),
}


@pytest.mark.parametrize("case", list(BAD_SCORING))
def test_bad_rows_to_score_are_exit_3_in_one_line(
    small_model: Path, tmp_path: Path, case: str
) -> None:
    command, text, expect = BAD_SCORING[case]
    data = tmp_path / "in.csv"
    data.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    extra = ["--out", str(out)] if command == "predict" else []
    code, stdout, stderr = invoke(
        command, "--checkpoint", str(small_model), "--data", str(data), *extra
    )
    line = one_error_line(stderr)
    assert code == 3, stderr
    assert line.startswith(f"error: {data}: ") and expect in line
    assert stdout == "" and not out.exists()


def test_keep_and_ignore_pass_an_extra_column_over(small_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("note,plan,age,churn\nx,a,20,yes\ny,zzz,21.5,no\n", encoding="utf-8")
    code, stdout, stderr = invoke(
        "predict", "--checkpoint", str(small_model), "--data", str(data), "--keep", "note"
    )
    assert code == 0, stderr
    header, rows = predictions(stdout)
    assert header == ["note", "p_churn", "churn_pred"] and [r[0] for r in rows] == ["x", "y"]
    assert stderr == (
        f"note: {data}: column 'plan': 1 value never seen in training (encoded as all zeros)\n"
    )
    code, _, stderr = invoke(
        "eval", "--checkpoint", str(small_model), "--data", str(data), "--ignore", "note"
    )
    assert code == 0, stderr
