"""The testing guide's recipes (docs/testing-guide.md shows each test as it is here).

They pass on the reference (`pytest docs/examples/testing_guide`) and on Ray Serve
(`pytest docs/examples/testing_guide --serve-impl=ray`).
"""

import asyncio

import pytest
from shop import Pricer, app

from pytest_serve.http import stream_chunks


# Recipe: a unit test of a deployment's class, without Serve
def test_pricer_adds_vat():
    pricer = Pricer.func_or_class(vat=0.1)
    assert pricer.gross(10.0) == 11.0


# Recipe: a handle test
def test_pricer_through_a_handle(serve_app):
    pricer = serve_app(Pricer.bind(vat=0.1), route_prefix=None)
    assert pricer.handle.gross.remote(10.0).result(timeout_s=30) == 11.0


# Recipe: an HTTP test of the whole app
def test_price_over_http(serve_app):
    shop = serve_app(app, route_prefix="/shop")
    response = shop.http.get("/shop/price/10")
    assert response.status_code == 200
    assert response.json() == {"gross": 12.0}


# Recipe: a streaming response
def test_countdown_streams(serve_app):
    shop = serve_app(app, route_prefix="/shop")
    result = stream_chunks(shop.url + "/countdown?n=3")
    assert result.status_code == 200 and result.complete
    assert result.body == b"3\n2\n1\n"


# Recipe: a WebSocket
def test_shout_over_a_websocket(serve_app):
    shop = serve_app(app, route_prefix="/shop")
    with shop.ws("/shop/shout") as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "HELLO"


# Recipe: batching
def test_concurrent_calls_are_batched(serve, serve_app):
    @serve.deployment
    class Sizes:
        @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.5)
        async def __call__(self, items):
            return [len(items)] * len(items)

    sizes = serve_app(Sizes.bind(), route_prefix=None)

    async def four_at_once():
        return await asyncio.gather(*(sizes.handle.remote(i) for i in range(4)))

    assert max(asyncio.run(four_at_once())) > 1


# Recipe: multiplexing
def test_each_model_id_gets_its_model(serve, serve_app):
    @serve.deployment
    class Models:
        @serve.multiplexed(max_num_models_per_replica=2)
        async def load(self, model_id):
            return f"model {model_id}"

        async def __call__(self, request):
            return await self.load(serve.get_multiplexed_model_id())

    models = serve_app(Models.bind())
    for model_id in ("a", "b", "a"):
        answer = models.http.get("/", headers={"serve_multiplexed_model_id": model_id})
        assert answer.text == f"model {model_id}"


# Recipe: a Serve config file, and the http_options it sets
BUILDER = """
@serve.deployment
class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting

    def __call__(self, request):
        return self.greeting


def build(args):
    return Greeter.bind(args["greeting"])
"""


def test_config_file_args_reach_the_builder(serve_config, serve_module):
    import_path = serve_module(BUILDER) + ":build"
    [greeter] = serve_config(
        {
            "http_options": {"request_timeout_s": 30},
            "applications": [
                {"name": "greet", "route_prefix": "/hi", "import_path": import_path, "args": {"greeting": "hej"}}
            ],
        }
    )
    assert greeter.http.get("/hi").text == "hej"


# Recipe: the instance's own settings, with a marker
@pytest.mark.serve_http_options(request_timeout_s=1)
def test_slow_requests_time_out(serve, serve_app):
    @serve.deployment
    class Slow:
        async def __call__(self, request):
            await asyncio.sleep(10)

    slow = serve_app(Slow.bind())
    assert slow.http.get("/").status_code == 408
