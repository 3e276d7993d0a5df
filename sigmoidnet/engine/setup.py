"""Setup: everything the loop needs, built and checked before anything is written —
device, seeds, data, model, loss and optimizer, in the tutorial's order (seed → data →
layers, so that the same seed gives the tutorial's weights).

Before anything is allocated, the memory the run needs is estimated (`sigmoidnet.limits`)
and compared with the memory available: for random data from the config alone, for files in
the loader's size check, once the header has given the feature and label counts and the
rows (Parquet and NPZ headers; a CSV bounded by its size). Past it, `ConfigError` (exit 2)
names the key to change, the estimate and the memory available."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sigmoidnet import limits
from sigmoidnet.config import Config, PlateauSchedule
from sigmoidnet.data import Dataset, load_dataset
from sigmoidnet.data.dataset import SizeCheck
from sigmoidnet.data.messages import plural
from sigmoidnet.engine.distributed import SINGLE, Shard, World, chunk_counts, offsets
from sigmoidnet.errors import ConfigError, DataError, UsageError
from sigmoidnet.model import MLP, eval_chunk_rows


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """`auto` → cuda if available, else mps, else cpu; an unavailable device is exit 2."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("device", f"'{name}' requested but CUDA is not available here")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UsageError(
                "device", f"'{name}' requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
        return torch.device(name)
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("device", "'mps' requested but MPS is not available here")
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(model: nn.Module, cfg: Config, device: torch.device) -> torch.optim.Optimizer:
    t = cfg.train
    params = model.parameters()
    # fused kernels: one op per step for all parameters (CPU and CUDA)
    fused = device.type in ("cpu", "cuda")
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
    return torch.optim.SGD(
        params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, fused=fused
    )


def pos_weight_tensor(cfg: Config, y_train: torch.Tensor) -> torch.Tensor | None:
    """`auto` = negatives/positives per label on the training split (1 where no positives)."""
    pw = cfg.train.pos_weight
    if pw is None:
        return None
    if pw == "auto":
        pos = y_train.sum(dim=0, dtype=torch.float64)
        neg = y_train.shape[0] - pos
        w = torch.where(pos > 0, neg / pos.clamp(min=1), torch.ones_like(pos))
        return w.to(torch.float32)
    if len(pw) != y_train.shape[1]:
        raise DataError(
            "train.pos_weight",
            f"{len(pw)} values given but the data has {y_train.shape[1]} label(s)",
        )
    return torch.tensor(pw, dtype=torch.float32)


def model_size_check(cfg: Config) -> SizeCheck:
    """The data's sizes against `model.input_size` / `model.output_size`, when given."""
    m = cfg.model

    def check(n_features: int, n_labels: int, where: str, exact: bool = True) -> None:
        if exact and m.input_size is not None and m.input_size != n_features:
            raise DataError(
                where,
                f"model.input_size is {m.input_size} but the data has "
                f"{plural(n_features, 'feature')}",
            )
        if m.output_size is not None and m.output_size != n_labels:
            raise DataError(
                where,
                f"model.output_size is {m.output_size} but the data has "
                f"{plural(n_labels, 'label')}",
            )

    return check


def training_needs(
    cfg: Config,
    rows: int | None,
    n_features: int,
    n_labels: int,
    keys: tuple[str, str, str] = ("data.n_samples", "data.n_features", "data.n_labels"),
) -> list[limits.Need]:
    """What training `cfg` on `rows` rows (None: not known) of `n_features` features and
    `n_labels` labels needs: the data, the model with its gradients and optimizer state, and
    a batch. `keys` name the rows, the features and the labels in messages."""
    t, d = cfg.train, cfg.data
    batch = t.batch_size if rows is None else max(1, min(t.batch_size, rows))
    validates = d.holdout > 0 or d.val_path is not None
    needs = limits.model_needs(
        n_features,
        cfg.model.hidden_sizes,
        n_labels,
        optimizer=t.optimizer,
        momentum=t.momentum,
        batch=batch,
        eval_rows=(rows or t.batch_size) if validates else 0,
        keys=(keys[1], "model.hidden_sizes", keys[2]),
    )
    if rows is not None:
        needs.insert(0, limits.data_need(rows, n_features, n_labels, keys=keys))
    return needs


def _refuse_past_memory(needs: list[limits.Need], available: int | None) -> None:
    found = limits.memory_problem(needs, available)
    if found is not None:
        raise ConfigError(*found)


