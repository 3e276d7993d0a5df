from typing import Any, TypeAlias

# anything with the buffer protocol (an mmap, a C-contiguous numpy array); typing's Buffer
# does not cover numpy arrays before Python 3.12
_Buffer: TypeAlias = Any

def parse(
    src: _Buffer,
    start: int,
    end: int,
    ncols: int,
    dest: _Buffer,
    x: _Buffer,
    xw: int,
    y: _Buffer,
    yw: int,
    max_rows: int,
    drop: bool,
    /,
) -> tuple[int, int]: ...
def count_lines(src: _Buffer, start: int, end: int, drop: bool, /) -> int: ...
def skip_lines(src: _Buffer, start: int, end: int, n: int, /) -> int: ...
