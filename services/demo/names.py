"""Word lists for the sample company: Chinese surnames by frequency, given-name characters, customers.

Surnames follow the order of the 2020 census ranking (王李张刘陈…), weighted so that the commonest
ones appear as often as in a real office; given names are one or two characters from lists of
characters common in names of people born 1965–2003.
"""

from __future__ import annotations

import random

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁"
            "任沈姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严覃")

GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞婷雪琳晨宇浩然欣怡子轩梓涵"
         "思远佳怡嘉欣俊杰志强海燕晓东丹凤春梅振华德明永红立新雅琴宏伟少华卫东晓丽家豪一鸣若曦雨萱诗涵"
         "博文皓轩天佑紫琪梦瑶慧敏晓峰宁波鑫淼凯瑞彤颖琦瑶璐冰倩蕾薇晶莉楠萌翔斌彬亮鹤锋诚毅")

CUSTOMERS = ("恒达物流", "华润万家", "中建三局", "永辉超市", "顺丰速运", "美的集团", "海信电器", "金龙鱼粮油",
             "德邦快递", "苏宁易购", "万科物业", "碧桂园服务", "光明乳业", "蒙牛乳业", "联想集团")

CITIES = ("武汉", "长沙", "郑州", "合肥", "南昌", "成都", "西安", "杭州", "南京", "苏州", "广州", "深圳")

PRODUCTS = ("T200 净水器", "T300 空气净化器", "智能门锁 S1", "厨房小家电套装", "商用净水设备", "滤芯年卡",
            "新风系统 X5", "扫地机器人 R8")


def surname(rng: random.Random) -> str:
    # Earlier surnames are commoner: weight 1/(rank+5) approximates the census curve closely enough.
    weights = [1.0 / (i + 5) for i in range(len(SURNAMES))]
    return rng.choices(SURNAMES, weights)[0]


def given_name(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(GIVEN)
    return rng.choice(GIVEN) + rng.choice(GIVEN)


def person_name(rng: random.Random, taken: set[str]) -> str:
    """A name nobody in the company has yet (two people with one name would make nicknames ambiguous)."""
    while True:
        name = surname(rng) + given_name(rng)
        if name not in taken and len(set(name)) == len(name):
            taken.add(name)
            return name
