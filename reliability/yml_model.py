"""The commands and arguments MicrosoftGraphUser.yml declares: what the hostile-input scenario generates from."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

YML_PATH = Path(__file__).resolve().parents[1] / 'MicrosoftGraphUser.yml'


@dataclass(frozen=True)
class Argument:
    name: str
    required: bool
    secret: bool
    predefined: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[Argument, ...]

    def argument(self, name: str) -> Argument | None:
        return next((argument for argument in self.arguments if argument.name == name), None)


@functools.cache
def commands() -> tuple[Command, ...]:
    """Every command of the yml, in yml order."""
    document = yaml.safe_load(YML_PATH.read_text(encoding='utf-8'))
    return tuple(
        Command(item['name'], tuple(
            Argument(arg['name'], bool(arg.get('required')), bool(arg.get('secret')),
                     tuple(str(value) for value in arg.get('predefined') or ()))
            for arg in item.get('arguments') or ()))
        for item in document['script']['commands'])
