"""The committed protos/*_pb2*.py are what protoc makes from protos/relaytts_v1.proto today."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT

GENERATED = ["relaytts_v1_pb2.py", "relaytts_v1_pb2.pyi", "relaytts_v1_pb2_grpc.py"]


def test_generated_modules_match_the_proto(tmp_path):
    (tmp_path / "protos").mkdir()
    shutil.copy(REPO_ROOT / "protos" / "relaytts_v1.proto", tmp_path / "protos")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", ".", "--python_out=.", "--pyi_out=.",
                    "--grpc_python_out=.", "protos/relaytts_v1.proto"], cwd=tmp_path, check=True)
    for name in GENERATED:
        fresh = (tmp_path / "protos" / name).read_text()
        committed = (REPO_ROOT / "protos" / name).read_text()
        assert fresh == committed, f"protos/{name} is stale: regenerate (see the header of relaytts_v1.proto)"


def test_imports_are_package_qualified():
    text = (REPO_ROOT / "protos" / "relaytts_v1_pb2_grpc.py").read_text()
    assert "from protos import relaytts_v1_pb2" in text
