# Guide "Set Up FastAPI and HTTP", section 通过 HTTP 调用部署 (Calling deployments via HTTP), Counter: verbatim; changed: `from ray import serve` -> `from reference_impl import serve`.
import starlette.requests
import requests
from reference_impl import serve


@serve.deployment
class Counter:
    def __call__(self, request: starlette.requests.Request):
        return request.query_params


serve.run(Counter.bind())
resp = requests.get("http://localhost:8000?a=b&c=d")
assert resp.json() == {"a": "b", "c": "d"}
