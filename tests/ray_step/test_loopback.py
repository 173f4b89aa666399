"""The Ray that `--serve-impl=ray` starts stays on loopback: no process of it listens on,
or talks to, an address another machine could reach.

Run in the Ray step of CI (`tox -e ray`: `pytest --serve-impl=ray tests/ray_step`); skipped
without Ray. Every process below this one is Ray's (GCS, raylet, agents, workers).
"""

from __future__ import annotations

import ipaddress

import pytest

from reference_impl.ray_alias import real_ray_version

psutil = pytest.importorskip("psutil")
if real_ray_version() is None:  # `import ray` may be the reference's stand-in here
    pytest.skip("Ray is not installed", allow_module_level=True)

# What Ray 2.60 binds to all interfaces whatever it is told (docs/cluster.md): (process
# name prefix, state, address prefix) → why.
UNMOVABLE: dict[tuple[str, str, str], str] = {
    ("ray::ServeReplica", "LISTEN", ":::"): "each replica's inter-deployment gRPC server binds `[::]:0`, "
    "hard-coded in ray/serve/_private/replica.py (`add_port_to_grpc_server(self._server, '[::]:0')`)",
}


def _unmovable(sock: tuple[str, str, str]) -> bool:
    name, state, address = sock
    return any(name.startswith(n) and state == s and address.startswith(a) for n, s, a in UNMOVABLE)


def _reachable(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_loopback


def _ray_sockets() -> list[tuple[str, str, str]]:
    """(process name, state, address) of each socket of Ray's processes that another
    machine could reach: a listener on a non-loopback (or any) address, a connection to one."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            name = " ".join(process.cmdline()[:1]) or process.name()
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for conn in connections:
            if conn.status == psutil.CONN_LISTEN and _reachable(conn.laddr.ip):
                found.append((name, "LISTEN", f"{conn.laddr.ip}:{conn.laddr.port}"))
            elif conn.raddr and _reachable(conn.raddr.ip):
                found.append((name, conn.status, f"{conn.raddr.ip}:{conn.raddr.port}"))
    return found


def test_ray_listens_and_connects_on_loopback_only(serve, serve_app, serve_instance) -> None:
    if serve_instance.name != "ray":
        pytest.skip("run with --serve-impl=ray")

    @serve.deployment
    class Hello:
        def __call__(self) -> str:
            return "hello"

    app = serve_app(Hello.bind(), route_prefix="/loopback")
    assert app.http.get("/loopback").text == "hello"
    exposed = [s for s in _ray_sockets() if not _unmovable(s)]
    assert psutil.Process().children(recursive=True), "no Ray process found below this one"
    assert not exposed, "Ray sockets reachable from outside the machine:\n" + "\n".join(map(str, exposed))
