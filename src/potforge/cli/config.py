"""YAML → typed config for the CLI verbs (validated once, ``--set`` overrides applied).

The schemas live with the code they configure (``potforge.training.config`` for the data,
loss and training sections, each family's ``models/<family>/config.py`` for ``model:``); the
generic machinery (unknown-key suggestions, quantities with units, overrides) is in
``potforge.core.config``.
"""

from __future__ import annotations

import argparse

from ..training.config import Config, load_config

__all__ = ["add_config_options", "config_from_args"]


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="training config (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.epochs=50 "
                             "(repeatable; VALUE is YAML)")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides)
