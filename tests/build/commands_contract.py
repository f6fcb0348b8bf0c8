"""Reads the 1.x compatibility contract, ``../shared/reference/commands.md``, into plain data.

Only what tests/build/test_contract_compat.py checks is extracted:

* §0 — the command names (``test-module`` is built in, not a yml command);
* §2 — per command: its argument names (from the ``Args:`` bullet or the ``| Arg |`` table), which of them the
  contract marks secret (or explicitly not secret), and the context paths its ``Context`` bullet declares for the
  yml (prefixes of runtime keys such as ``prefix `MSGraphUser.TAPPolicy``` are not paths);
* §3.1 — the instance parameters and their types;
* §5 — every context path that must stay resolvable, with the type §5 gives (if any) and whether it is optional
  ("optionally ..." or "keep only behind an explicit opt-in").

The notation of the document is expanded: ``<U11>`` and ``A8`` (defined in its preamble), ``Prefix.{A, B (Type)}``,
comma lists inside one code span, and ``Under `Prefix.`, ...: `A`, `B``` lines. Wildcards (``MSGraphUser.*``) name
no single path and are left out.
"""
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SHARED_CONTRACT_PATH = Path(__file__).resolve().parents[2].parent / 'shared' / 'reference' / 'commands.md'
# A snapshot of the same file, for a checkout without shared/ beside it (the shared copy wins when present).
SNAPSHOT_CONTRACT_PATH = Path(__file__).resolve().parent / 'contract' / 'commands.md'
CONTRACT_PATH = SHARED_CONTRACT_PATH if SHARED_CONTRACT_PATH.is_file() else SNAPSHOT_CONTRACT_PATH
PATH_RE = re.compile(r'^(MSGraphUser\w*|Account)(\.[@\w]+)+$')
TYPE_RE = re.compile(r'^(.*?)\s*\((String|Boolean|Number|Date|Unknown)\)$')
CODE_RE = re.compile(r'`([^`]+)`')


@dataclass
class CommandContract:
    name: str
    arguments: list[str] = field(default_factory=list)
    secret: set[str] = field(default_factory=set)
    not_secret: set[str] = field(default_factory=set)
    context_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ContextPath:
    path: str
    type: str | None
    optional: bool


def top_sections(text: str) -> dict[str, str]:
    """``## N. Title`` sections by their number, plus ``'preamble'`` for what precedes the first one."""
    parts = re.split(r'^## (\d+)\. .*$', text, flags=re.M)
    sections = {'preamble': parts[0]}
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[number] = body
    return sections


def definitions(preamble: str) -> dict[str, list[str]]:
    """The ``**U11**`` field list and the ``**A8**`` path list of the preamble."""
    found = {}
    for name in ('U11', 'A8'):
        match = re.search(rf'\*\*{name}\*\* — .*?`([^`]+)`', preamble, re.S)
        if not match:
            raise ValueError(f'commands.md: no definition of {name} in the preamble')
        found[name] = [item.strip() for item in match.group(1).split(',')]
    return found


def split_top_level(text: str) -> list[str]:
    """``text`` split on commas outside braces and parentheses."""
    items, depth, current = [], 0, ''
    for char in text:
        depth += char in '{(' and 1 or char in '})' and -1 or 0
        if char == ',' and depth == 0:
            items.append(current)
            current = ''
        else:
            current += char
    return [item.strip() for item in [*items, current] if item.strip()]


def expand(token: str, defs: dict[str, list[str]]) -> list[tuple[str, str | None]]:
    """The (path, type-or-None) pairs one code span of the contract stands for; [] for anything else."""
    token = token.strip()
    if token == 'A8':
        return [(path, None) for path in defs['A8']]
    pairs: list[tuple[str, str | None]] = []
    for item in split_top_level(token):
        brace = re.fullmatch(r'(.+\.)\{(.+)\}', item)
        if brace:
            for member in split_top_level(brace.group(2)):
                typed = TYPE_RE.match(member)
                name, kind = (typed.group(1), typed.group(2)) if typed else (member, None)
                pairs.append((brace.group(1) + name.strip(), kind))
        elif item.endswith('.<U11>'):
            pairs += [(item[:-len('<U11>')] + name, None) for name in defs['U11']]
        else:
            pairs.append((item, None))
    return [(path, kind) for path, kind in pairs if PATH_RE.match(path)]


def context_block(body: str) -> list[str]:
    """The ``* Context`` bullet of a command section as logical lines: the bullet and each sub-bullet, with their
    wrapped continuation lines joined (a code span may wrap, e.g. ``Prefix.{A, B,`` / ``C}``)."""
    logical: list[str] = []
    inside = False
    for line in body.splitlines():
        if line.startswith('* '):
            inside = line.startswith('* Context')
            if inside:
                logical.append(line)
        elif not line.startswith(' '):
            inside = False
        elif inside:
            if line.lstrip().startswith('* '):
                logical.append(line.strip())
            else:
                logical[-1] += ' ' + line.strip()
    return logical


def paths_in_context(lines: list[str], defs: dict[str, list[str]]) -> list[str]:
    paths: list[str] = []
    for line in lines:
        under = re.search(r'Under `([^`]+\.)`[^:]*:(.*)', line)
        if under:
            paths += [under.group(1) + name for name in CODE_RE.findall(under.group(2))]
            continue
        # A code span right after "prefix" names an EntryContext prefix, not a path.
        for token in CODE_RE.findall(re.sub(r'prefix `[^`]+`', '', line, flags=re.I)):
            paths += [path for path, _ in expand(token, defs)]
    return list(dict.fromkeys(paths))


