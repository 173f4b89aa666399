"""What crosses a handle call, the errors it raises, the handle's own attributes and the
options Ray accepts, each as measured on Ray 2.60 (docs/reference-impl.md).

The conformance clauses VAL-1 … VAL-3, HDL-6 and HDL-7 hold any implementation to the
core of this; these tests pin what only the reference needs pinned (numpy, pydantic,
classes defined in a test, handles as arguments, Ray's messages and limits).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydantic
import pytest

from reference_impl import serve
from reference_impl.config import ConfigError, parse_http_options
from reference_impl.exceptions import DeploymentStartError, RayServeException, RequestCancelledError
from reference_impl.instance import ServeInstance
from reference_impl.ray_exceptions import GetTimeoutError, RayTaskError, TaskCancelledError

RESULT_S = 10.0


class Point(pydantic.BaseModel):
    x: int


class TwoArgs(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(a, b)
        self.a, self.b = a, b


@serve.deployment
class Values:
    def __init__(self) -> None:
        self.array = np.arange(3)

    def writable(self, array: Any) -> bool:
        return bool(array.flags.writeable)

    def own_array(self) -> Any:
        return self.array

    def echo(self, value: Any) -> Any:
        return value

    def type_name(self, value: Any) -> str:
        return type(value).__qualname__

    async def call_through(self, handle: Any, value: Any) -> Any:
        return await handle.echo.remote(value)

    def raise_two_args(self) -> None:
        raise TwoArgs("first", "second")

    def raise_key(self) -> None:
        raise KeyError("missing")


@pytest.fixture
def values(instance: ServeInstance) -> Any:
    return serve.run(Values.bind(), name="values", route_prefix=None)


def test_numpy_arrays_arrive_read_only_both_ways(values: Any) -> None:
    """As Ray's object store gives them: read-only in the replica and back at the caller."""
    assert values.writable.remote(np.zeros(5)).result(timeout_s=RESULT_S) is False
    returned = values.own_array.remote().result(timeout_s=RESULT_S)
    assert returned.tolist() == [0, 1, 2] and not returned.flags.writeable


def test_pydantic_models_and_local_classes_copy(values: Any) -> None:
    """A pydantic model arrives equal, as its own class, not the same object; an instance of
    a class defined inside a test (pickled by value, as Ray's cloudpickle does) arrives too."""

    class Local:
        def __init__(self) -> None:
            self.n = 7

    model = Point(x=1)
    back = values.echo.remote(model).result(timeout_s=RESULT_S)
    assert back == model and type(back) is Point and back is not model
    assert values.type_name.remote(Local()).result(timeout_s=RESULT_S).endswith("Local")


def test_handles_travel_by_reference(values: Any) -> None:
    """A handle passed as an argument is usable in the replica (Ray's handles serialize)."""
    assert values.call_through.remote(values, [1]).result(timeout_s=RESULT_S) == [1]


def test_a_stream_cannot_be_an_argument(values: Any) -> None:
    generator = values.options(stream=True).echo.remote(1)
    with pytest.raises(RuntimeError, match="Streaming deployment handle results cannot be passed"):
        values.echo.remote(generator).result(timeout_s=RESULT_S)
    generator.cancel()


def test_unserializable_argument_message_as_ray(values: Any) -> None:
    lock = threading.Lock()
    response = values.echo.remote(lock)
    with pytest.raises(TypeError) as info:
        response.result(timeout_s=RESULT_S)
    assert str(info.value).startswith(f"Could not serialize the argument {lock!r} for a task or actor ")
    assert isinstance(info.value.__cause__, TypeError)
    assert not isinstance(info.value, RayTaskError), "Ray raises a plain TypeError here"


def test_wrapped_errors_keep_the_original_attributes(values: Any) -> None:
    """Ray's wrapper class delegates to the cause: `e.a`; repr and args as Ray's."""
    with pytest.raises(TwoArgs) as info:
        values.raise_two_args.remote().result(timeout_s=RESULT_S)
    error = info.value
    assert isinstance(error, RayTaskError) and (error.a, error.b) == ("first", "second")
    assert repr(error) == "RayTaskError(TwoArgs)(TwoArgs('first', 'second'))"
    assert error.args == (error.cause,)
    with pytest.raises(KeyError) as key_info:
        values.raise_key.remote().result(timeout_s=RESULT_S)
    assert str(key_info.value).splitlines()[-1] == "KeyError: 'missing'"


def test_cancelled_errors_are_task_cancelled_errors(values: Any) -> None:
    response = values.echo.remote(1)
    response.result(timeout_s=RESULT_S)
    assert issubclass(RequestCancelledError, TaskCancelledError)
    assert issubclass(GetTimeoutError, TimeoutError)
    assert RequestCancelledError("rid").args == ("rid",) and RequestCancelledError().args == ()


def test_handle_attributes_as_ray(values: Any) -> None:
    """handle_id is 8 lowercase letters and digits; the handle's own methods are there."""
    assert len(values.handle_id) == 8 and values.handle_id.isalnum() and values.handle_id.islower()
    assert values.running_replicas_populated() is False  # not used yet
    assert values.echo.remote(1).result(timeout_s=RESULT_S) == 1
    assert values.running_replicas_populated() is True
    assert values.broadcast("echo", 5).results(timeout_s=RESULT_S) == [5]
    values.shutdown()
    asyncio.run(values.shutdown_async())
    with pytest.raises(AttributeError, match=r"choose_replica.*--serve-impl=ray"):
        values.choose_replica()


