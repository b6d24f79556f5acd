"""The session factory's CUDA provider options (built and checked without a GPU)."""

from __future__ import annotations

import pytest

from bundle.session import CPU, CUDA, SessionOptions, provider_options
from relaytts.errors import BundleError


def test_cuda_gets_heuristic_conv_search_and_cpu_gets_nothing():
    (cuda, cuda_options), cpu = provider_options([CUDA, CPU], SessionOptions())
    assert cuda == CUDA and cpu == CPU
    assert cuda_options["cudnn_conv_algo_search"] == "HEURISTIC"  # not EXHAUSTIVE: no search per new shape
    assert provider_options([CPU], SessionOptions()) == [CPU]


def test_an_unknown_conv_search_is_refused():
    with pytest.raises(BundleError, match="`cudnn_conv_algo_search` must be one of EXHAUSTIVE, HEURISTIC, DEFAULT"):
        provider_options([CUDA, CPU], SessionOptions(cudnn_conv_algo_search="FAST"))
