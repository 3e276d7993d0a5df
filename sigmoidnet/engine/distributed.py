"""Data-parallel training under torchrun: the process group, the row shards, and the few
collectives the engine needs.

A run is distributed when torchrun (or `train --nproc N`, which calls torchrun's own
launcher, `torch.distributed.run`) started it with `WORLD_SIZE` > 1. Then:

- the backend is gloo on CPU and nccl on CUDA, one GPU per local rank (`cuda:LOCAL_RANK`);
- `train.batch_size` is the *global* batch: each step takes `b_r` rows on rank r, with
  `sum(b_r) == batch_size` (`Shard`), so a run's steps do not depend on the number of
  processes; the training rows are cut into contiguous shards of exactly the rows each rank
  takes in an epoch, and a rank holds only its own;
- the validation rows are cut into contiguous shards too; every rank computes the logits of
  its own, and `gather_rows` puts them back together in file order, so each validation row is
  predicted exactly once and the metrics are those of one process (no padding duplicates);
- a step all-reduces the gradients of the global batch (DDP's hooks for the autograd step,
  one flat buffer for the hand-derived one) before clipping and updating: every rank holds
  the same weights after every step.

Outside a distributed launch `World()` is the single process, and nothing changes.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from sigmoidnet.errors import SigmoidnetError, UsageError

if TYPE_CHECKING:
    from torch._C._distributed_c10d import Store

#: how long a collective waits for the other ranks before it fails (a machine that vanished
#: without closing its connections; a rank killed outright is noticed at once by its peers)
COLLECTIVE_TIMEOUT_S = int(os.environ.get("SIGMOIDNET_COLLECTIVE_TIMEOUT", "600"))


class PeerLostError(SigmoidnetError):
    """Another process of a distributed run died or cannot be reached (exit 1: the run's
    state is kept; the launcher names the rank that failed)."""

    exit_code = 1


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank `rank` of `size` (1: a single process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = World()


def restart_count() -> int:
    """How many times torchrun has restarted this job's workers (`--max-restarts`)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def launch_id() -> str:
    """The id torchrun gives the job (the same across its restarts); '' outside one."""
    return os.environ.get("TORCHELASTIC_RUN_ID", "")


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        raise UsageError(name, f"must be an integer, got {value!r} (set by torchrun)") from None


def init_world(device: str) -> World:
    """Join the job torchrun started (its environment: RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR/PORT): nccl with `cuda:LOCAL_RANK` when `device` is cuda (or auto with
    CUDA present), gloo otherwise. Returns the device to train on in `World.backend`'s
    terms: the caller sets the config's device from `local_device`."""
    dist = torch.distributed
    rank, size, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise UsageError("device", f"'{device}' requested but CUDA is not available here")
        if local >= torch.cuda.device_count():
            raise UsageError(
                "device",
                f"local rank {local} needs a GPU of its own, but this machine has "
                f"{torch.cuda.device_count()}: start at most that many processes per node",
            )
        torch.cuda.set_device(local)
    backend = "nccl" if cuda else "gloo"
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S)
        store = _attempt_store(size, timeout)
        if store is None:
            dist.init_process_group(backend, timeout=timeout)
        else:
            dist.init_process_group(
                backend, store=store, rank=rank, world_size=size, timeout=timeout
            )
    return World(rank=rank, size=size, local_rank=local, backend=backend)