def test_run_options_ray_accepts(instance: ServeInstance) -> None:
    """`external_scaler_enabled` and `controller_options` as Ray takes them; run_many."""
    handle = serve.run(
        Values.bind(), name="opts", route_prefix=None, external_scaler_enabled=True, controller_options={}
    )
    assert handle.echo.remote(1).result(timeout_s=RESULT_S) == 1
    with pytest.raises(pydantic.ValidationError, match="only `env_vars`"):
        serve.run(Values.bind(), name="opts", controller_options={"runtime_env": {"pip": ["x"]}})
    handles = serve.run_many([serve.RunTarget(Values.bind(), name="many", route_prefix=None)])
    assert handles[0].echo.remote(2).result(timeout_s=RESULT_S) == 2
    asyncio.run(serve.shutdown_async())


def test_http_options_ray_has(tmp_path: Path) -> None:
    """num_cpus and root_url are accepted; middlewares and gRPC servicers are refused by name;
    ssl_keyfile needs ssl_certfile."""
    options = parse_http_options({"num_cpus": 1, "root_url": "http://example"})
    assert (options.num_cpus, options.root_url) == (1, "http://example")
    with pytest.raises(ConfigError, match=r"middlewares.*does not run proxy middlewares"):
        parse_http_options({"middlewares": [object()]})
    with pytest.raises(ConfigError, match="ssl_keyfile and ssl_certfile must be given together"):
        parse_http_options({"ssl_keyfile": str(tmp_path / "k.pem")})
    with pytest.raises(pydantic.ValidationError, match="does not serve gRPC"):
        serve.start(grpc_options={"grpc_servicer_functions": ["my_pb2_grpc.add_Servicer_to_server"]})


def test_https_when_given_a_key_and_certificate(start_serve: Any, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        capture_output=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    instance = start_serve(ssl_keyfile=str(key), ssl_certfile=str(cert))

    @serve.deployment
    class Hello:
        def __call__(self) -> str:
            return "secure"

    serve.run(Hello.bind(), route_prefix="/")
    assert instance.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(cert))
    assert httpx.get(instance.url + "/", verify=context, timeout=RESULT_S).text == "secure"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_constructor_retry_count": 0}, "max_constructor_retry_count 0: must be >= 1"),
        ({"max_surge_percent": 101}, "max_surge_percent 101: must be >= 0 and <= 100"),
        ({"rolling_update_percentage": 50}, "rolling_update_percentage 50: must be > 0 and <= 1"),
        ({"gang_scheduling_config": {"gang_size": 2}}, r"num_replicas \(1\) must be a multiple of gang_size \(2\)"),
        ({"placement_group_bundle_label_selector": [{"zone": "a"}]}, "`placement_group_bundles` must also"),
    ],
)
def test_cluster_options_are_checked_as_ray_checks_them(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serve.deployment(**options)(Values.func_or_class)


def test_cluster_options_ray_accepts() -> None:
    accepted = serve.deployment(
        num_replicas=4,
        request_router_config={"request_routing_stats_period_s": 5},
        gang_scheduling_config={"gang_size": 2},
        max_surge_percent=25,
        rolling_update_percentage=0.5,
        placement_group_bundles=[{"CPU": 1}],
        placement_group_bundle_label_selector=[{"zone": "a"}],
        deployment_actors=[],
    )(Values.func_or_class)
    assert accepted.num_replicas == 4
    with pytest.raises(TypeError, match="unexpected keyword argument 'rolling_update_percentage'"):
        accepted.options(rolling_update_percentage=0.5)
    with pytest.raises(AttributeError, match=r"deployment_actors.*--serve-impl=ray"):
        serve.deployment(deployment_actors=[{"name": "a", "actor_class": "builtins.object"}])


def test_max_constructor_retry_count_bounds_the_start_attempts(instance: ServeInstance) -> None:
    starts: list[int] = []

    @serve.deployment(max_constructor_retry_count=1)
    class Broken:
        def __init__(self) -> None:
            starts.append(1)
            raise ValueError("no")

    with pytest.raises(DeploymentStartError):
        serve.run(Broken.bind(), name="broken", route_prefix=None)
    assert len(starts) == 1
    assert "failed to start 1 times in a row" in serve.status().applications["broken"].deployments["Broken"].message


def test_unknown_method_lists_the_methods(values: Any) -> None:
    with pytest.raises(RayServeException, match=r"Available methods: \['call_through', 'echo', "):
        values.nope.remote().result(timeout_s=RESULT_S)


def test_unpicklable_init_argument_fails_the_deploy_as_on_ray(instance: ServeInstance) -> None:
    """Ray 2.60: `serve.run(D.bind(threading.Lock()))` raises TypeError "Could not serialize
    the deployment init args: …" (measured); each replica gets its own copy otherwise."""
    with pytest.raises(TypeError, match=r"^Could not serialize the deployment init args: .*'Values'"):
        serve.run(Values.bind(threading.Lock()), name="locked", route_prefix=None)
