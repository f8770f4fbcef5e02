"""Known vulnerabilities in the installed dependencies (pip-audit), for scripts/test.

pip-audit asks a vulnerability service about each installed package. When the service cannot
be reached, pip-audit either fails with a network error or reports every package as "could not
be audited" and exits 0: a pass that audited nothing. This wrapper tells the three cases apart:

- a known vulnerability in any package: listed, exit 1 (the run fails);
- no service reached (a network error, or no package audited): one clear note on stderr, exit 0,
  so a machine without that access still runs the rest of the gates; the note says nothing
  was audited;
- some packages audited, some not: the audited ones count; the skipped ones are named.

Extra arguments go to pip-audit (e.g. ``-r requirements.txt --no-deps --disable-pip``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def main(args: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        command = [str(PIP_AUDIT), "--progress-spinner", "off", "--skip-editable", "-f", "json"]
        done = subprocess.run(  # noqa: S603 - the venv's own pip-audit
            [*command, "-o", str(report), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists() or not report.read_text().strip():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"pip-audit: NOT RUN, no vulnerability service reached ({last[:200]})",
                  file=sys.stderr)  # fmt: skip
            return 0
        dependencies = json.loads(report.read_text()).get("dependencies", [])
    code, lines = judge(dependencies)
    for line in lines:
        print(line, file=sys.stderr)
    return code


def judge(dependencies: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """The exit code and the lines to print for pip-audit's JSON ``dependencies``."""
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"pip-audit: {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})"
            )
    if vulnerable:
        return 1, lines
    if audited == 0:
        note = "pip-audit: NOT RUN, no vulnerability service reached: none of"
        return 0, [f"{note} {len(dependencies)} packages could be audited"]
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        lines.append(f"pip-audit: {len(skipped)} packages not audited: {names}")
    lines.append(f"pip-audit: {audited} packages audited, no known vulnerabilities")
    return 0, lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