def _attempt_store(size: int, timeout: datetime.timedelta) -> Store | None:
    """The key-value store this attempt's process group meets in, when torchrun's agent
    hosts it: the agent's store, under a prefix of its own for each restart.

    torchrun's c10d rendezvous shares one store across `--max-restarts` attempts and hands
    the workers no prefix (pytorch/pytorch#135712), so a restarted rank can read the
    address a killed rank published in the previous attempt and fail to connect to it.
    Every agent restarts its workers together (the same TORCHELASTIC_RESTART_COUNT), so
    the count keys an attempt on every machine. None: the launcher gave each attempt a
    store of its own (or no agent): `init_process_group`'s own env:// rendezvous."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    from torch._C._distributed_c10d import PrefixStore, TCPStore

    host, port = os.environ.get("MASTER_ADDR", ""), _env_int("MASTER_PORT")
    client = TCPStore(host, port, size, is_master=False, timeout=timeout)
    return PrefixStore(f"sigmoidnet/attempt_{restart_count()}/", client)


def local_device(world: World, device: str) -> str:
    """The device name a rank trains on: `cuda:LOCAL_RANK` under nccl, else `device`."""
    return f"cuda:{world.local_rank}" if world.backend == "nccl" else device


def barrier(world: World) -> None:
    if world.active:
        torch.distributed.barrier()


def close_world(world: World) -> None:
    dist = torch.distributed
    if world.active and dist.is_initialized():
        dist.destroy_process_group()


def even_counts(n: int, parts: int) -> list[int]:
    """`n` split into `parts` counts differing by at most one, the larger ones first."""
    return [n // parts + (1 if r < n % parts else 0) for r in range(parts)]


def chunk_counts(rows: int, chunk: int, parts: int) -> list[int]:
    """`rows` cut into chunks of `chunk` rows (the last one short), handed out as contiguous
    runs of whole chunks, as evenly as the chunks allow: the rows of each part."""
    chunks = even_counts(-(-rows // chunk), parts)
    out, start = [], 0
    for c in chunks:
        stop = min(rows, start + c * chunk)
        out.append(stop - start)
        start = stop
    return out


def offsets(counts: Sequence[int]) -> list[int]:
    out, total = [], 0
    for c in counts:
        out.append(total)
        total += c
    return out


@dataclass(frozen=True)
class Shard:
    """The training rows of one rank, for a global batch of `batch` rows over `rows` rows.

    Every step of an epoch takes `batch` rows in all (the last one `rows % batch`, when that
    is not 0): `local_batch` from this rank, `last_rows` in the short last step. The rank's
    shard is rows [start, start + count) of the training rows, in file order: exactly what
    its steps take in one epoch."""

    rank: int
    size: int
    rows: int  # training rows, all ranks together
    batch: int  # the global batch (train.batch_size)
    local_batch: int  # this rank's rows in a full step
    last_rows: int  # this rank's rows in the short last step (0 when there is none)
    start: int
    count: int

    @property
    def steps(self) -> int:
        return -(-self.rows // self.batch)

    def step_rows(self, i: int) -> tuple[int, int]:
        """(this rank's rows, all ranks' rows) of step `i`, 0-based."""
        full = self.rows // self.batch
        if i < full:
            return self.local_batch, self.batch
        return self.last_rows, self.rows - full * self.batch

    @classmethod
    def of(cls, rows: int, batch: int, world: World) -> Shard:
        if batch < world.size:
            raise UsageError(
                "train.batch_size",
                f"{batch} is the global batch, split across {world.size} processes: it must "
                f"be at least {world.size}",
            )
        full, rem = divmod(rows, batch)
        locals_ = even_counts(batch, world.size)
        lasts = even_counts(rem, world.size)
        counts = [full * b + last for b, last in zip(locals_, lasts, strict=True)]
        r = world.rank
        return cls(r, world.size, rows, batch, locals_[r], lasts[r], offsets(counts)[r], counts[r])


def peer_lost(e: BaseException) -> PeerLostError:
    text = " ".join(str(e).split())
    # gloo's "[.../pair.cc:537] Read error [127.0.0.1]:2981: Connection reset by peer. This
    # is typically caused by ...": the what, without the source line and the advice
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]
    text = text.split(". ", 1)[0][:160]
    return PeerLostError(
        "train", f"lost contact with another process of this run ({text or type(e).__name__})"
    )


def is_collective_failure(e: BaseException) -> bool:
    """A failure of torch.distributed itself (a peer died, a timeout), not of our code."""
    dist_error = getattr(torch.distributed, "DistError", None)
    if dist_error is not None and isinstance(e, dist_error):
        return True
    if type(e) is RuntimeError:
        text = str(e).lower()
        return any(w in text for w in ("gloo", "nccl", "connection", "peer", "timed out"))
    return False


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """`t` summed over the ranks, in place."""
    torch.distributed.all_reduce(t)
    return t


def gather_rows(local: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """The ranks' row blocks (rank r holds `counts[r]` rows of `local`'s width) stacked in
    rank order, on every rank: an all-gather of blocks padded to the largest count, the
    padding dropped (no row is duplicated)."""
    dist = torch.distributed
    most = max(counts)
    pad = torch.zeros((most, *local.shape[1:]), dtype=local.dtype, device=local.device)
    pad[: local.shape[0]] = local
    blocks = [torch.empty_like(pad) for _ in counts]
    dist.all_gather(blocks, pad)
    return torch.cat([b[:c] for b, c in zip(blocks, counts, strict=True)])


def gather_objects(obj: Any, world: World) -> list[Any]:
    """Every rank's `obj` (small, picklable: RNG states), in rank order, on every rank."""
    out: list[Any] = [None] * world.size
    torch.distributed.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, world: World) -> Any:
    """Rank 0's `obj` on every rank."""
    box = [obj if world.main else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def agree(error: BaseException | None, world: World) -> None:
    """A collective check after a step every rank takes on its own (loading the data): when
    any rank failed, every rank raises — rank 0 the first failure (naming its rank when it is
    not rank 0's own), the others a silent copy — so one line is printed, not N."""
    mine = None
    if error is not None:
        if isinstance(error, SigmoidnetError):
            mine = (error.exit_code, error.message)
        else:  # a bug: this rank raises it with its traceback, the others name it
            mine = (1, f"{type(error).__name__}: {error}")
    found = gather_objects(mine, world)
    failed = [(r, f) for r, f in enumerate(found) if f is not None]
    if not failed:
        return
    if error is not None and not isinstance(error, SigmoidnetError):
        raise error
    r, (code, message) = failed[0]
    where = "" if r == world.rank else f"rank {r}: "
    raise RankError(code, where + message, quiet=not world.main)


class RankError(SigmoidnetError):
    """A failure agreed on by all ranks: printed once, by rank 0."""

    def __init__(self, code: int, message: str, quiet: bool = False) -> None:
        self.exit_code = code
        self.quiet = quiet
        super().__init__(None, message)


def processes(n: int) -> str:
    return "one process" if n == 1 else f"{n} processes"


class RankReduce:
    """`preprocess.standardize.Reduce` over the ranks of `world`: the statistics of rows
    spread over the processes (small objects: counts, chunk sums, a sample, the values in a
    median's bracket), through `all_gather_object`."""

    def __init__(self, world: World) -> None:
        self.world = world

    def _all(self, obj: Any) -> list[Any]:
        return gather_objects(obj, self.world)

    def rows(self, n: int) -> int:
        return int(sum(self._all(int(n))))

    def offset(self, n: int) -> int:
        return int(sum(self._all(int(n))[: self.world.rank]))

    def chunks(self, local: list[Any]) -> list[Any]:
        return [c for part in self._all(local) for c in part]

    def sum(self, local: Any) -> Any:
        import numpy as np

        return np.sum(self._all(local), axis=0)

    def concat(self, local: Any) -> Any:
        import numpy as np

        return np.concatenate(self._all(local))
