"""Modules imported on a thread while a command reads and builds, so that they are ready when needed.

Python imports a module once; when the command reaches its own ``import`` of a module being imported
here, it waits for that import to finish. A module that fails to import here fails again, with its
message, where the command imports it.
"""

from __future__ import annotations

import importlib
import threading


def import_in_background(*modules: str) -> None:
    """Start importing ``modules`` on a daemon thread (for modules needed only at the end of a step)."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001  (the command's own import reports it)
                return

    threading.Thread(target=load, name="trialeval-imports", daemon=True).start()
