"""A small text service, written for Ray Serve as any project writes it.

Nothing here knows about pytest-serve: `from ray import serve` and Ray's own APIs.
The tests beside it run it on the reference implementation by default (Ray need
not be installed) and on real Ray Serve with `--serve-impl=ray`.
"""

import asyncio

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.responses import StreamingResponse

api = FastAPI()

DICTIONARIES = {
    "fr": {"hello": "bonjour", "world": "monde"},
    "de": {"hello": "hallo", "world": "Welt"},
    "es": {"hello": "hola", "world": "mundo"},
}


@serve.deployment(user_config={"greeting": "Hello"})
class Greeter:
    """Its greeting comes from `user_config`, so operators change it without a redeploy."""

    def __init__(self) -> None:
        self.greeting = "Hi"

    def reconfigure(self, config: dict) -> None:
        self.greeting = config["greeting"]

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}!"


@serve.deployment
class Scorer:
    """Scores texts in batches: concurrent callers share one call of `score`."""

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.25)
    async def score(self, texts: list[str]) -> list[dict]:
        return [{"text": t, "words": len(t.split()), "batch_size": len(texts)} for t in texts]


@serve.deployment
class Tokenizer:
    async def words(self, text: str):
        for word in text.split():
            await asyncio.sleep(0.01)
            yield word + "\n"


@serve.deployment
class Translator:
    """One dictionary ("model") per language, loaded on demand, two per replica."""

    @serve.multiplexed(max_num_models_per_replica=2)
    async def dictionary(self, language: str) -> dict:
        await asyncio.sleep(0.01)  # loading a model takes a while
        return DICTIONARIES.get(language, {})

    async def translate(self, word: str) -> str:
        dictionary = await self.dictionary(serve.get_multiplexed_model_id())
        return dictionary.get(word, word)


@serve.deployment
@serve.ingress(api)
class Frontend:
    def __init__(
        self,
        greeter: DeploymentHandle,
        scorer: DeploymentHandle,
        tokenizer: DeploymentHandle,
        translator: DeploymentHandle,
    ) -> None:
        self.greeter = greeter
        self.scorer = scorer
        self.tokenizer = tokenizer
        self.translator = translator

    @api.get("/greet/{name}")
    async def greet(self, name: str) -> str:
        return await self.greeter.greet.remote(name)

    @api.get("/score")
    async def score(self, text: str) -> dict:
        return await self.scorer.score.remote(text)

    @api.get("/words")
    def words(self, text: str) -> StreamingResponse:
        async def relay():
            async for word in self.tokenizer.options(stream=True).words.remote(text):
                yield word

        return StreamingResponse(relay(), media_type="text/plain")

    @api.get("/translate/{word}")
    async def translate(self, word: str) -> str:
        # The language arrives as the `serve_multiplexed_model_id` header; pass it on.
        language = serve.get_multiplexed_model_id()
        return await self.translator.options(multiplexed_model_id=language).translate.remote(word)

    @api.get("/whoami")
    def whoami(self) -> dict:
        context = serve.get_replica_context()
        return {"app": context.app_name, "deployment": context.deployment, "replica": context.replica_tag}


app = Frontend.bind(Greeter.bind(), Scorer.bind(), Tokenizer.bind(), Translator.bind())
