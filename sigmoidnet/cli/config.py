"""`sigmoidnet config show` / `config schema`: the resolved config as YAML, the JSON Schema
of configs."""

from __future__ import annotations

import typer

from sigmoidnet.cli import render
from sigmoidnet.cli._boundary import boundary
from sigmoidnet.cli._options import ConfigOpt, SetOpt


@boundary
def show(config: ConfigOpt, set_: SetOpt = None) -> None:
    """Print the resolved config as YAML (defaults filled in, data paths absolute)."""
    from sigmoidnet.config import load_config

    cfg = load_config(config, list(set_ or []))
    render.text(cfg.to_yaml())


@boundary
def schema() -> None:
    """Print the JSON Schema of configs (for editor completion)."""
    from sigmoidnet.config import json_schema

    render.json_document(json_schema())


def register(config_app: typer.Typer) -> None:
    """Add `show` and `schema` to the `config` sub-app."""
    config_app.command("show")(show)
    config_app.command("schema")(schema)
