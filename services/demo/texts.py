"""What people write in the sample company's groups: clean work talk, and the texts of each injected case.

Clean templates are written to stay clear of every trigger of the default pack, which
:mod:`services.demo.selfcheck` verifies word by word: no lexicon term, no question word (a question
opens a reply SLA), no issue word (opens the buck-passing timer), no notice mark, no after-hours idle
word, no phone-like number, nothing over 200 characters. ``COMMON`` has no task words either, so
leaders may say it without opening a task SLA; ``STAFF_ONLY`` may ("跟进", "处理") because only a
leader's task opens one.
"""

from __future__ import annotations

COMMON = (
    "{week}周报已经上传到共享盘，{dept}的部分都更新好了",
    "今天上午{client}的合同已经盖章寄出，顺丰单号发在备注里了",
    "{city}办事处本周新增客户{n}家，明细见周报附表",
    "{product}本月出货{n}00台，比上月略有增长",
    "下午{time}在{room}开周例会，记得带笔记本电脑",
    "本周五下午公司组织消防演练，到时候听广播统一下楼",
    "{client}那边已经确认收货，回款预计下周到账",
    "新版考勤制度已经发到钉钉公告，大家抽空看一下",
    "{dept}本月的团建定在{day}，地点稍后发群里",
    "谢谢{colleague}帮忙整理的资料，很清楚",
    "{product}的用户手册第二版已经定稿",
    "本周的值班表已更新，{colleague}和{colleague2}值周末班",
    "今天{city}下大雨，外出拜访客户的同事注意安全",
    "{client}的年度框架协议续签完成，辛苦大家",
    "会议纪要已经整理好，放在{dept}共享文件夹",
    "{month}份的报销单财务已经审核完毕，本周内打款",
    "明天上午{time}在{room}有新员工入职培训",
    "{product}样机已经送到{city}展厅，下周开始试用",
    "{dept}这个月的目标完成了{pct}，继续加油",
    "仓库盘点结束，账实相符，{colleague}辛苦了",
    "车间{n}号线今天完成设备保养，明早恢复生产",
    "周三的培训课件已上传，没参加的同事可以自学",
    "{client}对上次的安装服务很满意，特地发来感谢信",
    "本月的优秀员工评选结果出来了，恭喜{colleague}",
    "食堂从下周一开始增加晚餐窗口，加班的同事可以去",
    "{city}分仓的库存周转天数降到了{n}天",
    "今天的晨会内容已经记录在飞书文档里",
    "感谢{colleague}昨天加班赶出来的方案，客户很认可",
    "{product}的新包装设计稿定稿了，下周打样",
    "年中述职的时间表已经发到邮箱，大家留意一下",
    "刚和{client}开完视频会，对方认可我们的排期",
    "{dept}的培训计划已经提交人力资源部",
    "{week}的生产计划已经排好，详见共享表格",
    "今天来访的{client}客户已经送走，接待顺利",
    "{colleague}的转正答辩定在{day}上午",
    "办公区{n}楼的空调下周二集中清洗",
    "本周客户满意度回访完成{n}0份，整体评价不错",
    "新一批滤芯已经到货入库，共{n}00件",
    "{city}的展会展位已经确认，位置在{n}号馆入口附近",
    "设计部交来的海报初稿很不错，细节再打磨一下就好",
)

STAFF_ONLY = (
    "{client}的报价方案我在跟进，今天和对方采购再沟通一次",
    "我下午去{city}拜访{client}，明天上午回公司",
    "{client}的售后工单我已经处理完了，客户签字确认",
    "{month}份报销单我已经提交到OA，麻烦{colleague}帮忙审核",
    "{product}的测试用例写完了，今天开始执行",
    "我这边{week}的数据已经整理好了",
    "今天下午我请半天假，工作已经交接给{colleague}",
    "{client}的发票已经开好，今天寄出",
    "排班表我更新了，下周我上早班",
    "刚到{city}，晚上和{client}的王总吃工作餐",
    "{order}号订单已经发货，物流信息已同步给客户",
    "样品我放在前台了，{colleague}路过的时候帮忙拿一下",
    "{product}的安装视频剪好了，放在共享盘培训目录",
    "新人带教计划我写好了，发给{colleague}看过了",
    "今天的客户回访记录都录进系统了",
    "{client}的对账单核对完毕，金额一致",
    "我在{room}，{colleague}可以过来一起看下方案",
    "招聘会的展架已经取回来了，放在行政仓库",
)

CUSTOMER = (
    "你好，{product}这周能发货就行，我们仓库周四收货",
    "上次那批货已经收到了，包装很好",
    "合同我们法务看过了，这两天回寄给你们",
    "明天上午我们这边有人在，安装师傅可以过来",
    "发票收到了，谢谢",
    "下个月我们可能还要追加一批{product}",
    "付款已经走流程了，大概三个工作日",
)

SERVICE = (
    "{product}周四送货，司机到了会电话联系",
    "安装师傅明天上午九点到，辛苦留一个对接人",
    "合同原件已经寄出，顺丰单号稍后发您",
    "好的，追加订单我们这边随时可以排产",
    "发票已经开好，今天寄出",
)

