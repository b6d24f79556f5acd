"""The model bundle: manifest, integrity checks and the ONNX Runtime session factory (no torch)."""

from bundle.bundle import Bundle, write_edge_subset
from bundle.manifest import FORMAT_VERSION, GraphFile, Manifest, Precision, Role
from bundle.session import SessionOptions, create_session

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "GraphFile",
    "Manifest",
    "Precision",
    "Role",
    "SessionOptions",
    "create_session",
    "write_edge_subset",
]
