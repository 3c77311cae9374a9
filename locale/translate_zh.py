"""Fill locale/zh_Hans/LC_MESSAGES/django.po from the table below (run after makemessages, then compilemessages).

    .venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=bench --ignore=tests
    .venv/bin/python locale/translate_zh.py && .venv/bin/python manage.py compilemessages -l zh_Hans
"""

import re
from pathlib import Path

ZH = {
    "Simplified Chinese": "简体中文", "English": "English", "Dispatch and evaluation": "派遣与评价",
    "name": "名称", "seen at": "最近时间", "detail": "详情", "heartbeat": "心跳", "heartbeats": "心跳",
    "Problem categories": "问题类别", "One problem category": "单个问题类别",
    "No category with this code.": "没有此编码的类别。", "There is no category with this code.": "没有此编码的类别。",
    "Cases and events": "案卷与事件", "component": "部件", "event": "事件", "normal": "一般", "urgent": "紧急",
    "urgent hours (wall clock)": "紧急工作时", "working hours": "工作时", "working days": "工作日",
    "calendar days": "自然日", "code": "编码", "kind": "类型", "major class code": "大类编码", "major class": "大类",
    "minor class code": "小类编码", "minor class": "小类", "default urgency": "默认紧急程度",
    "handling limit": "处置时限", "limit unit": "时限单位", "responsible department type": "责任单位类型",
    "active": "启用", "category": "类别", "categories": "类别", "grid patrol": "网格巡查", "hotline": "热线",
    "WeChat": "微信", "IoT sensor": "物联感知", "Open311": "Open311", "web": "网页",
    "awaiting acceptance": "待受理", "accepted, awaiting dispatch": "已立案，待派遣",
    "dispatched, awaiting sign-off": "已派遣，待签收", "being handled": "处置中", "suspended": "挂账",
    "handled, awaiting check": "处置完成，待核查", "checked, awaiting feedback": "核查通过，待回访",
    "closed": "已结案", "not accepted": "不予立案", "merged": "已并案", "cancelled": "已作废",
    "resolved": "已解决", "handled on the spot": "自行处置", "duplicate": "重复", "street": "街道",
    "district": "区", "city": "市", "not requested": "未请求", "requested": "已请求",
    "confirmed on site": "现场核实属实", "not found on site": "现场未发现", "case number": "案卷编号",
    "state": "状态", "channel": "来源渠道", "urgency": "紧急程度", "description": "问题描述", "latitude": "纬度",
    "longitude": "经度", "address": "地址", "unit grid": "单元网格", "region code": "区域编码",
    "command level": "指挥层级", "department in charge": "责任单位", "merged into": "并入案卷",
    "close reason": "结案原因", "reported as handled on the spot": "上报为自行处置", "on-site check (核实)": "核实",
    "reported outside the worker's grids": "在责任网格外上报", "reporting staff": "上报人员",
    "citizen identity hash": "市民身份摘要", "returns": "回退次数", "reworks": "返工次数",
    "extensions approved": "已批延期次数", "extension requested": "延期待批", "reopens": "重新办理次数",
    "escalations": "上报升级次数", "suspended until": "挂账至", "suspensions": "挂账次数",
    "reporter rating": "上报人评价", "rating comment": "评价意见", "created at": "创建时间", "updated at": "更新时间",
    "checked at": "核查时间", "closed at": "结案时间", "last event number": "最后事件序号",
    "last event hash": "最后事件哈希", "case": "案卷", "cases": "案卷", "day": "日期", "last number": "最后序号",
    "case number sequence": "案卷编号序列", "case number sequences": "案卷编号序列", "staff user": "工作人员",
    "system": "系统", "citizen": "市民", "sensor": "传感器", "number": "序号", "actor": "操作人",
    "actor kind": "操作人类型", "actor reference": "操作人标识", "actor role": "操作人角色", "from state": "原状态",
    "to state": "新状态", "payload": "内容", "occurred at": "发生时间", "previous hash": "前一哈希", "hash": "哈希",
    "case event": "案卷事件", "case events": "案卷事件", "citizen name": "市民姓名", "citizen phone": "市民电话",
    "WeChat openid": "微信 openid", "citizen email": "市民邮箱", "raw payload": "原始报文", "received at": "接收时间",
    "idempotency key": "幂等键", "idempotency scope": "幂等范围", "inbound report": "来件", "inbound reports": "来件",
    "report photo": "上报照片", "before handling": "处置前", "after handling": "处置后", "on-site check": "现场核查",
    "event number": "事件序号", "file": "文件", "content type": "文件类型", "size in bytes": "大小（字节）",
    "SHA-256": "SHA-256", "metadata": "元数据", "uploaded by": "上传人", "uploaded at": "上传时间", "photo": "照片",
    "photos": "照片", "user": "用户", "role": "角色", "viewed at": "查看时间", "contact view": "联系方式查看记录",
    "contact views": "联系方式查看记录", "Gridloop": "Gridloop", "Grids and people": "网格与人员",
    "community": "社区", "level": "层级", "parent": "上级", "boundary (GeoJSON, WGS84)": "边界（GeoJSON，WGS84）",
    "region": "区域", "regions": "区域", "geometry version": "几何版本", "street office": "街道办事处",
    "sanitation": "环卫", "municipal engineering": "市政", "urban management enforcement": "城管执法",
    "landscaping": "园林", "water": "水务", "power": "电力", "telecommunications": "通信", "gas": "燃气",
    "heating": "热力", "emergency management": "应急", "public security": "公安", "traffic police": "交警",
    "transport": "交通", "housing and construction": "住建", "planning and land": "规划",
    "ecology and environment": "生态环境", "market regulation": "市场监管", "type": "类型", "jurisdiction": "管辖区域",
    "department": "处置单位", "departments": "处置单位", "display name": "姓名", "phone": "电话",
    "staff users": "工作人员", "grid worker": "网格员", "hotline operator": "热线坐席", "dispatcher": "派遣员",
    "department handler": "处置人员", "supervisor": "督办人员", "administrator": "管理员",
    "role assignment": "角色分配", "role assignments": "角色分配",
    "No such region in your scope.": "您的辖区内没有此区域。",
    "No such department in your scope.": "您的辖区内没有此处置单位。",
    "This point is outside the service area (no unit grid contains it).": "该位置不在服务区域内（不属于任何单元网格）。",
    "Wrong credentials.": "用户名或密码错误。",
    "There is no region with this code in your area.": "您的辖区内没有此编码的区域。",
    "There is no department with this code in your area.": "您的辖区内没有此编码的处置单位。",
    "Outside every unit grid: code outside_service_area.": "不在任何单元网格内：code 为 outside_service_area。",
    "Regions in your scope": "辖区内的区域", "Nested tree of the regions in your scope": "辖区区域树",
    "One region with its ancestors, children and boundary": "单个区域（含上级、下级和边界）",
    "One region as a GeoJSON Feature": "单个区域的 GeoJSON Feature", "Departments serving your area": "服务本辖区的处置单位",
    "One department": "单个处置单位",
    "Grid event workflow engine": "网格事件流转引擎",
    "Grid event workflow engine for city governance": "面向城市治理的网格化事件流转引擎（数字城管 / 网格化管理 / 12345 接诉即办）",
    "API documentation (log in first)": "接口文档（请先登录）",
    "Administration: regions, departments, staff, categories, cases": "管理后台：区域、处置单位、人员、类别、案卷",
    "Health: database and background worker": "运行状态：数据库与后台任务",
    "Cases move: receive → assign → handle → supervise → feedback, each stage with a clock.":
        "案卷流转：受理 → 派遣 → 处置 → 核查 → 回访结案，每个环节都有计时。",
    "Logged in as %(name)s.": "当前登录：%(name)s。", "Who you are: your roles and your area scope": "当前用户：角色与辖区范围",
    'weekday': '工作日',
    'Retry now': '立即重试',
    '%(count)s message(s) will be sent again now.': '%(count)s 条消息将立即重新发送。',
    'Your notifications, newest first': '我的通知（最新在前）',
    'Bad input.': '输入有误。',
    'You may not do this.': '您无权执行此操作。',
    "A command center's work queues": '指挥中心工作队列',
    'No command center of yours at this level.': '您在此层级没有所属指挥中心。',
    'There is no %(level)s queue: the levels are street, district and city.': '没有 %(level)s 队列：层级为 street、district、city。',
    'Only administrators may do this.': '仅管理员可执行此操作。',
    'Routing rules': '派遣规则',
    'Add a routing rule': '新增派遣规则',
    'One routing rule': '单条派遣规则',
    'Delete a routing rule': '删除派遣规则',
    'No override for this day.': '该日没有调整设置。',
    'There is no calendar override for %(day)s.': '%(day)s 没有日历调整。',
    'No such order.': '没有此督办单。',
    'Already answered.': '已回复。',
    'Urge and supervision orders in your area or department': '辖区或本单位的催办、督办单',
    'Reply to an urge or supervision order (once)': '回复催办或督办（仅一次）',
    'note': '备注',
    'day off': '休息日',
    'in-app inbox': '站内消息',
    'SMS': '短信',
    'pending': '待发送',
    'delivered': '已送达',
    'parked (kept failing)': '已搁置（多次失败）',
    'recipient': '接收人',
    'recipient address': '接收地址',
    'title': '标题',
    'body': '内容',
    'delivery state': '投递状态',
    'failed attempts': '失败次数',
    'next attempt at': '下次尝试时间',
    'outbox message': '待发消息',
    'outbox messages': '待发消息',
    'inbox item': '站内消息',
    'inbox items': '站内消息',
    'priority': '优先级',
    'dispatch automatically': '自动派遣',
    'routing rule': '派遣规则',
    'routing rules': '派遣规则',
    'accept (立案)': '立案',
    'dispatch (派遣)': '派遣',
    'sign (签收)': '签收',
    'handle (处置)': '处置',
    'verify (核查)': '核查',
    'feedback (回访)': '回访',
    'green': '绿灯',
    'yellow (80 % of the limit used)': '黄灯（已用时限 80%）',
    'red (overdue, 超期)': '红灯（超期）',
    'stage': '环节',
    'amount': '时限数值',
    'SLA policy': '时限规则',
    'SLA policies': '时限规则',
    'deadline': '截止时间',
    'warning at (80 %)': '预警时间（80%）',
    'paused seconds': '暂停秒数',
    'light': '灯色',
    'on time': '按期',
    'escalated for this breach': '已因本次超期上报',
    'stage clock': '环节计时',
    'stage clocks': '环节计时',
    'overdue': '超期',
    "leader's order": '领导督办',
    'reply due': '回复期限',
    'reply': '回复',
    'urge': '催办',
    'supervision order': '督办单',
    'supervision orders': '督办单',
    'key case': '重点案件',
    'requirement': '督办要求',
    'command center code': '指挥中心编码',
    'issued by': '发出人',
    'issued at': '发出时间',
    'replied by': '回复人',
    'replied at': '回复时间',
    'calendar override': '日历调整',
    'calendar overrides': '日历调整',
    'is a working day': '是工作日',
    'no category yet: no routing rule can apply': '尚无类别：无法匹配派遣规则',
    'rule %(rule)s: %(what)s in %(region)s → %(department)s': '规则 %(rule)s：%(region)s 的%(what)s → %(department)s',
    'no rule matches at the %(level)s level: choose a department': '%(level)s层级没有匹配的规则：请选择处置单位',
    'no rule matches and the street has no active street office': '没有匹配的规则，且该街道没有启用的街道办事处',
    'no rule matches %(what)s: the street office takes it (属地兜底) → %(department)s': '没有匹配“%(what)s”的规则：属地兜底 → %(department)s',
    'returned %(n)s times: re-dispatch from the upper command center': '已回退 %(n)s 次：由上级指挥中心重新派遣',
    'File a report (grid patrol, hotline or web) and open a case': '上报问题（网格巡查、热线或网页）并立卷',
    'The case timeline (its event log, oldest first)': '案卷时间线（事件日志，按时间顺序）',
    "The reporter's full contact details (every call is logged)": '上报人完整联系方式（每次查看均记录）',
    "Your role may not see citizens' contact details.": '您的角色不能查看市民联系方式。',
    'Take an action on a case': '对案卷执行操作',
    'Your role or area does not let you take this action on this case.': '您的角色或辖区不允许对此案卷执行此操作。',
    'No case with this number in your area, or no such action.': '您的辖区内没有此编号的案卷，或没有此操作。',
    "The action does not fit the case's state.": '该操作与案卷当前状态不符。',
    'Cases you filed yourself, newest first': '我上报的案卷（最新在前）',
    'There is no case with this number in your area.': '您的辖区内没有此编号的案卷。',
    'Your roles do not let you file on this channel at this place.': '您的角色不能在此地点通过此渠道上报。',
}


