"""ERes2NetV2 speaker verification (v2Pro / v2ProPlus): a state-dict-compatible reimplementation of upstream's net.

>>> net = load_sv("pretrained_eres2netv2w24s4ep4.ckpt")          # doctest: +SKIP
>>> emb = net(torch.from_numpy(sv_fbank(wav32k)))                 # [1, 20480]  # doctest: +SKIP
"""

from .loader import infer_config, load_sv, read_sv_state
from .model import ERes2NetV2, ERes2NetV2Config

__all__ = ["ERes2NetV2", "ERes2NetV2Config", "infer_config", "load_sv", "read_sv_state"]
