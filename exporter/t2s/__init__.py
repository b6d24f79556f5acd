"""The T2S ("GPT") half of GPT-SoVITS: config, model, reference decoding and the checkpoint loader."""

from exporter.t2s.config import T2SConfig
from exporter.t2s.generate import Generation, generate, teacher_forced_logits
from exporter.t2s.loader import load_t2s, save_t2s_checkpoint
from exporter.t2s.model import Text2SemanticDecoder

__all__ = [
    "Generation",
    "T2SConfig",
    "Text2SemanticDecoder",
    "generate",
    "load_t2s",
    "save_t2s_checkpoint",
    "teacher_forced_logits",
]
