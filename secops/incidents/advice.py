"""Recommended actions for a 通报, chosen by the ATT&CK tactics an incident shows.

Written for the recipient of a notification (a 委办局 or a regulator): what to check and what to do,
in the order an incident needs them. Every incident also gets the evidence-keeping step the
Cybersecurity Law requires (logs kept at least six months).
"""

from __future__ import annotations

from collections.abc import Iterable

BY_TACTIC = {
    "reconnaissance": "在边界防火墙/WAF 上封禁扫描来源地址，核查暴露在互联网上的端口和服务是否必要。",
    "initial-access": "核查被攻击的 Web 应用和接口是否存在可利用漏洞，及时修补；在 WAF 上封禁攻击来源。",
    "credential-access": "封禁暴力破解来源地址；核查相关账户是否已被登录，重置口令并启用多因素认证。",
    "execution": "隔离涉及主机，排查 /tmp、/dev/shm 等目录下的可疑程序及其进程，留存样本。",
    "persistence": "核查新增账户、sudoers、计划任务和启动项，清除攻击者留下的持久化手段。",
    "privilege-escalation": "核查提权途径（sudo 配置、SUID 程序、内核漏洞），修补后更换管理员口令。",
    "defense-evasion": "恢复被删除或修改的审计规则与日志配置，检查日志是否被清除。",
    "lateral-movement": "排查同网段其他主机是否被横向登录，必要时按安全域隔离。",
    "command-and-control": "阻断与外部控制端的通信，排查其他主机是否连接同一地址。",
    "exfiltration": "评估数据泄露范围，依法履行个人信息和重要数据泄露的报告义务。",
    "impact": "核查网页是否被篡改或挂马，从可信备份恢复页面并排查 Web 目录中的 WebShell。",
}
DEFAULT = "核实告警所述行为是否属实，确认受影响资产的责任单位和联系人。"
ALWAYS = "保全相关日志和流量证据（日志留存不少于六个月），处置完成后反馈处置结果。"


def recommended_actions(tactic_names: Iterable[str]) -> list[str]:
    names = list(tactic_names)
    return [DEFAULT, *(BY_TACTIC[t] for t in names if t in BY_TACTIC), ALWAYS]
