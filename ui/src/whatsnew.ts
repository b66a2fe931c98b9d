// What each version brought, newest first, as the owner reads it (shown from the version in the
// header). Kept short: what changed for the shop, not how.
import type { Language } from "./ipc";

export interface Release {
  version: string;
  notes: Record<Language, string[]>;
}

export const RELEASES: Release[] = [
  {
    version: "0.2.0",
    notes: {
      "zh-CN": [
        "开通向导：商户号和 AppID → API 密钥 → API 证书 → 接收地址 → 测试，每一步都向微信支付实时检查，并说明去哪里找、怎么改。",
        "检查会证明证书在退款接口上可用（一笔不存在订单的退款，不动钱）；检查全部通过才保存，原来的设置不受影响。",
        "测试公网地址能否到达本机，并在沙箱里演练一笔 ¥0.01 退款。",
        "新订单提醒不会丢：语音播报金额，促销高峰合并为一条，关店期间的订单开店时汇总；今日看板。",
        "微信支付的通知无法验证时（例如商户平台里的 API 密钥被重置）会发出提醒并一直显示，直到修好；陌生人的伪造通知不会触发。",
        "店铺中继：路由器后面的电脑也能收到付款通知和退款申请；店员电脑同步显示退款队列（只读）。",
        "中继只负责送达：它、店员电脑或持有 API 密钥的人都无法让店主电脑付出店主没批准的钱；换新的店主电脑时，已退过的申请不会再退一次。",
        "沙箱会记住前一天的订单：重启后仍可退款。",
        "提供 .deb 和 AppImage 安装包。",
      ],
      en: [
        "Setup guide: merchant id and AppID → API key → API certificate → public address → test, each step checked live with WeChat Pay and told where to find things and how to fix them.",
        "The checks prove the certificate where refunds go (a refund of an order that does not exist; no money moves); nothing is saved unless every check passes, and the setup in use is untouched.",
        "A test that the public address reaches this desk, and a ¥0.01 trial refund in the sandbox.",
        "Order alerts that are never lost: amounts spoken aloud, flash sales in one running alert, a summary of what came while the desk was closed; today's board.",
        "When WeChat Pay's notifications stop verifying (the API key reset in 商户平台, say) the desk says so and keeps saying it until mended; strangers' forgeries cannot raise it.",
        "The shop's relay: PCs behind a router receive payment notifications and refund requests; staff PCs show the refund queue, read-only.",
        "The relay only delivers: neither it, a staff PC nor anyone holding the API key can make the owner's desk pay what the owner did not approve; a new owner's PC never refunds a request again.",
        "The sandbox remembers yesterday's orders: they refund after a restart.",
        "Installable .deb and AppImage packages.",
      ],
    },
  },
  {
    version: "0.1.0",
    notes: {
      "zh-CN": ["退款队列、订单、设置、审计日志、店主密码、桌面提醒；内置沙箱。"],
      en: ["Refund queue, orders, settings, audit log, owner PIN, desktop alerts; the built-in sandbox."],
    },
  },
];
