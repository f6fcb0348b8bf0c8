"""Command line of the runner: parse, load params, run, print entries and context, choose the exit code."""
import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from xsoar_runner import PROJECT_ROOT
from xsoar_runner.context_store import FileContextStore
from xsoar_runner.execute import Invocation, RunResult, build_server_code, execute
from xsoar_runner.render import merged_context, render_entry
from xsoar_runner.unify import integration_yml_name

PARAMS_ENV = 'XSOAR_PARAMS'
_INSTANCE_NAME = re.compile(r'^[\w.@ -]+$')


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m xsoar_runner',
        description='Run an integration command the way the Cortex XSOAR server does.',
        epilog=f'Params: env {PARAMS_ENV} (JSON object), then --params FILE overrides it, then each --param. '
               'Exit code: 0 ok, 1 error entry or exception, 2 bad usage.')
    parser.add_argument('--instance', default='default', help='instance name (its own integration context)')
    parser.add_argument('--params', metavar='FILE.json', help='instance configuration as a JSON object')
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='one parameter; true/false and JSON objects/arrays are decoded, anything else is text')
    parser.add_argument('--state-dir', default='.runner_state', help='where instances keep context and files')
    parser.add_argument('--project-root', default=str(PROJECT_ROOT), help='folder holding the integration')
    parser.add_argument('--integration', default='MicrosoftGraphUser', help='integration file name without .py')
    parser.add_argument('--debug', action='store_true', help='debug-mode: every log line to stderr (masked)')
    parser.add_argument('--json', action='store_true', help='print one JSON document instead of text')
    parser.add_argument('command', help='e.g. test-module or msgraph-user-list')
    parser.add_argument('arguments', nargs='*', metavar='NAME=VALUE', help='command arguments (strings)')
    return parser


def _split_assignment(item: str, what: str) -> tuple[str, str]:
    name, sep, value = item.partition('=')
    if not sep or not name:
        raise UsageError(f'{what} must look like NAME=VALUE, got {item!r}')
    return name, value


def _param_value(text: str) -> Any:
    if text in ('true', 'false') or text[:1] in ('{', '['):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f'--param value {text!r} is not valid JSON: {e}') from e
    return text


def _json_object(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f'{source} is not valid JSON: {e}') from e
    if not isinstance(value, dict):
        raise UsageError(f'{source} must be a JSON object')
    return value


def load_params(params_file: str | None, overrides: list[str]) -> dict[str, Any]:
    """env XSOAR_PARAMS, then the --params file, then each --param NAME=VALUE (later wins)."""
    params: dict[str, Any] = {}
    if os.environ.get(PARAMS_ENV):
        params.update(_json_object(os.environ[PARAMS_ENV], f'env {PARAMS_ENV}'))
    if params_file:
        try:
            text = Path(params_file).read_text(encoding='utf-8')
        except OSError as e:
            raise UsageError(f'cannot read --params file: {e}') from e
        params.update(_json_object(text, params_file))
    for item in overrides:
        name, value = _split_assignment(item, '--param')
        params[name] = _param_value(value)
    return params


def with_yml_defaults(project_root: Path, integration: str, command: str, command_args: dict[str, str]) -> dict:
    """``command_args`` plus the yml ``defaultValue`` of every argument not given, as the server fills them in."""
    yml = project_root / f'{integration}.yml'
    if not yml.is_file():
        return command_args
    import yaml  # only the runner needs it; the integration never reads its own yml

    commands = (yaml.safe_load(yml.read_text(encoding='utf-8')) or {}).get('script', {}).get('commands') or []
    declared = next((item.get('arguments') or [] for item in commands if item.get('name') == command), [])
    defaults = {argument['name']: str(argument['defaultValue']) for argument in declared
                if argument.get('defaultValue') not in (None, '') and argument['name'] not in command_args}
    return {**defaults, **command_args}


def run(args: argparse.Namespace, log_sink: Any) -> tuple[RunResult, Path, FileContextStore]:
    """Runs the parsed command line; returns the result, the files folder and the context store."""
    if not _INSTANCE_NAME.match(args.instance):
        raise UsageError(f'--instance {args.instance!r}: use letters, digits, space, . _ @ -')
    command_args = dict(_split_assignment(item, 'argument') for item in args.arguments)
    params = load_params(args.params, args.param)
    # The server never has our params variable; it would otherwise show up in debug-mode's environment dump.
    os.environ.pop(PARAMS_ENV, None)
    debug = args.debug or command_args.get('debug-mode', '').lower() == 'true'
    project_root = Path(args.project_root).resolve()
    command_args = with_yml_defaults(project_root, args.integration, args.command, command_args)
    instance_dir = Path(args.state_dir).resolve() / args.instance
    files_dir = instance_dir / 'files'
    files_dir.mkdir(parents=True, exist_ok=True)
    store = FileContextStore(instance_dir / 'integration_context.json')
    invocation = Invocation(command=args.command, args=command_args, params=params, instance=args.instance,
                            brand=integration_yml_name(project_root, args.integration), debug=debug)
    try:
        code = build_server_code(project_root, args.integration)
    except (OSError, ValueError) as e:
        raise UsageError(f'cannot build the integration code: {e}') from e
    return execute(code, invocation, store, files_dir, log_sink), files_dir, store


def _text_report(result: RunResult, files_dir: Path) -> str:
    blocks = [render_entry(i, entry, files_dir) for i, entry in enumerate(result.entries, start=1)]
    if result.exception:
        blocks.append(f'[{len(result.entries) + 1}] exception\n{result.exception.rstrip()}')
    if not blocks:
        blocks.append('(no entries)')
    blocks.append('Context:\n' + json.dumps(merged_context(result.entries), indent=2))
    return '\n\n'.join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    show_all_logs = args.debug

    def log_sink(level: str, text: str) -> None:
        if show_all_logs or level in ('error', 'log'):
            print(f'[{level}] {text}', file=sys.stderr)

    try:
        result, files_dir, store = run(args, log_sink)
    except UsageError as e:
        parser.exit(2, f'{parser.prog}: error: {e}\n')
    if args.json:
        errors = [str(e.get('Contents')) for e in result.entries if e.get('Type') == 4]
        if result.exception:
            errors.append(result.exception)
        # The integration context is left out on purpose: it holds tokens. It is in the state folder.
        document = {'command': args.command, 'instance': args.instance, 'entries': result.entries,
                    'context': merged_context(result.entries), 'integration_context_file': str(store.path),
                    'files_dir': str(files_dir), 'errors': errors}
        print(json.dumps(document, indent=2))
    else:
        print(_text_report(result, files_dir))
    return 1 if result.failed else 0