def memory_check(cfg: Config, shares: int = 1) -> SizeCheck:
    """`model_size_check`, then the memory estimate of training on the files, before their
    values or the model are allocated: called with the training file's sizes, it counts the
    rows of both the training file and the val_path (Parquet and NPZ headers say how many; a
    CSV is bounded by its size, its line ends counted when that bound is too much). `shares`:
    the processes a table read in shards is spread over (each holds about 1/shares)."""
    sizes = model_size_check(cfg)
    d = cfg.data

    def check(n_features: int, n_labels: int, where: str, exact: bool = True) -> None:
        sizes(n_features, n_labels, where, exact)
        if where != d.path:  # the val_path: its rows were counted with the training file's
            return
        available = limits.available_memory()
        if available is None:
            return
        model = sum(n.nbytes for n in training_needs(cfg, None, n_features, n_labels))
        per_row = (n_features + n_labels) * 4 * 2
        enough = max(0, available - model) // max(1, per_row)
        counts: list[tuple[int, str]] = []
        for path in (d.path, d.val_path):
            if path is not None:
                rows = limits.file_rows(d.source, path, n_features + n_labels, enough)
                counts.append((rows if rows is not None else -1, path))
        known = [(rows, path) for rows, path in counts if rows >= 0]
        total = sum(rows for rows, _ in known) if known else None
        if total is not None and shares > 1:
            total = -(-total // shares)
        blame = max(known)[1] if known else where  # the file with the most rows
        keys = (blame, where, where)
        _refuse_past_memory(training_needs(cfg, total, n_features, n_labels, keys), available)

    return check


def random_memory_check(cfg: Config) -> None:
    """The memory estimate of training on the tutorial's random data, from the config."""
    d = cfg.data
    needs = training_needs(cfg, d.n_samples, d.n_features, d.n_labels)
    _refuse_past_memory(needs, limits.available_memory())


@dataclass
class Setup:
    """Everything the `Trainer` needs, all validated: nothing has been written yet."""

    cfg: Config
    device: torch.device
    data: Dataset
    model: MLP
    optimizer: torch.optim.Optimizer
    loss_fn: nn.BCEWithLogitsLoss
    x_train: torch.Tensor  # (N, F) on device (or pinned host memory when it does not fit)
    y_train: torch.Tensor  # (N, L)
    x_val: torch.Tensor | None
    y_val: torch.Tensor | None
    on_device: bool = True
    allow_manual: bool = True  # the hand-derived train step where it applies (else autograd)
    world: World = SINGLE  # this process's rank in a data-parallel run
    #: under DDP: this rank's training rows (x_train/y_train hold only those), and the
    #: validation rows of each rank (x_val holds this rank's; y_val holds all of them)
    shard: Shard | None = None
    val_counts: list[int] | None = None
    digest: str | None = None  # under DDP: the data's digest, taken before it was sharded


def _fits_on_device(device: torch.device, nbytes: int) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    # room for the data, one shuffled copy of it, and the model's working memory
    return 2.5 * nbytes < free


def validation_needs(cfg: Config, val_rows: int | None = None) -> None:
    """Early stopping, a plateau schedule on a `val_*` metric and a tuned
    `decision.threshold` follow the validation rows: without any (no `data.val_fraction`,
    no `data.val_path`, or a split that held out none — `val_rows`, once the data is
    loaded), `ConfigError` (exit 2) naming the key."""
    t, d = cfg.train, cfg.data
    wants: list[tuple[str, str]] = []
    if t.early_stopping is not None:
        wants.append(("train.early_stopping", f"early stopping on {t.early_stopping.metric}"))
    plateau = t.lr_schedule
    if isinstance(plateau, PlateauSchedule) and plateau.metric.startswith("val_"):
        wants.append(("train.lr_schedule", f"the plateau schedule on {plateau.metric}"))
    if cfg.decision.tuned:
        wants.append(("decision.threshold", "a threshold tuned after training"))
    if cfg.decision.calibration != "none":
        wants.append(("decision.calibration", f"{cfg.decision.calibration} calibration"))
    if not wants:
        return
    if val_rows is None and (d.holdout > 0 or d.val_path is not None):
        return
    if val_rows is None:
        why = (
            "data.val_fraction is 0"
            if d.source == "random"
            else "data.val_fraction is 0 and there is no data.val_path"
        )
    elif val_rows == 0:
        why = "the validation split holds no rows"
    else:
        return
    key, what = wants[0]
    fix = "set data.val_fraction (for example 0.2)" + (
        "" if d.source == "random" else " or data.val_path"
    )
    if key == "train.lr_schedule":
        fix += ", or follow train_loss (lr_schedule: {name: plateau, metric: train_loss})"
    raise ConfigError(key, f"{what} needs validation rows, but {why}: {fix}")


def _keep_shard(
    data: Dataset, world: World, batch: int, chunk: int
) -> tuple[Shard, list[int] | None]:
    """Keep this rank's rows of `data` only (the rest is freed): its contiguous shard of the
    training rows (`Shard`) and of the validation features — whole scoring chunks of `chunk`
    rows, so that each row's logits are the bits one process computes; every rank keeps
    every validation label (the metrics are computed from all rows' logits)."""
    shard = Shard.of(int(data.x_train.shape[0]), batch, world)
    lo, hi = shard.start, shard.start + shard.count
    data.x_train = data.x_train[lo:hi].clone()
    data.y_train = data.y_train[lo:hi].clone()
    if data.x_val is None:
        return shard, None
    counts = chunk_counts(int(data.x_val.shape[0]), chunk, world.size)
    start = offsets(counts)[world.rank]
    data.x_val = data.x_val[start : start + counts[world.rank]].clone()
    return shard, counts


def _load_sharded(cfg: Config, world: World) -> Dataset | None:
    """A rank's data read in shards (`data.sharded`), or None where that does not apply."""
    from sigmoidnet.data import sharded
    from sigmoidnet.engine.distributed import RankReduce

    if not sharded.applies(cfg.data):
        return None
    m, batch = cfg.model, cfg.train.batch_size

    def layout(n_train: int, n_val: int, n_columns: int) -> sharded.Layout:
        shard = Shard.of(n_train, batch, world)
        # the scoring chunks of the model's inputs (at most a column and its indicator each)
        chunk = eval_chunk_rows(2 * n_columns, m.hidden_sizes, m.output_size or 1)
        counts = chunk_counts(n_val, chunk, world.size)
        v0 = offsets(counts)[world.rank]
        stats = sharded.stats_rows(n_train, world.rank, world.size)
        return sharded.Layout(
            (shard.start, shard.start + shard.count), stats, (v0, v0 + counts[world.rank])
        )

    return sharded.load_sharded(
        cfg.data,
        cfg.seed,
        world.rank,
        world.size,
        RankReduce(world),
        layout,
        memory_check(cfg, world.size),
    )


def prepare(cfg: Config, device: str | None = None, world: World = SINGLE) -> Setup:
    """Seed, load and check the data, build the model and optimizer (the tutorial's order:
    seed → data → layers). Under DDP (`world`), every rank fits the same preprocessing on
    all rows (the same statistics as one process, by construction) and keeps its shard."""
    validation_needs(cfg)  # from the config alone, before anything is loaded
    dev = resolve_device(device or cfg.device)
    # the memory estimate comes before any allocation: from the config for random data, from
    # the file's header (in `memory_check`, called by the loader) for files
    if cfg.data.source == "random":
        random_memory_check(cfg)
    seed_everything(cfg.seed)
    sharded = _load_sharded(cfg, world) if world.active else None
    data = sharded if sharded is not None else load_dataset(cfg.data, cfg.seed, memory_check(cfg))
    validation_needs(cfg, 0 if data.y_val is None else int(data.y_val.shape[0]))
    n_features, n_labels = data.x_train.shape[1], data.y_train.shape[1]
    m = cfg.model
    model = MLP(n_features, m.hidden_sizes, n_labels, m.activation, m.dropout)
    model.to(dev)
    # from every training row (before sharding, or every label of a sharded read)
    pw = pos_weight_tensor(cfg, data.y_train if data.y_train_all is None else data.y_train_all)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=None if pw is None else pw.to(dev))
    shard, val_counts, digest = None, None, None
    if world.active:
        from sigmoidnet.engine.resume import data_digest

        chunk = eval_chunk_rows(n_features, m.hidden_sizes, n_labels)
        if sharded is None:
            digest = data_digest(data)
            shard, val_counts = _keep_shard(data, world, cfg.train.batch_size, chunk)
        else:  # read in shards: the digest of every rank's rows, in rank order
            from sigmoidnet.engine.distributed import gather_objects

            parts = gather_objects(data_digest(data), world)
            digest = hashlib.blake2b("".join(parts).encode(), digest_size=16).hexdigest()
            assert data.y_train_all is not None
            shard = Shard.of(int(data.y_train_all.shape[0]), cfg.train.batch_size, world)
            if data.x_val is not None:  # what each rank holds (whole scoring chunks)
                val_counts = [int(c) for c in gather_objects(int(data.x_val.shape[0]), world)]
        # the ranks' dropout draws differ (the weights above were drawn alike on every rank)
        torch.manual_seed((cfg.seed + 1_000_003 * world.rank) % 2**63)

    nbytes = data.x_train.nbytes + data.y_train.nbytes
    on_device = _fits_on_device(dev, nbytes)
    if on_device:
        x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    else:  # stream batches from pinned host memory
        x_train, y_train = data.x_train.pin_memory(), data.y_train.pin_memory()
    x_val = data.x_val.to(dev) if data.x_val is not None and on_device else data.x_val
    y_val = data.y_val.to(dev) if data.y_val is not None and on_device else data.y_val
    optimizer = make_optimizer(model, cfg, dev)
    return Setup(
        cfg,
        dev,
        data,
        model,
        optimizer,
        loss_fn,
        x_train,
        y_train,
        x_val,
        y_val,
        on_device,
        world=world,
        shard=shard,
        val_counts=val_counts,
        digest=digest,
    )
