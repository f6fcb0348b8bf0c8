"""Terminal rendering of war-room entries: markdown tables and headings as plain text."""
import json
import re
import textwrap
from pathlib import Path
from typing import Any

ENTRY_TYPE_NAMES = {1: 'note', 3: 'file', 4: 'error', 9: 'info file', 11: 'warning', 19: 'execution metrics'}
MAX_COLUMN_WIDTH = 60
_CELL_SPLIT = re.compile(r'(?<!\\)\|')
_SEPARATOR_ROW = re.compile(r'^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$')


def _cells(row: str) -> list[str]:
    parts = _CELL_SPLIT.split(row.strip())
    if parts and parts[0].strip() == '':
        parts = parts[1:]
    if parts and parts[-1].strip() == '':
        parts = parts[:-1]
    return [p.strip().replace('\\|', '|').replace('\\`', '`').replace('<br>', '\n') for p in parts]


def _wrap(cell: str, width: int) -> list[str]:
    lines: list[str] = []
    for line in cell.split('\n'):
        lines.extend(textwrap.wrap(line, width) or [''])
    return lines


def _table(rows: list[list[str]]) -> list[str]:
    columns = max(len(r) for r in rows)
    rows = [r + [''] * (columns - len(r)) for r in rows]
    widths = [min(MAX_COLUMN_WIDTH, max(max(len(line) for line in cell.split('\n')) for cell in col) or 1)
              for col in zip(*rows, strict=True)]
    out = []
    for index, row in enumerate(rows):
        wrapped = [_wrap(cell, width) for cell, width in zip(row, widths, strict=True)]
        for n in range(max(len(w) for w in wrapped)):
            out.append(' | '.join((w[n] if n < len(w) else '').ljust(width)
                                  for w, width in zip(wrapped, widths, strict=True)).rstrip())
        if index == 0:
            out.append('-+-'.join('-' * width for width in widths))
    return out


def markdown_to_text(markdown: str) -> str:
    """Headings underlined, tables as aligned columns, bold markers and escapes removed."""
    lines = markdown.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith('|') and i + 1 < len(lines) and _SEPARATOR_ROW.match(lines[i + 1]):
            rows = [_cells(line)]
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith('|'):
                rows.append(_cells(lines[i]))
                i += 1
            out.extend(_table(rows))
            continue
        heading = re.match(r'^(#{1,6})\s+(.*)$', line)
        if heading:
            title = heading.group(2).strip()
            out.extend([title, ('=' if len(heading.group(1)) <= 2 else '-') * len(title)])
        else:
            out.append(line.replace('**', ''))
        i += 1
    return '\n'.join(out)


def render_entry(index: int, entry: dict[str, Any], files_dir: Path) -> str:
    """One entry as terminal text, headed ``[n] <type>``."""
    entry_type = entry.get('Type')
    lines = [f'[{index}] ' + ENTRY_TYPE_NAMES.get(entry_type, f'type {entry_type}')]  # type: ignore[arg-type]
    if entry.get('File') is not None and entry_type in (3, 9):
        # fileResult named it <investigation id>_<FileID> in the run's working directory
        written = sorted(files_dir.glob(f"*_{entry.get('FileID')}"))
        where = str(written[0]) if written else f'(not found in {files_dir})'
        lines.append(f"File: {entry.get('File')} -> {where}")
    elif entry.get('HumanReadable'):
        lines.append(markdown_to_text(str(entry['HumanReadable'])))
    else:
        contents = entry.get('Contents')
        if entry.get('ContentsFormat') == 'json' and not isinstance(contents, str):
            lines.append(json.dumps(contents, indent=2))
        elif entry.get('ContentsFormat') == 'markdown':
            lines.append(markdown_to_text(str(contents)))
        else:
            lines.append(str(contents))
    if entry.get('PollingCommand'):
        lines.append(f"(scheduled: {entry['PollingCommand']} again in {entry.get('NextRun')} s, "
                     f"timeout {entry.get('Timeout')} s, args {json.dumps(entry.get('PollingArgs'))})")
    return '\n'.join(lines)


def merged_context(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The EntryContext of all entries; a key written by several entries collects their values in a list."""
    merged: dict[str, Any] = {}
    for entry in entries:
        for key, value in (entry.get('EntryContext') or {}).items():
            if key in merged:
                previous = merged[key] if isinstance(merged[key], list) else [merged[key]]
                merged[key] = previous + (value if isinstance(value, list) else [value])
            else:
                merged[key] = value
    return merged
