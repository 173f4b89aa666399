"""ray_alias: `import ray` / `from ray import serve` resolve to the reference.

Each test runs in a fresh interpreter: the alias changes `sys.modules`, and the
session running these tests may have installed it already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

RUN_S = 60.0


def run_python(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )


def test_serve_modules_are_the_reference_modules() -> None:
    """After install(), `ray.serve` and each aliased submodule is the reference's own module,
    reachable as an import and as an attribute."""
    done = run_python(
        """
        from reference_impl import ray_alias
        ray_alias.install()
        import ray
        from ray import serve
        import ray.serve.handle, ray.serve.exceptions, ray.serve.schema
        from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator
        from ray.serve.exceptions import BackPressureError, RayServeException
        import reference_impl.serve, reference_impl.handle
        assert serve is reference_impl.serve is ray.serve
        assert ray.serve.handle is reference_impl.handle
        assert DeploymentHandle is reference_impl.handle.DeploymentHandle
        for name, ours in ray_alias.SERVE_MODULES.items():
            assert sys.modules[name] is sys.modules[ours], name
        print("ok")
        """.replace("import ray\n", "import ray, sys\n", 1)
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_other_ray_apis_fail_loudly_by_name() -> None:
    """`ray.remote` and `import ray.data` raise errors naming the API and how to run on Ray;
    `ray.init`, `ray.is_initialized` and `ray.shutdown` work, and shutdown stops Serve."""
    done = run_python(
        """
        from reference_impl import ray_alias
        ray_alias.install()
        import ray
        from ray import serve
        try:
            ray.remote
        except AttributeError as err:
            print("attr:", err)
        try:
            import ray.data
        except ModuleNotFoundError as err:
            print("module:", err)
        assert not ray.is_initialized()
        ray.init(num_cpus=2)
        assert ray.is_initialized()
        try:
            ray.init()
        except RuntimeError as err:
            print("reinit:", "ignore_reinit_error" in str(err))
        ray.init(ignore_reinit_error=True)

        @serve.deployment
        def hi():
            return "hi"

        serve.start(http_options={"port": 0})  # never the default port 8000
        serve.run(hi.bind(), route_prefix=None)
        ray.shutdown()
        assert not ray.is_initialized()
        from reference_impl import api
        print("serve stopped:", api.running_instance() is None)
        """
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "attr: `ray.remote` is not available" in out and "--serve-impl=ray" in out, out
    assert "module: No module named 'ray.data'" in out, out
    assert "reinit: True" in out and "serve stopped: True" in out, out


def test_uninstall_and_context_manager_restore_the_import_system() -> None:
    """`with ray_alias():` installs for the block only; afterwards `ray` is whatever it was
    before (here: not importable, or the real package when Ray is installed)."""
    done = run_python(
        """
        import importlib.util, sys
        from reference_impl import ray_alias
        before = importlib.util.find_spec("ray")
        with ray_alias.ray_alias() as ray:
            assert ray.serve.__name__ == "reference_impl.serve"
            assert ray_alias.is_installed()
        assert not ray_alias.is_installed()
        assert not any(n == "ray" or n.startswith("ray.") for n in sys.modules)
        after = importlib.util.find_spec("ray")
        assert (before is None) == (after is None)
        print("ok")
        """
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_install_refuses_when_real_ray_is_imported() -> None:
    """If some `ray` module is imported already, install() raises and names where it is from."""
    done = run_python(
        """
        import sys, types
        sys.modules["ray"] = types.ModuleType("ray")
        sys.modules["ray"].__file__ = "/somewhere/ray/__init__.py"
        from reference_impl import ray_alias
        try:
            ray_alias.install()
        except ray_alias.RayAlreadyImportedError as err:
            print(err)
        """
    )
    assert "already imported (from /somewhere/ray/__init__.py)" in done.stdout, done.stderr


@pytest.mark.parametrize("name", ["llm", "grpc_util"])
def test_unimplemented_serve_names_say_so(name: str) -> None:
    """A Ray Serve name the reference lacks raises AttributeError naming it and pointing to Ray."""
    from reference_impl import serve

    with pytest.raises(AttributeError, match=rf"`serve\.{name}` is not implemented.*--serve-impl=ray"):
        getattr(serve, name)
