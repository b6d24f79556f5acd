"""Frontend throughput: short sentences per second per language, in this (one) thread."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .frontend import Frontend
from .schema import Language

__all__ = ["BENCH_SENTENCES", "TARGET_SENTENCES_PER_S", "BenchResult", "run_bench"]

TARGET_SENTENCES_PER_S = 200.0
"""Throughput the workers need per core for short zh and en sentences (issue 6)."""

BENCH_SENTENCES: dict[Language, tuple[str, ...]] = {
    Language.ZH: (
        "今天天气很好，我们去公园散步吧。", "这个问题我们明天再讨论。", "他昨天买了三本书。",
        "请在下午三点以前把报告交给我。", "北京是中国的首都。", "我不知道他为什么没来。",
        "这家餐厅的菜非常好吃。", "你能帮我一个忙吗？", "会议将于2024年5月20日举行。",
        "价格上涨了百分之五。", "小明一边听音乐一边写作业。", "外面下雨了，记得带伞。",
        "我们一起去看电影好不好？", "这本书一共有三百二十页。", "他的电话号码是13812345678。",
        "火车晚点了二十分钟。", "祝你生日快乐！", "学习中文并不难。", "孩子们在院子里玩儿。", "我很好，谢谢。",
    ),
    Language.EN: (
        "The weather is nice today.", "Please send me the report by Friday.", "I bought three books yesterday.",
        "How much does this cost?", "The meeting starts at 3:30 p.m.", "She lives in New York City.",
        "We sold 1,500 units last month.", "Dr. Smith will see you now.", "It costs $25.99 plus tax.",
        "The train was twenty minutes late.", "Happy birthday to you!", "Turn left at the next corner.",
        "I refuse to collect the refuse.", "Our revenue grew 12% this year.", "Can you help me with this?",
        "The 21st century began in 2001.", "He read the whole book in one day.", "Let's meet at the cafe.",
        "Kubernetes schedules containers.", "Thank you very much.",
    ),
    Language.JA: (
        "今日はいい天気ですね。", "明日また会いましょう。", "駅はどこですか？", "この本はとても面白いです。",
        "ありがとうございます。", "私は東京に住んでいます。", "会議は三時に始まります。", "少々お待ちください。",
        "日本語を勉強しています。", "雨が降ってきました。",
    ),
}  # fmt: skip
"""Short everyday sentences (the kind a voice prompt or a chat reply is made of)."""


@dataclass(frozen=True)
class BenchResult:
    """Throughput of one language."""

    language: Language
    sentences: int
    seconds: float
    warm_up_s: float
    """Time to load that language's dictionaries and models (first sentence)."""

    @property
    def per_second(self) -> float:
        """Sentences per second after warm-up."""
        return self.sentences / self.seconds if self.seconds else 0.0


def run_bench(languages: tuple[Language, ...], seconds: float = 2.0) -> list[BenchResult]:
    """Phonemize each language's sentences round-robin for about ``seconds`` after warming it up."""
    frontend = Frontend()
    results: list[BenchResult] = []
    for lang in languages:
        sentences = BENCH_SENTENCES[lang]
        start = time.perf_counter()
        frontend.warm_up([lang])
        warm = time.perf_counter() - start
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for text in sentences:
                frontend.phonemize(text, lang)
            count += len(sentences)
        results.append(BenchResult(lang, count, time.perf_counter() - start, warm))
    return results
