"""Word lists the tone-sandhi rules consult (our own lists of common Mandarin words).

pypinyin's phrase dictionary gives citation tones, so light (neutral-tone) second syllables of
everyday words have to come from a list. The lists are deliberately short and common-word only.
"""

from __future__ import annotations

__all__ = ["MUST_NEUTRAL", "NOT_ERHUA", "NOT_NEUTRAL", "PARTICLES"]

MUST_NEUTRAL = frozenset(
    """
    东西 意思 朋友 衣服 学生 事情 时候 地方 知道 认识 喜欢 明白 清楚 漂亮 舒服 麻烦 客气 关系 先生 太太
    姑娘 小姐 丈夫 媳妇 亲戚 邻居 师傅 大夫 队伍 窗户 头发 耳朵 眼睛 眉毛 鼻子 嘴巴 胳膊 指头 脑袋 肚子
    屁股 骨头 尾巴 萝卜 葡萄 豆腐 馒头 包子 饺子 核桃 石榴 枕头 被子 桌子 椅子 房子 屋子 院子 扇子 帘子
    钥匙 玻璃 蘑菇 云彩 月亮 太阳 早上 晚上 上头 下头 里头 外头 前头 后头 地下 底下 时辰 日子 名字 生意
    买卖 行李 首饰 嫁妆 笑话 故事 主意 道理 规矩 功夫 本事 力气 脾气 福气 运气 和气 口气 动静 热闹 凉快
    暖和 快活 痛快 干净 利索 利落 结实 踏实 老实 厚道 聪明 糊涂 马虎 啰嗦 哆嗦 折腾 琢磨 打听 打扮 打算
    收拾 商量 招呼 吩咐 告诉 觉得 记得 晓得 认得 值得 舍得 怪不得 算计 合计 张罗 应付 委屈 体面 便宜
    风筝 灯笼 刺猬 蛤蟆 骆驼 狐狸 喇叭 琵琶 胡琴 畜生 牲口 庄稼 粮食 芝麻 高粱 黄瓜 茄子 柿子 橘子 棒子
    妈妈 爸爸 爷爷 奶奶 姥姥 姥爷 哥哥 姐姐 弟弟 妹妹 叔叔 婶婶 舅舅 伯伯 宝宝 娃娃 星星 猩猩 谢谢 看看
    特务 部分 工夫 似的 多么 什么 怎么 这么 那么 为了 除了 罢了 算了 得了 好了 行了 来着 咱们 我们 你们
    他们 她们 它们 人们 孩子们 人家 大爷 姑姑 女婿 公公 婆婆 嫂子 孙子 侄子 儿子 女儿
    """.split()
)
"""Words whose last syllable is always neutral tone (轻声)."""

NOT_NEUTRAL = frozenset(
    """
    男子 女子 分子 原子 电子 量子 中子 质子 因子 粒子 离子 孔子 老子 庄子 孟子 墨子 君子 天子 太子 世子
    赤子 游子 浪子 才子 学子 弟子 棋子 莲子 瓜子 种子 石子 卵子 精子 孢子 椰子 虾子 鱼子 菜子 松子
    亲子 母子 父子 夫子 原子弹 电子版
    """.split()
)
"""Nouns ending in 子/们 that keep the full tone (the 子 here is a morpheme, not a suffix)."""

NOT_ERHUA = frozenset(
    """
    儿子 女儿 儿女 男儿 健儿 孤儿 婴儿 幼儿 少儿 胎儿 患儿 乞儿 宠儿 弃儿 侄儿 孙儿 妻儿 犬儿 新生儿 混血儿
    流浪儿 婴幼儿 低能儿 幸运儿 弄潮儿 宁馨儿 育儿 托儿 产儿 早产儿 独生儿 小儿 残疾儿 留守儿
    花儿 鸟儿 猫儿 狗儿 马儿 虫儿 猪儿 红孩儿
    """.split()
)
"""Words ending in 儿 where 儿 is a full syllable ("child"; and, as upstream, the song-like 花儿, 鸟儿…)."""

PARTICLES = frozenset("吧呢啊呐嘛吗哦哒啦喽啰哟呗嘞咯呀哇")
"""Sentence-final particles, always neutral tone at the end of a word."""
