"""docs/testing-guide.md shows its examples as they are in docs/examples/testing_guide,
which runs as tests (on the reference here, on Ray in CI's Ray step): no block of the
guide may drift from the code that is tested."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "testing-guide.md"
EXAMPLES = ROOT / "docs" / "examples" / "testing_guide"
# A block after `<!-- fragment -->` is a sketch (a signature with `...`), not a recipe.
PYTHON_BLOCK = re.compile(r"^(<!-- fragment -->\n)?```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_every_python_block_of_the_guide_is_tested_code() -> None:
    blocks = [code for fragment, code in PYTHON_BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if not fragment]
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.py"))}
    assert len(blocks) >= 10, f"expected the guide's recipes, found {len(blocks)} Python blocks"
    drifted = [block for block in blocks if not any(block in source for source in sources.values())]
    assert not drifted, "blocks of docs/testing-guide.md not found verbatim in docs/examples/testing_guide:\n" + (
        "\n---\n".join(drifted)
    )
