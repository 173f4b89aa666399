# Guide "Set Up FastAPI and HTTP", section 请求取消 (Request cancellation), SnoringSleeper: verbatim; changed: `from ray import serve` -> `from reference_impl import serve`.
import asyncio
from reference_impl import serve


@serve.deployment
class SnoringSleeper:
    async def snore(self):
        await asyncio.sleep(1)
        print("ZZZ")

    async def __call__(self):
        try:
            print("SnoringSleeper received request!")

            # Prevent the snore() method from being cancelled
            await asyncio.shield(self.snore())

        except asyncio.CancelledError:
            print("SnoringSleeper's request was cancelled!")


app = SnoringSleeper.bind()
