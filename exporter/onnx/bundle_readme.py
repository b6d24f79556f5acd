"""The ``README.md`` written into every bundle: what this bundle is, and how to call each graph."""

from __future__ import annotations

from bundle.manifest import Manifest

__all__ = ["bundle_readme"]

GRAPH_IO = """\
## Graphs and their inputs/outputs

Batch is 1; every other axis is dynamic.

### t2s (prefill and decode step in one graph)

| name | type | shape | meaning |
|---|---|---|---|
| in `phones` | int64 | [1, Tx] | phoneme ids (prompt text + target text); empty [1, 0] for a step |
| in `bert` | float32 | [1, 1024, Tx] | BERT features per phone (zeros when none) |
| in `tokens` | int64 | [1, Ta] | prompt semantic tokens for a prefill; the last token for a step |
| in `audio_start` | int64 | [1] | audio position of tokens[0]: 0 for a prefill, prompt length + n for step n |
| in `past_key_i`, `past_value_i` | float32 | [1, P, {hidden}] | cache of layer i = 0..{last_layer} (P = 0: prefill) |
| out `logits` | float32 | [1, {vocab}] | raw logits of the next token (EOS = {eos}); sampling is the caller's |
| out `new_keys`, `new_values` | float32 | [{layers}, 1, Tx + Ta, {hidden}] | keys/values of the positions given |

The caller appends `new_keys`/`new_values` to its cache and passes each layer's filled prefix back.

### prompt_extractor

`ssl` float32 [1, 768, T50] (HuBERT features at 50 Hz) -> `codes` int64 [1, T50 // 2].

### style_encoder

`spec` float32 [1, {spec_bins}, T] (linear magnitude spectrogram of the 32 kHz reference: n_fft {n_fft},
hop {hop}, window {win}, reflect padding (n_fft - hop) / 2, sqrt(re^2 + im^2 + 1e-8)){sv_line}
-> `ge` float32 [1, {gin}, 1].

### bert (optional, cloud)

`input_ids` int64 [1, T] (one id per character of the normalised Chinese text from `bert_vocab.txt`,
wrapped in [CLS] ... [SEP]) -> `char_features` float32 [T - 2, 1024] (hidden state -3 per character).

### g2pw (optional, cloud)

Upstream's G2PW polyphone model for Chinese, copied from a GPT-SoVITS install (`--g2pw`), with its tables
(labels, character lists, bopomofo table, tokenizer vocabulary, upstream's polyphonic.rep corrections) in
`g2pw_tables.json`, which the graph's metadata names and hashes. Inputs (N queries, T tokens):
`input_ids`, `token_type_ids`, `attention_mask` int64 [N, T]; `phoneme_mask` float32 [N, labels];
`char_ids`, `position_ids` int64 [N] -> probabilities float32 [N, labels]. Without this graph the
frontend reads Chinese with pypinyin's phrase dictionary (`manifest.json`: `zh_polyphones`).

### vocoder (edge)

| name | type | shape | meaning |
|---|---|---|---|
| in `codes` | int64 | [1, Tg] | semantic tokens |
| in `phones` | int64 | [1, Nt] | the target text's phones only |
| in `ge` | float32 | [1, {gin}, 1] | style vector from style_encoder |
| in `noise` | float32 | [1, {latent}, Tn] | N(0, 1); uses the first T = 2*Tg (speed 1) or int(2*Tg/speed)+1 frames |
| in `noise_scale` | float32 | [1] | 0.5 is upstream's choice |
| in `speed` | float32 | [1] | 1.0 natural, > 1 faster |
| out `wav` | float32 | [1, 640*T] | {rate} Hz audio, {spt} samples per token at speed 1 |
"""


def bundle_readme(manifest: Manifest) -> str:
    """Markdown describing ``manifest``'s bundle for whoever finds the directory."""
    t2s, sovits = manifest.t2s, manifest.sovits
    lines = [
        f"# relaytts bundle {manifest.bundle_id}",
        "",
        f"GPT-SoVITS {manifest.model_version}, exported by `relaytts export` on {manifest.created_at} and "
        f"validated with ONNX Runtime {manifest.onnxruntime_version}. Symbol table {manifest.symbol_table}.",
        "",
        "| source | file | sha256 |",
        "|---|---|---|",
        *[f"| {name} | {src.get('file', '')} | {src.get('sha256', '')[:16]}... |" for name, src in
          manifest.sources.items()],
        "",
        "## Files",
        "",
        "| file | role | side | precision | MB | validated |",
        "|---|---|---|---|---|---|",
        *[f"| {f.path} | {f.role.value} | {f.side} | {f.precision.value} | {f.size_bytes / 1e6:.1f} | "
          f"{'yes' if f.validated else 'no: ' + f.note} |" for f in manifest.files],
        "",
        "Check integrity with `relaytts bundle verify DIR`; copy the edge part with `relaytts bundle edge DIR DEST`.",
        "",
    ]
    sv_line = f" and `sv_emb` float32 [1, {sovits['sv_dim']}]" if sovits.get("needs_sv_emb") else ""
    io = GRAPH_IO.format(
        hidden=t2s["hidden_dim"], last_layer=t2s["num_layers"] - 1, layers=t2s["num_layers"], vocab=t2s["vocab_size"],
        eos=t2s["eos"], spec_bins=sovits["spec_bins"], n_fft=sovits["n_fft"], hop=sovits["hop_length"],
        win=sovits["win_length"], sv_line=sv_line, gin=sovits["gin_channels"], latent=sovits["latent_channels"],
        rate=manifest.sample_rate, spt=manifest.samples_per_token,
    )
    return "\n".join(lines) + "\n" + io
