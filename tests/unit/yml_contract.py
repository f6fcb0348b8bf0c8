"""What MicrosoftGraphUser.yml declares, and checks that code and results stay within it.

Used by tests/unit/test_yml_contract.py (static checks over every command) and by the command tests, which pass
each result through `assert_outputs_declared` so every context path a command really writes is checked against
the outputs its yml entry declares.
"""
import ast
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
YML_PATH = ROOT / 'MicrosoftGraphUser.yml'
SOURCE_PATH = ROOT / 'MicrosoftGraphUser.py'
OUTPUT_TYPES = frozenset({'String', 'Number', 'Boolean', 'Date', 'Unknown'})


@functools.cache
def integration_yml() -> dict:
    return yaml.safe_load(YML_PATH.read_text(encoding='utf-8'))


def yml_commands() -> dict[str, dict]:
    """The yml commands by name."""
    return {command['name']: command for command in integration_yml()['script']['commands']}


def declared_outputs(command: str) -> dict[str, str]:
    """contextPath -> type of the outputs the yml declares for `command`."""
    return {output['contextPath']: output.get('type', '') for output in yml_commands()[command].get('outputs') or []}


def declared_args(command: str) -> dict[str, dict]:
    return {argument['name']: argument for argument in yml_commands()[command].get('arguments') or []}


# ---------------------------------------------------------------------------------------------------------------
# Context paths of results
# ---------------------------------------------------------------------------------------------------------------

def context_root(key: str) -> str:
    """The context path of an EntryContext key: `MSGraphUser(val.ID && val.ID == obj.ID)` -> `MSGraphUser`."""
    return key.split('(', 1)[0]


def undeclared_paths(command: str, entry_context: dict, open_objects: Iterable[str] = ()) -> list[str]:
    """The context paths of `entry_context` that the yml does not declare for `command` (or declares with
    another type), sorted.

    Objects are walked; a list of objects is walked element by element; a declared path is a leaf whatever it
    holds (a list of phone numbers, a nested object). `open_objects` are paths whose direct children are
    dynamic (e.g. every property of a user under `MSGraphUser`): any child is accepted.
    """
    declared = declared_outputs(command)
    parents = {path.rsplit('.', depth)[0] for path in declared for depth in range(1, path.count('.') + 1)}
    opened = set(open_objects)
    problems: set[str] = set()

    def walk(path: str, value: Any) -> None:
        if path in declared:
            expected = declared[path]
            if expected == 'Boolean' and value is not None and not isinstance(value, bool):
                problems.add(f'{path} (declared Boolean, got {type(value).__name__})')
            if expected == 'Number' and value is not None and (isinstance(value, bool)
                                                               or not isinstance(value, int | float)):
                problems.add(f'{path} (declared Number, got {type(value).__name__})')
            return
        if isinstance(value, list):
            for item in value:
                walk(path, item)
            return
        if isinstance(value, dict) and (path in parents or path in opened):
            for key, child in value.items():
                child_path = f'{path}.{key}'
                if path in opened and child_path not in declared and child_path not in parents:
                    continue
                walk(child_path, child)
            return
        if value is None and path in parents:
            return
        problems.add(path)

    for key, value in (entry_context or {}).items():
        walk(context_root(key), value)
    return sorted(problems)


def assert_outputs_declared(command: str, result: Any, open_objects: Iterable[str] = ()) -> dict:
    """Assert every context path of `result` (a CommandResults or an entry dict) is declared for `command`.

    Returns the entry (`to_context()` of a CommandResults), so a test can go on asserting on it.
    """
    entry = result.to_context() if hasattr(result, 'to_context') else result
    missing = undeclared_paths(command, entry.get('EntryContext') or {}, open_objects)
    assert not missing, f'{command} writes context paths its yml entry does not declare: {missing}'
    return entry


# ---------------------------------------------------------------------------------------------------------------
# Arguments the code reads (static analysis of MicrosoftGraphUser.py)
# ---------------------------------------------------------------------------------------------------------------

