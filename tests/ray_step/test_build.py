"""`reference-serve build` writes the file Ray's own `serve build` writes for the same app.

Run in the Ray step of CI; skipped without Ray.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reference_impl.ray_alias import real_ray_version

yaml = pytest.importorskip("yaml")
if real_ray_version() is None:  # `import ray` may be the reference's stand-in here
    pytest.skip("Ray is not installed", allow_module_level=True)

DOWNSTREAM = Path(__file__).resolve().parents[2] / "docs" / "examples" / "downstream"


def _build(command: list[str], out: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, *command, "build", "textsvc:app", "-o", str(out)],
        cwd=DOWNSTREAM,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def test_build_matches_ray_serve_build(tmp_path: Path) -> None:
    ours = _build(["-m", "reference_impl"], tmp_path / "ours.yaml")
    rays = _build(["-c", "import sys; from ray.serve.scripts import cli; sys.exit(cli())"], tmp_path / "ray.yaml")
    assert ours == rays
