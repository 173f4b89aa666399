"""CFG — Serve config files (clauses CFG-1 … CFG-3).

A production app is deployed from a config file (`serve build` output, KubeRay's
`serveConfigV2`); what the file says must act as Ray 2.60 makes it act. Each test writes
its app as a module and deploys it through the implementation's own config-file path
(`serve_config`), then asks the running app what it got.
"""

import pytest

APP = """
from pydantic import BaseModel


@serve.deployment
class Counter:
    def __init__(self):
        self.config = None

    def reconfigure(self, config):
        self.config = config

    def __call__(self):
        return {"config": self.config}


@serve.deployment
class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def __call__(self):
        return {"greeting": self.greeting}


class Greeting(BaseModel):
    greeting: str
    times: int = 1


def typed(args: Greeting):
    return Greeter.bind(f"{args.greeting * args.times}:{type(args).__name__}:{type(args.times).__name__}")


def untyped(args):
    return Greeter.bind(f"{args['greeting']}:{type(args).__name__}")


app = Counter.bind()
"""


def _replicas(serve, app: str, deployment: str) -> dict:
    return dict(serve.status().applications[app].deployments[deployment].replica_states)


@pytest.mark.clause("CFG-1")
def test_cfg_1_deployment_overrides_act(serve, serve_config, serve_module):
    module = serve_module(APP)
    override = {"name": "Counter", "num_replicas": 2, "user_config": {"threshold": 3}}
    entry = {"name": "cfg1", "route_prefix": "/c", "import_path": f"{module}:app", "deployments": [override]}
    [app] = serve_config({"applications": [entry]})
    assert _replicas(serve, "cfg1", "Counter") == {"RUNNING": 2}
    for _ in range(4):
        response = app.http.get("/c")
        assert response.status_code == 200, response.text
        assert response.json() == {"config": {"threshold": 3}}


@pytest.mark.clause("CFG-2")
def test_cfg_2_args_reach_typed_and_untyped_builders(serve_config, serve_module):
    module = serve_module(APP)
    typed = {"name": "typed", "route_prefix": "/t", "import_path": f"{module}:typed"}
    untyped = {"name": "untyped", "route_prefix": "/u", "import_path": f"{module}:untyped"}
    apps = serve_config(
        {
            "applications": [
                {**typed, "args": {"greeting": "hi", "times": "2"}},
                {**untyped, "args": {"greeting": "plain"}},
            ]
        }
    )
    assert apps[0].http.get("/t").json() == {"greeting": "hihi:Greeting:int"}
    assert apps[1].http.get("/u").json() == {"greeting": "plain:dict"}


@pytest.mark.clause("CFG-3")
def test_cfg_3_keys_the_schema_lacks_are_ignored(serve, serve_config, serve_module):
    module = serve_module(APP)
    entry = {
        "name": "cfg3",
        "route_prefix": "/i",
        "import_path": f"{module}:app",
        "deployments": [{"name": "Counter", "num_replica": 3, "user_config": {"kept": True}}],
    }
    [app] = serve_config({"note": "written by hand", "applications": [entry]})
    assert app.http.get("/i").json() == {"config": {"kept": True}}
    assert _replicas(serve, "cfg3", "Counter") == {"RUNNING": 1}