def bullet(body: str, label: str) -> str:
    """The text of the first ``* <label>`` bullet, continuation lines joined."""
    lines = body.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(f'* {label}'):
            text = line[len(f'* {label}'):]
            for follow in lines[index + 1:]:
                if not follow.startswith('  ') or follow.lstrip().startswith('* '):
                    break
                text += ' ' + follow.strip()
            return text
    return ''


def strip_parentheses(text: str) -> str:
    while True:
        stripped = re.sub(r'\([^()]*\)', '', text)
        if stripped == text:
            return text
        text = stripped


def table_rows(body: str, first_header: str) -> list[dict[str, str]]:
    """Rows of the first markdown table whose first header cell is ``first_header``."""
    lines = body.splitlines()
    for index, line in enumerate(lines):
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if line.startswith('|') and cells[0] == first_header:
            rows = []
            for row in lines[index + 2:]:
                if not row.startswith('|'):
                    break
                values = [cell.strip() for cell in row.strip().strip('|').split('|')]
                rows.append(dict(zip(cells, values, strict=False)))
            return rows
    return []


def parse_command(name: str, body: str, defs: dict[str, list[str]]) -> CommandContract:
    contract = CommandContract(name)
    rows = table_rows(body, 'Arg')
    if rows:
        for row in rows:
            argument = row['Arg'].strip('`')
            contract.arguments.append(argument)
            secret = row.get('Secret', '')
            if re.search(r'\byes\b', secret):
                contract.secret.add(argument)
            elif 'explicitly `false`' in secret:
                contract.not_secret.add(argument)
    else:
        args_text = bullet(body, 'Args:')
        for match in re.finditer(r'`([a-z_][a-z0-9_]*)`\s*(\(([^()]*)\))?', args_text):
            if match.group(3) and 'Secret' in match.group(3):
                contract.secret.add(match.group(1))
        # The argument list ends at the first sentence outside parentheses ("... . Graph: DELETE ...").
        names_text = re.split(r'\.(\s|$)', strip_parentheses(args_text), maxsplit=1)[0]
        contract.arguments = [token for token in CODE_RE.findall(names_text)
                              if re.fullmatch(r'[a-z_][a-z0-9_]*', token)]
    contract.context_paths = paths_in_context(context_block(body), defs)
    return contract


@cache
def contract_text() -> str:
    if not CONTRACT_PATH.is_file():
        raise FileNotFoundError(f'the compatibility contract is neither at {SHARED_CONTRACT_PATH} nor at '
                                f'{SNAPSHOT_CONTRACT_PATH}')
    return CONTRACT_PATH.read_text(encoding='utf-8')


@cache
def overview_commands() -> tuple[str, ...]:
    """§0: the yml command names of 1.x, in order (``test-module`` left out)."""
    names = re.findall(r'^\| \d+ \| `([^`]+)` \|', top_sections(contract_text())['0'], re.M)
    return tuple(name for name in names if name != 'test-module')


@cache
def command_contracts() -> dict[str, CommandContract]:
    """§2: every command section, by name."""
    text = contract_text()
    sections = top_sections(text)
    defs = definitions(sections['preamble'])
    parts = re.split(r'^#### `([^`]+)`.*$', sections['2'], flags=re.M)
    contracts = {name: parse_command(name, body, defs) for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        same = re.search(r'same prefix, key and yml paths as ([\w-]+)', body)
        if same:  # "Context: same prefix, key and yml paths as tap-policy-list."
            source = contracts[f'msgraph-user-{same.group(1)}']
            contracts[name].context_paths = list(dict.fromkeys(contracts[name].context_paths + source.context_paths))
    return contracts


@cache
def section5_paths() -> tuple[ContextPath, ...]:
    """§5: every path that must stay resolvable; ``optional`` for those after the word "optionally"."""
    sections = top_sections(contract_text())
    defs = definitions(sections['preamble'])
    found: dict[str, ContextPath] = {}
    for row in table_rows(sections['5'], 'Path family'):
        cell = row.get('Paths', '')
        # "optionally `...`" and "keep only behind an explicit opt-in (D5)" (the secret-bearing MFA paths, which the
        # new integration may drop) make the paths they qualify optional.
        if 'opt-in' in cell:
            required_part, optional_part = '', cell
        else:
            required_part, _, optional_part = cell.partition('optionally')
        for part, optional in ((required_part, False), (optional_part, True)):
            for match in re.finditer(r'`([^`]+)`(\s*\((String|Boolean|Number)\))?', part):
                for path, kind in expand(match.group(1), defs):
                    found.setdefault(path, ContextPath(path, kind or match.group(3), optional))
            # "`P.*` (36 fields in §2.3; `A`, `B` Boolean)": a type for some fields under a wildcard prefix.
            wildcard = re.search(r'`([\w.]+)\.\*`', part)
            prefix = wildcard.group(1) if wildcard else ''
            for typed in re.finditer(r'((?:`\w+`,?\s*)+)(String|Boolean|Number)\b', part) if prefix else ():
                for name in CODE_RE.findall(typed.group(1)):
                    path = f'{prefix}.{name}'
                    found.setdefault(path, ContextPath(path, typed.group(2), optional))
    return tuple(found.values())


@cache
def parameters() -> dict[str, int]:
    """§3.1: instance parameter name -> type number."""
    rows = table_rows(top_sections(contract_text())['3'], 'Name')
    return {row['Name'].strip('`'): int(row['Type']) for row in rows}
