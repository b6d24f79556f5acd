"""Reduced-precision variants: unique node names by construction, and every variant loads in the installed ORT."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bundle import Bundle, Precision, Role
from bundle.session import create_session
from exporter.onnx.variants import to_fp16, unique_node_names
from relaytts.errors import BundleError


def duplicate_named_model() -> onnx.ModelProto:
    """y = (x + 1) * 2 where both nodes are called "same", as a converter bug would leave them."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    nodes = [
        helper.make_node("Add", ["x", "one"], ["h"], name="same"),
        helper.make_node("Mul", ["h", "two"], ["y"], name="same"),
        helper.make_node("Identity", ["y"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])],
        [one, two],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_duplicate_node_names_are_refused_and_renaming_fixes_them(tmp_path):
    model = duplicate_named_model()
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(BundleError, match="cannot load"):
        create_session(bad)
    assert unique_node_names(model) == 2  # the second "same" and the unnamed Identity
    names = [n.name for n in model.graph.node]
    assert len(set(names)) == 3 and names[0] == "same" and all(names)
    good = tmp_path / "good.onnx"
    onnx.save(model, str(good))
    out = create_session(good).run(None, {"x": np.array([0, 1, 2], np.float32)})[0]
    assert out.tolist() == [2, 4, 6]
    assert unique_node_names(model) == 0


def test_fp16_of_a_graph_with_duplicate_names_loads(tmp_path):
    src = tmp_path / "src.onnx"
    onnx.save(duplicate_named_model(), str(src))
    dst = to_fp16(src, tmp_path / "fp16.onnx")
    names = [n.name for g in [onnx.load(str(dst)).graph] for n in g.node]
    assert len(names) == len(set(names))
    out = create_session(dst).run(None, {"x": np.array([0, 1, 2], np.float32)})[0]
    assert np.allclose(out, [2, 4, 6])


@pytest.fixture(scope="module")
def all_variants(upstream_dir, tmp_path_factory):
    from exporter.onnx.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("variants") / "v2"
    export_bundle(
        upstream_dir / "gpt_v2.ckpt",
        upstream_dir / "sovits_v2.pth",
        out,
        (Precision.FP32, Precision.FP16, Precision.INT8),
    )
    return Bundle.open(out)


@pytest.mark.parametrize("precision", [Precision.FP16, Precision.INT8])
@pytest.mark.parametrize("role", [Role.T2S, Role.VOCODER])
def test_every_variant_is_written_validated_and_loads(all_variants, role, precision):
    entry = all_variants.manifest.file(role, precision)
    assert entry.validated, entry.note
    model = onnx.load(str(all_variants.root / entry.path))
    names = [n.name for n in model.graph.node]
    assert len(names) == len(set(names))
    session = all_variants.session(role, precision)
    assert {i.name for i in session.get_inputs()} >= ({"codes", "dec_frames"} if role is Role.VOCODER else set())
    if role is Role.VOCODER:
        assert entry.parity["snr_db_vs_fp32"] >= 25
    else:
        assert entry.parity["greedy_eos_length"] >= 0.8 * entry.parity["greedy_eos_length_fp32"]


def test_the_edge_vocoder_streams_with_the_int8_variant(all_variants):
    from edge_client.vocoder import Vocoder

    fp32, int8 = Vocoder.load(all_variants), Vocoder.load(all_variants, Precision.INT8)
    rng = np.random.default_rng(4)
    tokens, phones = rng.integers(0, 1024, 60), rng.integers(0, 732, 30)
    ge = (rng.standard_normal(all_variants.manifest.sovits["gin_channels"]) * 0.5).astype(np.float32)
    want = fp32.decode(tokens, phones, ge, noise_scale=0.0)
    stream = int8.stream(phones, ge, noise_scale=0.0)
    got = np.concatenate(
        [stream.push(tokens[:8]), stream.push(tokens[8:33]), stream.push(tokens[33:]), stream.finish()]
    )
    assert len(got) == len(want)
    snr = 10 * np.log10(np.mean(want**2) / np.mean((got - want) ** 2))
    assert snr >= 15, f"SNR {snr:.1f} dB"
