"""Serve a guide example until stdin closes: the server side of the client-driven tests.

    python -u driver.py EXAMPLE.py [NAME]

Runs EXAMPLE.py unchanged as `__main__`. With NAME (for examples that only define
a deployment or bind an app), then calls `serve.run` on that object, binding a
Deployment first. Prints READY, keeps serving until its stdin is closed, and
shuts Serve down. Keeping the process alive lets the test observe what the
replica prints after the example's own last line (Ray's replicas outlive the
script in the same way).
"""

from __future__ import annotations

import runpy
import sys

from reference_impl import serve

READY = "driver: READY"


def main(argv: list[str]) -> None:
    namespace = runpy.run_path(argv[1], run_name="__main__")
    if len(argv) > 2:
        target = namespace[argv[2]]
        serve.run(target if isinstance(target, serve.Application) else target.bind())
    print(READY, flush=True)
    sys.stdin.read()  # returns at EOF: the test is done with us
    serve.shutdown()


if __name__ == "__main__":
    main(sys.argv)
