"""The app the testing guide's recipes test: a FastAPI ingress over a second deployment,
with a streaming route and a WebSocket. Written for Ray Serve; nothing in it knows about
pytest-serve."""

from fastapi import FastAPI, WebSocket
from ray import serve
from starlette.responses import StreamingResponse

api = FastAPI()


@serve.deployment
class Pricer:
    def __init__(self, vat: float = 0.2) -> None:
        self.vat = vat

    def gross(self, net: float) -> float:
        return round(net * (1 + self.vat), 2)


@serve.deployment
@serve.ingress(api)
class Shop:
    def __init__(self, pricer) -> None:
        self.pricer = pricer

    @api.get("/price/{net}")
    async def price(self, net: float) -> dict:
        return {"gross": await self.pricer.gross.remote(net)}

    @api.get("/countdown")
    def countdown(self, n: int = 3) -> StreamingResponse:
        return StreamingResponse((f"{i}\n" for i in range(n, 0, -1)), media_type="text/plain")

    @api.websocket("/shout")
    async def shout(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text((await ws.receive_text()).upper())
        await ws.close()


app = Shop.bind(Pricer.bind())