# Leaders' tasks: the pack's reply.leader_task wants an answer within 30 working minutes.
TASKS = (
    "{mention}把{client}这个月的回款明细整理一下，下班前发我",
    "{mention}明天和{client}的会你负责对接，方案尽快给我过一遍",
    "{mention}{product}的备货数量核对一下，有变化马上汇报",
    "{mention}{city}办事处的季度费用汇总一下报给我",
    "{mention}{client}的续签合同抓紧落实",
)
TASK_REPLIES = ("收到，马上处理", "好的，今天下班前发您", "收到，我这就整理", "明白，已经在做了", "收到，稍后发您")

NOTICES = (
    "【通知】{mention}本周五下午三点在{room}召开安全生产会议，请准时参加",
    "【通知】{mention}本月考勤确认单须在25日前签字提交",
    "【通知】{mention}明天上午九点消防检查，请提前整理好工位",
    "【通知】{mention}新版报销制度下周一起执行，请仔细阅读",
)
ACKS = ("收到", "收到，谢谢", "好的", "收到，马上执行", "明白", "已阅，收到")

# Injected content, one entry per case: (text template, lexicon category, expected rule ids).
# The terms come from the shipped default lexicons (services/rules/lexicons/*.txt); the mapping to
# rule ids is what policies/company-default.yaml says about those categories.
ADS = (
    "兼职刷单，日赚三百，有意者私聊",
    "厂家直销净水器滤芯，包邮到家，加我微信",
    "招代理，月入过万，扫码加群了解",
    "无抵押贷款秒到账，有需要的朋友私聊我",
)
OBFUSCATED = (
    # (text, category) — spaces, full-width, Traditional, zero-width between the characters
    ("周末一起去网 赌，带你上分", "gambling"),
    ("今晚百　家　乐开局了，来的私我", "gambling"),
    ("朋友推荐的賭博平台，充值送彩金", "gambling"),
    ("六\u200b合\u200b彩这期稳赚，跟我买", "gambling"),
    ("午-夜-福-利视频合集，懂的来", "porn"),
    ("这里有看片神 器，自己下载", "porn"),
)
PLAIN = (
    # (text, category, expected rule ids)
    ("你是不是脑残，这点事都做不好", "insult", ("content.insult",)),
    ("真是个废物，智障一样的操作", "insult", ("content.insult", "content.redline.insult")),
    ("谁有翻牆軟件，分享一个", "politics", ("content.politics", "content.redline.political")),
    ("再这样我弄死你", "violence", ("content.violence", "content.redline.political")),
    ("工资再不涨，大家一起集体停工", "incitement", ("content.incitement",)),
    ("听说公司要裁员了，大家小心", "rumor", ("content.rumor",)),
    ("这次投标的底价是三百八十万，别外传", "confidential", ("content.confidential",)),
)
CATEGORY_RULES = {
    "gambling": ("content.gambling",),
    "porn": ("content.porn", "content.redline.political"),
    "ads": ("content.ads",),
}
PRIVACY = "{colleague}的手机号是{mobile}，有事直接打给他"
NON_WORK = ("今晚看球的举个手，下班一起", "这周末相亲去了，回头和大家说", "新出的综艺太好看了")
AFTER_HOURS = ("今晚八点群里抢红包，大家准时来", "有人晚上开黑吗，缺一个", "周末约饭喝酒，报名接龙")
LONG_PARTS = ("本周销售部共拜访客户二十三家，其中新客户九家，老客户回访十四家。",
              "华东区完成签约五单，华南区完成签约三单，整体完成月度目标的百分之六十二。",
              "市场部配合完成两场线下推广活动，收集有效线索八十余条，已分配给各区域客户经理。",
              "售后方面本周共受理工单四十一张，均已在承诺时限内关闭，客户满意度保持在较高水平。",
              "下周重点工作是跟进两家大型连锁超市的年度采购谈判，以及筹备月底的新品发布会。",
              "仓储方面完成季度盘点，账实相符，滤芯库存可以满足未来六周的销售需求。")
FLOOD = ("冲", "冲冲", "冲冲冲", "加油", "加油加油", "干就完了", "必胜", "拿下", "一起冲", "稳住", "继续", "加把劲")
P2P = ("方案第三页的数据我改了", "看到了，口径按财务的来", "那我把附表也同步改一下", "行，改完发我",
       "附表改好了，你再看一遍", "第二个表的合计对上了", "那我提交给经理了", "可以，提交吧")
BAD_NICKNAMES = ("{name}（出差中）", "小{given}", "{name}-{dept}", "A.{name}")
MALICIOUS_LINKS = (
    "系统升级，大家登录这个地址重新验证账号 http://bad-phish.cn/login",
    "人事发的工资调整明细在这里 https://tlangao.com/hr/notice",
    "新版打卡插件下载 http://103.45.67.89:8080/update.exe",
)
ALLOWED_LINKS = (
    "{month}份的报销单已经提交，审批链接 https://oa.tiangao.com/flow/{order}",
    "会议材料放在这里了 https://pan.tiangao.com/s/{code}",
    "新版员工手册在内网 https://wiki.tiangao.com/handbook",
)

OPENERS = ("同步一下，", "补充一下，", "跟大家说一声，", "各位同事，", "另外，", "更新一下：")
CLOSERS = ("，辛苦大家", "，谢谢", "。", "，有变化再同步", "👍", "，大家知悉")

ROOMS = ("3楼第一会议室", "3楼第二会议室", "5楼大会议室", "2楼培训室", "1楼洽谈室")
DAYS = ("周一", "周二", "周三", "周四", "周五")
