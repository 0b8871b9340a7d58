"""Run ``spert ARGS`` in this process and SIGKILL it at a chosen moment: the Nth call of a function.

    python kill_at.py MODULE:ATTR N [--when-arg SUBSTRING] [--enospc] [--module NAME] -- args...

``MODULE:ATTR`` is patched (a class attribute as ``module:Class.method``) so that its Nth call kills
the process with SIGKILL before it runs (``--when-arg``: count only calls with a path or string
argument that holds SUBSTRING). N = 0 patches nothing. A real signal to a real process: nothing is cleaned up.
``--enospc``: the Nth call raises the error of a full disk instead (a write-failing wrapper where no
small file system can be mounted). ``--module NAME``: run ``NAME.main(args)`` instead of ``spert``
(the Label Studio backend's fine-tuning process).
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys


def patch(target: str, n: int, when_arg: str | None, enospc: bool = False) -> None:
    module_name, attr = target.split(":")
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = 0

    def killing(*args, **kwargs):
        nonlocal calls
        if when_arg is None or any(when_arg in str(a) for a in args if isinstance(a, (str, os.PathLike))):
            calls += 1
            if calls == n and enospc:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if calls == n:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(owner, name, killing)


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--")
    own, spert_args = argv[:split], argv[split + 1:]
    target, n = own[0], int(own[1])
    when_arg = own[own.index("--when-arg") + 1] if "--when-arg" in own else None
    if n:
        patch(target, n, when_arg, "--enospc" in own)
    if "--module" in own:
        sys.exit(importlib.import_module(own[own.index("--module") + 1]).main(spert_args))
    from spert.cli import main as spert_main

    sys.argv = ["spert", *spert_args]
    spert_main()


if __name__ == "__main__":
    main()
