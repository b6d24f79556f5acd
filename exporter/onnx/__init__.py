"""ONNX export of the PyTorch reimplementation: graph wrappers, export, parity checks, precision variants."""
