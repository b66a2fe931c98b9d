//! Which desk events become desktop alerts, with what text and sound: one alert per order or
//! request or final refund state, never two; quiet hours silence the sound; an order alert can
//! be set to repeat until someone acknowledges it. The shell only shows what this decides.

use std::collections::{HashSet, VecDeque};

use desk_core::{DeskEvent, Problem, RefundState};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};
use wxpay::Fen;

/// The UI's language, also used for desktop notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AlertSettings {
    #[serde(default = "yes")]
    pub sound: bool,
    /// Repeat a new order's alert until someone acknowledges it.
    #[serde(default)]
    pub repeat_until_ack: bool,
    /// No sound and no repeats in this window, China time ("22:00" to "08:00" spans midnight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

fn yes() -> bool {
    true
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            sound: true,
            repeat_until_ack: false,
            quiet_hours: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuietHours {
    /// "HH:MM"
    pub from: String,
    pub to: String,
}

impl QuietHours {
    /// Minutes after midnight of each end, or `None` when either is not "HH:MM".
    pub fn minutes(&self) -> Option<(u32, u32)> {
        Some((parse_hhmm(&self.from)?, parse_hhmm(&self.to)?))
    }

    fn contains(&self, minute: u32) -> bool {
        match self.minutes() {
            Some((from, to)) if from <= to => (from..to).contains(&minute),
            Some((from, to)) => minute >= from || minute < to,
            None => false,
        }
    }
}

fn parse_hhmm(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Shops are in China: times are shown and quiet hours judged in China Standard Time.
fn china_time(unix: i64) -> OffsetDateTime {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AlertKind {
    NewOrder,
    RefundRequest,
    RefundSucceeded,
    RefundFailed,
    RefundNeedsManual,
    /// Held until the owner fixes the setup.
    RefundHeld,
    /// WeChat paid a refund the desk held as failed.
    RefundContradicted,
    Test,
}

/// Where clicking the alert takes the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AlertTarget {
    /// The refund queue's pending tab.
    Queue,
    Order {
        out_trade_no: String,
    },
    Request {
        request: i64,
    },
    Settings,
}

/// One desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    /// What it is about, unique per thing alerted ("order:…", "request:…", "refund:…:state").
    pub key: String,
    pub kind: AlertKind,
    pub title: String,
    pub body: String,
    pub sound: bool,
    /// Repeat until acknowledged.
    pub repeat: bool,
    pub target: AlertTarget,
}

/// Remembers what was alerted so nothing alerts twice (bounded: the oldest are forgotten).
#[derive(Debug)]
pub struct Alerter {
    settings: AlertSettings,
    language: Language,
    seen: HashSet<String>,
    order: VecDeque<String>,
}

const REMEMBERED: usize = 20_000;

impl Alerter {
    pub fn new(settings: AlertSettings, language: Language) -> Alerter {
        Alerter {
            settings,
            language,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    pub fn configure(&mut self, settings: AlertSettings, language: Language) {
        self.settings = settings;
        self.language = language;
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// The alert for `event` at `now` (Unix seconds), or `None` when it is not alerted or was
    /// alerted already.
    pub fn alert_for(&mut self, event: &DeskEvent, now: i64) -> Option<Alert> {
        let zh = self.language == Language::ZhCn;
        let (key, kind, title, body, target) = match event {
            DeskEvent::OrderPaid {
                out_trade_no,
                total_fee,
                paid_at,
            } => (
                format!("order:{out_trade_no}"),
                AlertKind::NewOrder,
                if zh {
                    format!("新订单 ¥{}", total_fee.to_yuan_string())
                } else {
                    format!("New order ¥{}", total_fee.to_yuan_string())
                },
                format!(
                    "{} {out_trade_no} · {}",
                    if zh { "订单" } else { "Order" },
                    clock(*paid_at)
                ),
                AlertTarget::Order {
                    out_trade_no: out_trade_no.clone(),
                },
            ),
            DeskEvent::RefundRequested {
                request,
                out_trade_no,
                refund_fee,
            } => (
                format!("request:{request}"),
                AlertKind::RefundRequest,
                if zh {
                    format!("退款申请 ¥{}", refund_fee.to_yuan_string())
                } else {
                    format!("Refund request ¥{}", refund_fee.to_yuan_string())
                },
                if zh {
                    format!("订单 {out_trade_no} · 等待审批")
                } else {
                    format!("Order {out_trade_no} · waiting for approval")
                },
                AlertTarget::Request { request: *request },
            ),
            DeskEvent::RefundChanged {
                refund,
                request,
                out_trade_no,
                refund_fee,
                state,
                problem,
                contradicted,
                ..
            } => {
                let (kind, zh_title, en_title, key) = match state {
                    RefundState::Succeeded if *contradicted => (
                        AlertKind::RefundContradicted,
                        "退款已成功（此前记录为失败）",
                        "Refunded after all (the desk had it as failed)",
                        "contradicted",
                    ),
                    RefundState::Succeeded => (
                        AlertKind::RefundSucceeded,
                        "退款成功",
                        "Refunded",
                        state.as_str(),
                    ),
                    RefundState::Failed => (
                        AlertKind::RefundFailed,
                        "退款失败",
                        "Refund failed",
                        state.as_str(),
                    ),
                    RefundState::NeedsManual => (
                        AlertKind::RefundNeedsManual,
                        "退款需人工处理",
                        "Refund needs manual handling",
                        state.as_str(),
                    ),
                    RefundState::Held => (
                        AlertKind::RefundHeld,
                        "退款已暂停：请检查设置",
                        "Refund held: the setup needs fixing",
                        state.as_str(),
                    ),
                    RefundState::Approved
                    | RefundState::Submitting
                    | RefundState::Processing
                    | RefundState::Closed => return None,
                };
                let amount = refund_fee.to_yuan_string();
                let mut body = if zh {
                    format!("订单 {out_trade_no} · ¥{amount}")
                } else {
                    format!("Order {out_trade_no} · ¥{amount}")
                };
                if let Some(problem) = problem {
                    body.push_str(" · ");
                    body.push_str(problem_text(*problem, self.language));
                }
                (
                    format!("refund:{refund}:{key}"),
                    kind,
                    if zh { zh_title } else { en_title }.to_owned(),
                    body,
                    AlertTarget::Request { request: *request },
                )
            }
            DeskEvent::RequestClosed { .. } => return None,
        };
        if !self.remember(&key) {
            return None;
        }
        let quiet = self.is_quiet(now);
        let new_order = kind == AlertKind::NewOrder;
        Some(Alert {
            key,
            kind,
            title,
            body,
            sound: new_order && self.settings.sound && !quiet,
            repeat: new_order && self.settings.repeat_until_ack && !quiet,
            target,
        })
    }

    /// The alert behind the "send a test alert" button: what a new order looks like now.
    pub fn test_alert(&self, now: i64) -> Alert {
        let zh = self.language == Language::ZhCn;
        Alert {
            key: format!("test:{now}"),
            kind: AlertKind::Test,
            title: if zh {
                "测试提醒 ¥0.01"
            } else {
                "Test alert ¥0.01"
            }
            .to_owned(),
            body: if zh {
                format!("新订单会这样提醒 · {}", clock(now))
            } else {
                format!("New orders will look like this · {}", clock(now))
            },
            sound: self.settings.sound && !self.is_quiet(now),
            repeat: false,
            target: AlertTarget::Settings,
        }
    }

    fn is_quiet(&self, now: i64) -> bool {
        let time = china_time(now);
        let minute = u32::from(time.hour()) * 60 + u32::from(time.minute());
        self.settings
            .quiet_hours
            .as_ref()
            .is_some_and(|quiet| quiet.contains(minute))
    }

    fn remember(&mut self, key: &str) -> bool {
        if !self.seen.insert(key.to_owned()) {
            return false;
        }
        self.order.push_back(key.to_owned());
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        true
    }
}

/// "14:05:09", China time.
fn clock(unix: i64) -> String {
    let time = china_time(unix);
    format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// An amount for people: "¥12.30".
pub fn yuan(fen: Fen) -> String {
    format!("¥{}", fen.to_yuan_string())
}

/// A refund problem in the alert's language: what happened and what to do, in a few words.
pub fn problem_text(problem: Problem, language: Language) -> &'static str {
    let (zh, en) = match problem {
        Problem::Unreachable => (
            "无法连接微信支付，将自动重试",
            "WeChat Pay unreachable; retried automatically",
        ),
        Problem::NoAnswer => (
            "微信支付未应答，先查询再处理",
            "no answer from WeChat Pay; asked before anything else",
        ),
        Problem::UnreadableAnswer => (
            "应答无法识别或验证，先查询再处理",
            "an answer that could not be read or verified; asked first",
        ),
        Problem::WechatError => (
            "微信支付服务异常，先查询再处理",
            "WeChat Pay answered with an error; asked first",
        ),
        Problem::WechatBusy => (
            "微信支付繁忙，先查询再用同一单号重试",
            "WeChat Pay busy; asked, then retried with the same number",
        ),
        Problem::RateLimited => (
            "请求过于频繁，稍后重试",
            "too many requests; retried after a pause",
        ),
        Problem::OrderNotReady => (
            "订单处理中，稍后重试",
            "order still being processed; retried later",
        ),
        Problem::NotEnoughFunds => (
            "商户可用退款余额不足，请充值",
            "refundable balance too low: top it up",
        ),
        Problem::CertificateMissing => (
            "缺少商户 API 证书，请在设置中导入",
            "no merchant certificate: import it in Settings",
        ),
        Problem::CertificateRejected => (
            "微信支付不接受商户证书，请重新导入",
            "merchant certificate refused: import it again",
        ),
        Problem::ServerNotTrusted => (
            "服务器证书不受信任，请检查网络代理",
            "server not trusted: check any proxy",
        ),
        Problem::ClockWrong => (
            "请检查电脑的日期和时间",
            "check this computer's date and time",
        ),
        Problem::ServerNameMismatch => (
            "服务器证书与地址不符，请检查接口地址",
            "server certificate for another host: check the address",
        ),
        Problem::SecureConnectionFailed => (
            "安全连接失败，请检查代理或防火墙",
            "secure connection failed: check proxy or firewall",
        ),
        Problem::HttpRefused => (
            "请求被代理或错误地址拒绝，请检查网络",
            "refused by a proxy or a wrong address: check the network",
        ),
        Problem::ApiKeyWrong => (
            "API 密钥不正确，请在设置中重新填写",
            "the API key is wrong: set it again in Settings",
        ),
        Problem::MerchantWrong => (
            "AppID 或商户号不正确，或无退款权限",
            "AppID or merchant id wrong, or no refund permission",
        ),
        Problem::RequestInvalid => (
            "退款请求未通过检查，未发送",
            "the refund request failed its checks and was not sent",
        ),
        Problem::OrderTooOld => (
            "订单已超过一年退款期限，请自行退款",
            "past the one-year limit: refund another way",
        ),
        Problem::AccountAbnormal => (
            "顾客微信账户异常，请自行退款",
            "customer's account abnormal: refund another way",
        ),
        Problem::OrderNotOnWechat => ("微信支付找不到该订单", "WeChat Pay has no such paid order"),
        Problem::OrderStateRefused => (
            "订单状态不允许退款",
            "the order's state does not allow a refund",
        ),
        Problem::AmountMismatch => (
            "金额与之前的请求不一致",
            "amounts differ from an earlier request",
        ),
        Problem::ParametersRefused => (
            "请求参数被拒绝，请联系技术支持",
            "parameters refused: contact support",
        ),
        Problem::BusinessError => (
            "微信支付拒绝了退款，请查看详情",
            "WeChat Pay refused the refund: see the details",
        ),
        Problem::RequestRefused => (
            "微信支付拒绝了请求，请检查商户设置",
            "WeChat Pay refused the request: check the merchant settings",
        ),
        Problem::NotFoundAfterAccepted => (
            "已受理的退款暂时查不到，稍后再查",
            "accepted refund not found yet; asked again later",
        ),
    };
    match language {
        Language::ZhCn => zh,
        Language::En => en,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // 2026-11-23 14:05:09 in China (06:05:09 UTC).
    const AFTERNOON: i64 = 1_795_413_909;

    fn paid(no: &str, fen: i64) -> DeskEvent {
        DeskEvent::OrderPaid {
            out_trade_no: no.into(),
            total_fee: Fen::new(fen),
            paid_at: AFTERNOON,
        }
    }

    #[test]
    fn a_new_order_alerts_once_with_yuan_number_and_china_time() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::ZhCn);
        let alert = alerter.alert_for(&paid("A1001", 12_30), AFTERNOON).unwrap();
        assert_eq!(alert.title, "新订单 ¥12.30");
        assert_eq!(alert.body, "订单 A1001 · 14:05:09");
        assert!(alert.sound && !alert.repeat);
        assert_eq!(
            alert.target,
            AlertTarget::Order {
                out_trade_no: "A1001".into()
            }
        );
        assert_eq!(
            alerter.alert_for(&paid("A1001", 12_30), AFTERNOON),
            None,
            "the same order never alerts twice"
        );
        let english = Alerter::new(AlertSettings::default(), Language::En)
            .alert_for(&paid("A1002", 5), AFTERNOON)
            .unwrap();
        assert_eq!(english.title, "New order ¥0.05");
    }

    #[test]
    fn final_held_and_contradicted_refund_states_alert() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::En);
        let change = |state, problem: Option<Problem>, contradicted| DeskEvent::RefundChanged {
            refund: 7,
            request: 3,
            out_trade_no: "A1".into(),
            out_refund_no: "R1".into(),
            refund_fee: Fen::new(500),
            state,
            problem,
            wechat_detail: Some("ERROR: 订单已全额退款".into()),
            contradicted,
        };
        for state in [
            RefundState::Approved,
            RefundState::Submitting,
            RefundState::Processing,
        ] {
            let event = change(state, Some(Problem::NoAnswer), false);
            assert_eq!(alerter.alert_for(&event, AFTERNOON), None);
        }
        let failed_event = change(RefundState::Failed, Some(Problem::AccountAbnormal), false);
        let failed = alerter.alert_for(&failed_event, AFTERNOON).unwrap();
        assert_eq!(failed.kind, AlertKind::RefundFailed);
        assert_eq!(
            failed.body,
            "Order A1 · ¥5.00 · customer's account abnormal: refund another way"
        );
        assert!(!failed.sound, "only new orders ring");
        assert_eq!(alerter.alert_for(&failed_event, AFTERNOON), None);

        let held = change(RefundState::Held, Some(Problem::CertificateRejected), false);
        let held = alerter.alert_for(&held, AFTERNOON).unwrap();
        assert_eq!(held.kind, AlertKind::RefundHeld);
        assert!(held.body.contains("certificate"), "{}", held.body);
        // The same refund failed, then paid after all: a second, different alert.
        let paid = alerter
            .alert_for(&change(RefundState::Succeeded, None, true), AFTERNOON)
            .unwrap();
        assert_eq!(paid.kind, AlertKind::RefundContradicted);
        assert!(paid.title.contains("failed"), "{}", paid.title);
    }

    #[test]
    fn every_problem_has_words_in_both_languages() {
        for problem in Problem::ALL {
            assert!(!problem_text(problem, Language::ZhCn).is_empty());
            assert!(problem_text(problem, Language::En).is_ascii());
        }
    }

    #[test]
    fn quiet_hours_silence_and_stop_repeats_across_midnight() {
        let settings = AlertSettings {
            sound: true,
            repeat_until_ack: true,
            quiet_hours: Some(QuietHours {
                from: "22:00".into(),
                to: "08:00".into(),
            }),
        };
        let mut alerter = Alerter::new(settings, Language::ZhCn);
        let afternoon = alerter.alert_for(&paid("A1", 100), AFTERNOON).unwrap();
        assert!(afternoon.sound && afternoon.repeat);
        // 23:30 and 07:59 China time are quiet; 08:00 is not.
        let at = |h: i64, m: i64| AFTERNOON - 14 * 3600 - 5 * 60 - 9 + h * 3600 + m * 60;
        let night = alerter.alert_for(&paid("A2", 100), at(23, 30)).unwrap();
        assert!(!night.sound && !night.repeat);
        let dawn = alerter.alert_for(&paid("A3", 100), at(24 + 7, 59)).unwrap();
        assert!(!dawn.sound);
        let morning = alerter.alert_for(&paid("A4", 100), at(24 + 8, 0)).unwrap();
        assert!(morning.sound);
    }

    #[test]
    fn quiet_hours_need_hh_mm() {
        let quiet = |from: &str, to: &str| QuietHours {
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(quiet("22:00", "08:00").minutes(), Some((1320, 480)));
        assert_eq!(quiet("24:00", "08:00").minutes(), None);
        assert_eq!(quiet("8:00", "09:00").minutes(), None);
        assert_eq!(quiet("08:60", "09:00").minutes(), None);
    }
}
