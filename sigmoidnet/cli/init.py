"""`sigmoidnet init`: a commented starter config for a CSV or Parquet table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import PATH_CHECKS


@boundary
def init(
    data: Annotated[Path, typer.Argument(help="The CSV or Parquet table.", **PATH_CHECKS)],
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="A label column (repeat for several labels)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the config here (default: stdout).", **PATH_CHECKS),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
) -> None:
    """Print the table's columns and write a commented starter config that trains as it is.

    Every choice is written out with its reason: the sniffed delimiter, each label's positive
    value (the rarer one when the two values are not an obvious pair such as yes/no: marked
    CHECK), the columns left out (row numbers, identifiers), and model and training settings
    chosen from the table's size. Paths in it are relative to the config's folder (the
    working directory without --out). With --out the columns table goes to stdout; without
    it the config does, and the table goes to stderr.
    """
    from sigmoidnet.starter import starter

    dest = None if out is None else _destination(out, data, force)
    # paths in the config are relative to the folder of the file written (a link's target's)
    result = starter(str(data), list(label or []), None if dest is None else str(dest))
    # the config alone on stdout (`init x.csv --label y > x.yaml`): the table on stderr then
    render.columns_table(result.columns, render.stderr_console() if out is None else None)
    for n in result.notes:
        render.note(n)
    if out is None or dest is None:
        render.text(result.text)
        return
    _write(dest, str(out), result.text)
    render.hint(f"wrote {out}; train it with: sigmoidnet train --config {out}")


def _destination(out: Path, data: Path, force: bool) -> Path:
    """The file `--out` will replace (a symlink's target), checked before any work: not a
    folder or a device, not the table itself, not an existing file without --force."""
    import stat

    from sigmoidnet.errors import UsageError

    where = str(out)
    if "\x00" in where:
        raise UsageError(where, "the path contains a NUL byte")
    try:
        st: os.stat_result | None = os.stat(out)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as e:
        raise UsageError(where, f"cannot use this path: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(where, "is a directory, expected a config file name")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(where, "not a regular file: --out names a config file to write")
        try:
            same = os.path.samefile(out, data)
        except OSError:
            same = False
        if same:
            raise UsageError(where, "is the data file itself; name another file for the config")
        if not force:
            raise UsageError(where, "exists; pass --force to replace it")
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def _write(dest: Path, where: str, text: str) -> None:
    """Write atomically, creating the missing folders (removed again if it fails)."""
    from sigmoidnet.fsutil import atomic_write_text, make_dirs, output_error, remove_dirs

    created: list[Path] = []
    try:
        created = make_dirs(dest.parent)
        atomic_write_text(dest, text)
    except BaseException as e:
        remove_dirs(created)
        if isinstance(e, OSError):
            raise output_error(where, e, "cannot write the config") from None
        raise


def register(app: typer.Typer) -> None:
    """Add the `init` command to `app`."""
    app.command("init")(init)
