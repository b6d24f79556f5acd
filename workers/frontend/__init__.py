"""The text frontend the workers run: text → segments → phoneme ids (+ BERT features) for T2S.

No torch and no downloads: Chinese uses jieba + pypinyin, English the CMU dictionary plus g2p_en's
OOV model run in numpy, Japanese upstream's pyopenjtalk 0.4.1 on the naist-jdic 1.11 dictionary (a
Debian package, never downloaded). See ``docs/frontend.md``.
"""

from .bert import BERT_DIM, BertFeaturizer, CharFeatureExtractor
from .frontend import Frontend
from .schema import Language, PhonemizedSegment, PhonemizedSpan, Segment, Span

__all__ = [
    "BERT_DIM",
    "BertFeaturizer",
    "CharFeatureExtractor",
    "Frontend",
    "Language",
    "PhonemizedSegment",
    "PhonemizedSpan",
    "Segment",
    "Span",
]
