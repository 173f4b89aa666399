# Guide "Set Up FastAPI and HTTP", section FastAPI HTTP 部署 (FastAPI HTTP deployments), first example: verbatim; changed: `from ray import serve` -> `from reference_impl import serve`; removed the unused `import ray` line.
import requests
from fastapi import FastAPI
from reference_impl import serve

app = FastAPI()


@serve.deployment
@serve.ingress(app)
class MyFastAPIDeployment:
    @app.get("/")
    def root(self):
        return "Hello, world!"


serve.run(MyFastAPIDeployment.bind(), route_prefix="/hello")
resp = requests.get("http://localhost:8000/hello")
assert resp.json() == "Hello, world!"
