"""The text service's tests: only `serve_app`, on whichever implementation pytest-serve runs."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from textsvc import app


@pytest.fixture
def text(serve_app):
    return serve_app(app, route_prefix="/text")


def test_greeting_comes_from_user_config(text):
    assert text.http.get("/text/greet/Ada").json() == "Hello, Ada!"


def test_concurrent_scores_share_batches(text):
    texts = [f"text number {i}" for i in range(8)]
    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(lambda t: text.http.get("/text/score", params={"text": t}).json(), texts))
    assert [a["text"] for a in answers] == texts
    assert all(a["words"] == 3 for a in answers)
    assert max(a["batch_size"] for a in answers) > 1, answers


def test_words_stream_line_by_line(text):
    with text.http.stream("GET", "/text/words", params={"text": "to be or not"}) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    assert lines == ["to", "be", "or", "not"]


@pytest.mark.parametrize(("language", "expected"), [("fr", "bonjour"), ("de", "hallo"), ("es", "hola")])
def test_translation_model_chosen_per_request(text, language, expected):
    response = text.http.get("/text/translate/hello", headers={"serve_multiplexed_model_id": language})
    assert response.json() == expected


def test_replica_knows_its_context(text):
    assert text.http.get("/text/whoami").json()["deployment"] == "Frontend"


CONFIG = Path(__file__).with_name("serve_config.yaml")


def test_config_file_overrides_reach_the_replicas(serve, serve_config):
    """The deployment file, not only the Python graph: its `deployments:` overrides apply."""
    (service,) = serve_config(CONFIG)
    assert service.http.get("/text/greet/Ada").json() == "Bonjour, Ada!"
    scorer = serve.status().applications["textsvc"].deployments["Scorer"]
    assert scorer.replica_states == {"RUNNING": 2}
