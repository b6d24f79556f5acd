"""``edge_client`` is what users import: its ``__all__`` is exactly its public names, sorted (httpx-style)."""

from __future__ import annotations

import subprocess
import sys
import types

import edge_client


def test_all_imports_are_exported():
    public = [name for name in dir(edge_client)
              if not name.startswith("_") and not isinstance(getattr(edge_client, name), types.ModuleType)]
    assert edge_client.__all__ == sorted(public, key=str.casefold)


def test_every_exported_name_resolves_to_a_relaytts_object():
    for name in edge_client.__all__:
        value = getattr(edge_client, name)
        assert value.__name__ == name
        assert value.__module__.split(".")[0] in ("edge_client", "relaytts")


def test_the_say_command_imports_no_grpc_numpy_or_onnxruntime():
    # `relaytts --help` registers `say`; importing the command must stay cheap
    code = ("import sys, edge_client.cli; "
            "print(sorted(m for m in ('grpc', 'numpy', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