class ArgReads:
    """Finds the argument names a command function reads, following the helpers it hands `args` to.

    Recognised reads of the `args` dict: `args.get('x')`, `args['x']`, `'x' in args`. A helper that reads
    `args.get(name)` with `name` one of its own parameters counts the string passed for that parameter (or its
    default), through any number of helpers. Also counted: the arguments named in `@handles_not_found(...)`.
    Functions are found by `__qualname__`, so commands built in a factory (`f.<locals>.g`) are covered.
    """

    def __init__(self, source: str) -> None:
        self.functions: dict[str, ast.FunctionDef] = {}
        self._index(ast.parse(source).body, '')
        self._cache: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}

    def _index(self, body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef):
                qualname = f'{prefix}{node.name}'
                self.functions[qualname] = node
                self._index(node.body, f'{qualname}.<locals>.')

    def resolve(self, name: str, caller: str) -> str | None:
        """The qualname `name` refers to when called from `caller` (enclosing scopes first, then the module)."""
        scope = caller
        while scope:
            candidate = f'{scope}.<locals>.{name}'
            if candidate in self.functions:
                return candidate
            scope = scope.rpartition('.<locals>.')[0]
        return name if name in self.functions else None

    def command_reads(self, qualname: str) -> set[str]:
        names = set(self.reads(qualname, 'args')[0])
        for decorator in self.functions[qualname].decorator_list:
            names |= self.decorator_reads(decorator)
        return names

    @staticmethod
    def decorator_reads(decorator: ast.expr) -> set[str]:
        if not (isinstance(decorator, ast.Call) and getattr(decorator.func, 'id', '') == 'handles_not_found'):
            return set()
        given = {keyword.arg: keyword.value for keyword in decorator.keywords}
        for position, name in enumerate(('user_arg', 'other')):
            if position < len(decorator.args):
                given[name] = decorator.args[position]
        names = {'user'}
        user_arg = given.get('user_arg')
        if isinstance(user_arg, ast.Constant) and isinstance(user_arg.value, str):
            names = {user_arg.value}
        other = given.get('other')
        if isinstance(other, ast.Tuple) and len(other.elts) == 2 and isinstance(other.elts[1], ast.Constant) \
                and isinstance(other.elts[1].value, str):
            names.add(other.elts[1].value)
        return names

    def reads(self, qualname: str, args_param: str) -> tuple[frozenset[str], frozenset[str]]:
        """(literal argument names read, own parameters whose value is used as an argument name)."""
        key = (qualname, args_param)
        if key in self._cache:
            return self._cache[key]
        self._cache[key] = (frozenset(), frozenset())  # cycle guard
        function = self.functions[qualname]
        params = {arg.arg for arg in function.args.args + function.args.kwonlyargs}
        literal: set[str] = set()
        via_param: set[str] = set()

        def note(name_node: ast.expr) -> None:
            if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
                literal.add(name_node.value)
            elif isinstance(name_node, ast.Name) and name_node.id in params:
                via_param.add(name_node.id)

        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'get' \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == args_param and node.args:
                note(node.args[0])
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and node.value.id == args_param:
                note(node.slice)
            elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In) \
                    and isinstance(node.comparators[0], ast.Name) and node.comparators[0].id == args_param:
                note(node.left)
            elif isinstance(node, ast.Call):
                for name_node in self.call_reads(node, qualname, args_param):
                    note(name_node)
        self._cache[key] = (frozenset(literal), frozenset(via_param))
        return self._cache[key]

    def call_reads(self, call: ast.Call, caller: str, args_param: str) -> Iterator[ast.expr]:
        """The argument-name expressions (as written at this call) read by a function this call hands `args` to."""
        callee_name = self.resolve(call.func.id, caller) if isinstance(call.func, ast.Name) else None
        if callee_name is None:
            return
        callee = self.functions[callee_name].args
        positional = [arg.arg for arg in callee.args]
        bound: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
        bound.update({keyword.arg: keyword.value for keyword in call.keywords if keyword.arg})
        defaults: dict[str, ast.expr] = dict(zip(positional[len(positional) - len(callee.defaults):],
                                                 callee.defaults, strict=False))
        defaults.update({arg.arg: default for arg, default in zip(callee.kwonlyargs, callee.kw_defaults,
                                                                  strict=False) if default is not None})
        for param, value in bound.items():
            if not (isinstance(value, ast.Name) and value.id == args_param):
                continue
            literal, via_param = self.reads(callee_name, param)
            for name in literal:
                yield ast.Constant(name)
            for name_param in via_param:
                passed = bound.get(name_param, defaults.get(name_param))
                if passed is not None:
                    yield passed


def source_arg_reads() -> ArgReads:
    return ArgReads(SOURCE_PATH.read_text(encoding='utf-8'))


DT_KEY = re.compile(r'^[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9@]+)*\(.+\)$')


def static_context_roots() -> set[str]:
    """Context roots written literally in the source: `outputs_prefix='X'` and hand-written DT keys."""
    tree = ast.parse(SOURCE_PATH.read_text(encoding='utf-8'))
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'outputs_prefix':
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                roots.add(node.value.value)
            elif isinstance(node.value, ast.Name) and node.value.id in constants:
                roots.add(constants[node.value.id])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DT_KEY.match(node.value):
            roots.add(context_root(node.value))
    return roots
