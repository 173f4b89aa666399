# Guide "Set Up FastAPI and HTTP", section 请求取消 (Request cancellation), startled: verbatim; changed: `from ray import serve` -> `from reference_impl import serve`.
import asyncio
from reference_impl import serve


@serve.deployment
async def startled():
    try:
        print("Replica received request!")
        await asyncio.sleep(10000)
    except asyncio.CancelledError:
        # Add custom behavior that should run
        # upon cancellation here.
        print("Request got cancelled!")
