from typing_extensions import Buffer

def parse(
    src: Buffer,
    start: int,
    end: int,
    ncols: int,
    dest: Buffer,
    x: Buffer,
    xw: int,
    y: Buffer,
    yw: int,
    max_rows: int,
    drop: bool,
    /,
) -> tuple[int, int]: ...
def count_lines(src: Buffer, start: int, end: int, drop: bool, /) -> int: ...
