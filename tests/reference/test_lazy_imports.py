"""Start-up: FastAPI, numpy and PyYAML are imported only by the features that need them.

Each case runs in a fresh interpreter (this one has imported everything already) and
prints which of those modules it had imported at each step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

RUN_S = 60.0

SCRIPT = """
import json, sys, urllib.request
from reference_impl import serve, api

HEAVY = ("fastapi", "numpy", "yaml")
seen = {}

def note(step):
    seen[step] = sorted(m for m in HEAVY if m in sys.modules)

note("import")

@serve.deployment
class Values:
    def __call__(self, request):
        kind = request.query_params.get("kind")
        if kind == "tuple":
            return (1, 2)  # not plain JSON: FastAPI's encoder
        if kind == "numpy":
            import numpy
            return numpy.arange(3)
        return {"plain": [1, "a", None]}

serve.start(http_options={"port": 0})
serve.run(Values.bind(), route_prefix="/v")
url = api.running_instance().url
def get(kind):
    with urllib.request.urlopen(f"{url}/v?kind={kind}", timeout=10) as response:
        return response.read().decode()
bodies = {"plain": get("plain")}
note("first 200")
bodies["tuple"] = get("tuple")
note("tuple")
bodies["numpy"] = get("numpy")
note("numpy")
serve.shutdown()
print(json.dumps({"seen": seen, "bodies": bodies}))
"""


def _run(script: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=RUN_S
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_serving_plain_values_imports_no_fastapi_numpy_or_yaml() -> None:
    """`from reference_impl import serve`, a start and a plain JSON response import none
    of FastAPI, numpy, PyYAML; a value that needs FastAPI's encoder brings FastAPI in, and
    a numpy value the app made (its import of numpy) is encoded as before."""
    result = _run(SCRIPT)
    assert result["bodies"] == {"plain": '{"plain":[1,"a",null]}', "tuple": "[1,2]", "numpy": "[0,1,2]"}
    assert result["seen"] == {
        "import": [],
        "first 200": [],
        "tuple": ["fastapi"],
        "numpy": ["fastapi", "numpy"],
    }


def test_config_files_and_fastapi_ingress_import_what_they_need() -> None:
    """Reading a config file imports PyYAML; `serve.ingress` of a FastAPI app works with
    FastAPI imported by the app itself (and nothing else)."""
    script = """
    import json, sys, tempfile, pathlib
    from reference_impl import serve
    from reference_impl.config_file import load_config
    before = "yaml" in sys.modules
    path = pathlib.Path(tempfile.mkdtemp()) / "serve.yaml"
    path.write_text("http_options:\\n  port: 0\\napplications: []\\n")
    port = load_config(path).http_options.port
    from fastapi import FastAPI
    app = FastAPI()

    @serve.deployment
    @serve.ingress(app)
    class Api:
        @app.get("/")
        def root(self):
            return "self is " + type(self).__name__

    serve.start(http_options={"port": 0})
    serve.run(Api.bind(), route_prefix="/api")
    from reference_impl import api
    import urllib.request
    with urllib.request.urlopen(api.running_instance().url + "/api/", timeout=10) as response:
        body = response.read().decode()
    serve.shutdown()
    print(json.dumps({"yaml_before": before, "yaml_after": "yaml" in sys.modules, "port": port,
                      "numpy": "numpy" in sys.modules, "body": body}))
    """
    result = _run(script)
    assert result == {"yaml_before": False, "yaml_after": True, "port": 0, "numpy": False, "body": '"self is Api"'}
