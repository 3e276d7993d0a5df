"""What `train --resume RUN_DIR` checks before it continues a run.

A resumed run uses the run's own `config.yaml`. The one change it takes is `train.epochs`
(to extend a finished or stopped run); after a divergence (exit 5) `train.lr` and
`train.grad_clip` may change too, since that is how such a run is continued. Any other
difference — from `--set`, or from a `--config` given beside `--resume` — is exit 2, naming
the keys. The data must be the data the run started on: a digest of the rows, kept in the
state, is compared with the one the reloaded data gives (exit 3 when it changed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmoidnet.config import Config, load_config
from sigmoidnet.errors import ConfigError, DataError

if TYPE_CHECKING:
    from sigmoidnet.data import Dataset

#: keys a resume may change, always / after a divergence
EXTEND_KEYS = frozenset({"train.epochs"})
#: keys fitted after training (on the validation rows): a resume may change them, and a
#: complete run resumed with them changed has its decisions fitted again
DECISION_KEYS = frozenset({"decision.threshold", "decision.calibration"})
AFTER_DIVERGENCE_KEYS = frozenset({"train.lr", "train.grad_clip"})
#: keys that do not change what is trained (the run directory stays where it is, and keeps
#: its name)
IGNORED_KEYS = frozenset({"out_dir", "name"})


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def config_differences(old: Config, new: Config) -> list[str]:
    """The dotted keys whose values differ between two resolved configs, in schema order."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old.model_dump(mode="json"), "", a)
    _flatten(new.model_dump(mode="json"), "", b)
    keys = list(a) + [k for k in b if k not in a]
    return [k for k in keys if a.get(k, _MISSING) != b.get(k, _MISSING)]


_MISSING = object()


def resume_config(
    run: Path,
    overrides: list[str],
    config_path: Path | None = None,
    diverged: bool = False,
) -> tuple[Config, Config, list[str]]:
    """(the run's config, the config to resume with, the keys that differ). A difference
    that a resume cannot take is `ConfigError` (exit 2), naming every such key."""
    stored = load_config(run / "config.yaml")
    # the run's name is its own: a --config beside --resume compares against it as it is
    cfg = load_config(run / "config.yaml", overrides)
    if config_path is not None:
        given = load_config(config_path, overrides)
        given_diff = [
            k
            for k in config_differences(stored, given)
            if k not in IGNORED_KEYS | EXTEND_KEYS | DECISION_KEYS
        ]
        given_diff = [k for k in given_diff if not (diverged and k in AFTER_DIVERGENCE_KEYS)]
        if given_diff:
            raise ConfigError(
                str(config_path),
                f"differs from the run's config.yaml in {_keys(given_diff)}; a resumed run "
                "keeps its config (only train.epochs and decision.* may change); drop "
                "--config to resume with the run's own",
            )
        cfg = given.model_copy(update={"out_dir": stored.out_dir, "name": stored.name})
    allowed = EXTEND_KEYS | DECISION_KEYS | (AFTER_DIVERGENCE_KEYS if diverged else frozenset())
    diff = [k for k in config_differences(stored, cfg) if k not in IGNORED_KEYS]
    refused = [k for k in diff if k not in allowed]
    if refused:
        hint = (
            "only train.epochs, train.lr and train.grad_clip may change after a divergence"
            if diverged
            else "only train.epochs (to extend the run) and decision.* may change"
        )
        raise ConfigError(
            "command line (--set)",
            f"a resumed run keeps its config: {_keys(refused)} would change; {hint}",
        )
    return stored, cfg, diff


def _keys(keys: list[str]) -> str:
    return ", ".join(keys)


def data_digest(data: Dataset) -> str:
    """A digest of the rows as the model sees them (training and validation features and
    labels, after preprocessing): a resume on changed data is refused, not trained on.
    BLAKE2b reads about a gigabyte a second, a small share of a resume's load time."""
    h = hashlib.blake2b(digest_size=16)
    for t in (data.x_train, data.y_train, data.x_val, data.y_val):
        if t is None:
            h.update(b"none")
            continue
        h.update(repr((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.contiguous().numpy().tobytes() if t.numel() else b"")
    h.update(json.dumps([data.feature_names, data.label_names]).encode())
    return h.hexdigest()


def check_same_data(stored: str | None, now: str, where: str) -> None:
    """The digest saved with the state against the reloaded data's."""
    if stored is not None and stored != now:
        raise DataError(
            where,
            "is not the data this run was trained on (its rows, after preprocessing, "
            "differ from the ones the run's state was saved with); a run resumes only on "
            "the same data",
        )
