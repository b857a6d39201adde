"""The Python API: the README's example runs as written, against a temporary store and a local receiver."""

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_python_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_as_written(tmp_path, receiver):
    rx = receiver()
    code = readme_python_example().replace("http://127.0.0.1:8787", rx.url(""))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"secret: whsec_[A-Za-z0-9+/=]+", lines[0]), lines
    assert lines[1:] == ["1 succeeded 200", "3 subscription 999 not found in tenant acme"]
    assert (tmp_path / "hooks.db").exists()
    [request] = rx.requests
    assert request["path"] == "/bi"
    body = json.loads(request["body"])
    assert (body["type"], body["tenant"], body["data"]["dashboard_id"]) == ("dashboard.updated", "acme", "42")
