"""One row per scenario, rendered as the table `python -m reliability` prints and writes to results.md."""
from __future__ import annotations

from dataclasses import dataclass, field

from reliability.secrets_book import Finding


@dataclass
class Row:
    """What one scenario measured.

    `data_lost` counts refresh tokens, access tokens or delta links the integration lost (None: the scenario does
    not keep state). `inherent_loss` is loss no client could avoid (explained in `note`) and does not fail the run.
    """

    scenario: str
    cases: int = 0
    passed: int = 0
    data_lost: int | None = None
    inherent_loss: int = 0
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed case (the first ones are printed)
    note: str = ''
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.cases > 0 and self.passed == self.cases and not self.data_lost and not self.findings

    def fail(self, text: str) -> None:
        self.failures.append(text)


def data_lost_cell(row: Row) -> str:
    if row.data_lost is None:
        return 'n/a'
    return f'{row.data_lost} (+{row.inherent_loss} inherent)' if row.inherent_loss else str(row.data_lost)


def render_table(rows: list[Row]) -> str:
    lines = ['| Scenario | Cases tried | Passed | Data lost | Secrets leaked |', '|---|---:|---:|---:|---:|']
    for row in rows:
        lines.append(f'| {row.scenario} | {row.cases} | {row.passed} | {data_lost_cell(row)} | {len(row.findings)} |')
    return '\n'.join(lines)


def render_details(rows: list[Row], limit: int = 5) -> str:
    """Notes, timings and the first failures / findings of every row."""
    parts = []
    for row in rows:
        text = f'* **{row.scenario}** ({row.seconds:.1f} s): {row.note}'.rstrip(': ')
        for failure in row.failures[:limit]:
            text += f'\n  * FAILED: {" | ".join(failure.splitlines())}'
        if len(row.failures) > limit:
            text += f'\n  * ... and {len(row.failures) - limit} more failures'
        for finding in row.findings[:limit]:
            text += f'\n  * LEAK: {finding.label} in {finding.where}: {finding.excerpt!r}'
        parts.append(text)
    return '\n'.join(parts)
