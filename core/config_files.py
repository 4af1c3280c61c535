"""The method config files (`configs/<method>.yaml`): where they are and how one is read, for every command that
takes one (a run, the comparison, the benchmark)."""

from __future__ import annotations

import json
import os

import yaml

from .errors import BadInputError

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def config_path(method: str) -> str:
    return os.path.join(CONFIG_DIR, f"{method}.yaml")


def read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise BadInputError(f"config file {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        try:
            config = json.load(handle) if path.endswith(".json") else yaml.safe_load(handle)
        except (ValueError, yaml.YAMLError) as error:
            raise BadInputError(f"config file {path} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: "
                                f"{str(error).splitlines()[0]}") from error
    if not isinstance(config, dict):
        raise BadInputError(f"config file {path} must hold a mapping of argument names to values")
    return config