def fill(po_path: Path) -> tuple[int, int]:
    text = po_path.read_text(encoding="utf-8")
    # makemessages' fuzzy guesses are often wrong: forget them (the table below, or English, is used instead)
    entries = text.split("\n\n")
    for i, entry in enumerate(entries):
        lines = entry.split("\n")
        flags = [ln for ln in lines if ln.startswith("#,")]
        if not flags or "fuzzy" not in flags[0] or 'msgid ""' in lines:
            continue
        rest = [f.strip() for f in flags[0][2:].split(",") if f.strip() != "fuzzy"]
        lines = [ln for ln in lines if not ln.startswith("#|")]
        lines = [("#, " + ", ".join(rest)) if ln.startswith("#,") else ln for ln in lines if not (ln.startswith("#,") and not rest)]
        lines = [('msgstr ""' if ln.startswith("msgstr ") else ln) for ln in lines]
        entries[i] = "\n".join(lines)
    text = "\n\n".join(entries)
    # "80 % of" is not a format string, whatever xgettext thought
    text = text.replace('#, python-format\nmsgid "yellow (80 % of the limit used)"',
                        '#, no-python-format\nmsgid "yellow (80 % of the limit used)"')
    done = missing = 0

    def replace(match):
        nonlocal done, missing
        msgid = match.group(1)
        if msgid in ZH:
            done += 1
            return f'msgid "{msgid}"\nmsgstr "{ZH[msgid]}"'
        missing += 1
        return match.group(0)

    text = re.sub(r'msgid "((?:[^"\\]|\\.)+)"\nmsgstr ""(?!\n")', replace, text)
    text = text.replace('"Content-Type: text/plain; charset=CHARSET\\n"', '"Content-Type: text/plain; charset=UTF-8\\n"')
    po_path.write_text(text, encoding="utf-8")
    return done, missing


if __name__ == "__main__":
    po = Path(__file__).resolve().parent / "zh_Hans" / "LC_MESSAGES" / "django.po"
    done, missing = fill(po)
    print(f"translated {done}, left in English {missing}")
