# Guide "Set Up FastAPI and HTTP", section FastAPI HTTP 部署 (FastAPI HTTP deployments), FastAPIWrapper: verbatim; changed: `from ray import serve` -> `from reference_impl import serve`; removed the unused `import ray` line.
import requests
from fastapi import FastAPI
from reference_impl import serve

app = FastAPI()


@app.get("/")
def f():
    return "Hello from the root!"


@serve.deployment
@serve.ingress(app)
class FastAPIWrapper:
    pass


serve.run(FastAPIWrapper.bind(), route_prefix="/")
resp = requests.get("http://localhost:8000/")
assert resp.json() == "Hello from the root!"
