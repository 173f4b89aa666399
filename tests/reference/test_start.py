"""serve.start: binding (port 0, busy port, default host), restarts with other options, env."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from reference_impl import serve
from reference_impl.api import running_instance
from reference_impl.config import KEEP_ALIVE_ENV_VAR, ConfigError
from reference_impl.exceptions import AddressUnavailableError
from reference_impl.instance import ServeInstance

# A bind failure must surface at once; this only catches a retry loop or a hang.
PROMPT_S = 5.0


def _serve_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("serve-")]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """Function scope, `int`: a 127.0.0.1 port this test holds listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_port_zero_binds_a_free_port_on_localhost(instance: ServeInstance) -> None:
    """Port 0 binds a real port on 127.0.0.1 only (the default host); url names it."""
    port = instance.server.port
    assert instance.url == f"http://127.0.0.1:{port}"
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]
    assert [addr.ip for addr in listening] == ["127.0.0.1"]


def test_busy_port_fails_at_once_with_a_clear_error(busy_port: int) -> None:
    """A taken port raises AddressUnavailableError naming the address and the way out; nothing runs."""
    began = time.monotonic()
    with pytest.raises(AddressUnavailableError) as info:
        serve.start(http_options={"port": busy_port})
    assert time.monotonic() - began < PROMPT_S
    assert str(info.value) == (
        f"Failed to bind to address '127.0.0.1:{busy_port}': Address already in use; another "
        "process is listening there; stop it, or pass http_options={'port': 0} to pick a free port."
    )
    assert running_instance() is None
    assert _serve_threads() == []


def test_start_again_with_other_options_warns_and_changes_nothing(
    instance: ServeInstance, caplog: pytest.LogCaptureFixture
) -> None:
    """A second start with other http_options logs Ray's WARNING naming them; nothing changes."""
    caplog.set_level(logging.INFO, logger="reference_impl")
    serve.start(http_options={"port": 0, "keep_alive_timeout_s": 7})
    serve.start(http_options={"port": 1234, "keep_alive_timeout_s": 5})
    warnings = [r.getMessage() for r in caplog.records if r.name == "reference_impl" and r.levelno == logging.WARNING]
    assert warnings == [
        "The new client HTTP config differs from the existing one in the following fields: "
        f"{fields}. The new HTTP config is ignored."
        for fields in (["keep_alive_timeout_s"], ["port"])
    ]
    assert running_instance() is instance
    assert instance.keep_alive_timeout_s == 5
    assert instance.http_options.keep_alive_timeout_s == 5


def test_start_again_with_same_options_only_informs(instance: ServeInstance, caplog: pytest.LogCaptureFixture) -> None:
    """A second start with the same http_options logs INFO and no WARNING."""
    caplog.set_level(logging.INFO, logger="reference_impl")
    serve.start(http_options={"port": 0})
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "reference_impl"]
    assert records == [
        (
            logging.INFO,
            "Connecting to the running Serve instance. New http_options will not be applied.",
        )
    ]


def test_invalid_http_options_start_nothing() -> None:
    """serve.start with invalid http_options raises ConfigError and starts no thread."""
    with pytest.raises(ConfigError, match="keep_alive_timeout_s"):
        serve.start(http_options={"port": 0, "keep_alive_timeout_s": "abc"})
    assert running_instance() is None and _serve_threads() == []


def test_start_rejects_unknown_keyword() -> None:
    """An unknown serve.start keyword is a TypeError; Ray's no-op keywords are accepted."""
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['bogus'\]"):
        serve.start(http_options={"port": 0}, bogus=1)
    serve.start(http_options={"port": 0}, detached=True, proxy_location="HeadOnly")
    assert running_instance() is not None


def test_keep_alive_env_is_read_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The env var read at start beats http_options.keep_alive_timeout_s (KA-4)."""
    monkeypatch.setenv(KEEP_ALIVE_ENV_VAR, "3")
    serve.start(http_options={"port": 0, "keep_alive_timeout_s": 4})
    instance = running_instance()
    assert instance is not None and instance.keep_alive_timeout_s == 3


def test_bad_keep_alive_env_fails_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad env value makes serve.start raise Ray's ValueError and leaves nothing running."""
    monkeypatch.setenv(KEEP_ALIVE_ENV_VAR, "abc")
    with pytest.raises(ValueError, match=r"^Environment variable .* value `abc` cannot be"):
        serve.start(http_options={"port": 0})
    assert running_instance() is None and _serve_threads() == []
