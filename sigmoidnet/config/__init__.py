"""The config schema and its loader: every validation of user configuration happens here.

`load_config(path, overrides)` reads YAML strictly — YAML 1.2 core-schema scalars (`1e-3` is a
float; `no`, `1_000`, `0b101` and dates are strings), no duplicate keys, only plain-data tags —
and within limits (`sigmoidnet.limits`): a regular file of at most 1 MiB, no anchors or
aliases, at most 32 levels of nesting and 100,000 values, scalar keys, integers of at most 100
digits, no lone surrogates. It applies `--set KEY=VALUE` overrides (YAML values, under the same
rules), validates with pydantic in strict mode and returns a frozen `Config`. Errors are
`ConfigError`s (exit 2) whose one-line message names the file (and line:column), the key
path, what was expected and what was got, and — for unknown keys — the nearest valid key.

The modules: `_base` (what every section shares), `data`, `training` and `schema` (the
sections and the whole `Config`), `yaml_strict` (the strict YAML reader) and `loader` (file,
overrides, validation, messages).
"""

from sigmoidnet.config._base import DEVICE_RE, NAME_RULE, name_problem
from sigmoidnet.config.data import DataConfig
from sigmoidnet.config.loader import apply_override, config_from_dict, load_config
from sigmoidnet.config.schema import Config, DecisionConfig, ModelConfig, json_schema
from sigmoidnet.config.training import (
    PLATEAU_METRICS,
    VAL_METRICS,
    ConstantSchedule,
    CosineSchedule,
    EarlyStoppingConfig,
    ExponentialSchedule,
    OneCycleSchedule,
    PlateauSchedule,
    StepSchedule,
    TrainConfig,
)
from sigmoidnet.config.yaml_strict import parse_yaml

__all__ = [
    "DEVICE_RE",
    "NAME_RULE",
    "PLATEAU_METRICS",
    "VAL_METRICS",
    "Config",
    "ConstantSchedule",
    "CosineSchedule",
    "DataConfig",
    "DecisionConfig",
    "EarlyStoppingConfig",
    "ExponentialSchedule",
    "ModelConfig",
    "OneCycleSchedule",
    "PlateauSchedule",
    "StepSchedule",
    "TrainConfig",
    "apply_override",
    "config_from_dict",
    "json_schema",
    "load_config",
    "name_problem",
    "parse_yaml",
]
