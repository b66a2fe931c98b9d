//! What each outbox row becomes, decided without a clock or a screen of its own: the time is
//! passed in, so a flash sale, quiet hours and the speaker's pace are table-tested.
//!
//! - One notification per paid order, with its amount said aloud, until orders come faster than
//!   [`FLASH_ORDERS`] in [`FLASH_WINDOW_SECS`]: then one running summary (count, total, the
//!   latest order) updated in place until the burst has been quiet for the window, and the voice
//!   says the orders since it last spoke at most every [`SPEAK_GAP_SECS`].
//! - What arrived while the desk was closed: one summary, never one pop-up per order.
//! - Quiet hours: notifications still show; no sound, no voice, no reminders.

use std::collections::VecDeque;

use desk_core::{AlertKind as Fact, StoredAlert, Unseen};
use wxpay::Fen;

use super::{Alert, AlertKind, AlertSettings, AlertTarget, Language, china_time, clock};
use crate::speech;

/// More than this many orders within [`FLASH_WINDOW_SECS`] is a flash sale.
pub const FLASH_ORDERS: usize = 3;
pub const FLASH_WINDOW_SECS: i64 = 10;
/// The voice speaks a burst's new orders at most this often.
pub const SPEAK_GAP_SECS: i64 = 8;
/// Unacknowledged orders are reminded of this often.
pub const REMIND_EVERY_SECS: i64 = 30;

/// Totals of what was paid: far below overflow (a shop's day is not 9e16 fen), saturating to be
/// sure.
fn add(a: Fen, b: Fen) -> Fen {
    Fen::new(a.get().saturating_add(b.get()))
}

/// Orders gathered into one notification updated in place (a flash sale, or what was paid
/// while the desk was closed), with what the voice has not said yet.
#[derive(Debug, Clone)]
struct Tally {
    key: String,
    count: u64,
    total: Fen,
    latest: Option<(String, Fen)>,
    up_to: i64,
    unspoken: (u64, Fen),
    spoken_at: Option<i64>,
}

impl Tally {
    fn new(key: String) -> Tally {
        Tally {
            key,
            count: 0,
            total: Fen::ZERO,
            latest: None,
            up_to: 0,
            unspoken: (0, Fen::ZERO),
            spoken_at: None,
        }
    }

    fn add(&mut self, fact: &StoredAlert) {
        self.count += 1;
        self.total = add(self.total, fact.amount);
        self.latest = Some((fact.out_trade_no.clone(), fact.amount));
        self.up_to = self.up_to.max(fact.id);
        self.unspoken = (self.unspoken.0 + 1, add(self.unspoken.1, fact.amount));
    }

    /// Whether the speaker's pause since it last spoke (if ever) is over.
    fn pause_over(&self, now: i64) -> bool {
        self.spoken_at
            .is_none_or(|at| now.saturating_sub(at) >= SPEAK_GAP_SECS)
    }

    /// What the voice says now, if it may speak and has something new to say.
    fn speech(&mut self, may_speak: bool, now: i64) -> Option<speech::Phrase> {
        if !(may_speak && self.unspoken.0 > 0 && self.pause_over(now)) {
            return None;
        }
        let phrase = speech::orders_paid(self.unspoken.0, self.unspoken.1);
        self.unspoken = (0, Fen::ZERO);
        self.spoken_at = Some(now);
        Some(phrase)
    }

    /// Spoke before and has more to say once the pause is over (the first time is said as the
    /// orders arrive).
    fn waits_to_speak(&self, now: i64) -> bool {
        self.unspoken.0 > 0 && self.spoken_at.is_some() && self.pause_over(now)
    }
}

/// A flash sale under way.
#[derive(Debug, Clone)]
struct Burst {
    tally: Tally,
    last_order_at: i64,
}

/// What came while the desk was closed: gathered at start, and joined by orders paid before the
/// start that arrive after it (WeChat retrying its notifications for minutes).
#[derive(Debug, Clone)]
struct Closed {
    started_at: i64,
    tally: Tally,
    /// The rest of the summary ("3 refund requests waiting · ..."), from the start.
    news: Vec<(&'static str, &'static str, usize)>,
    requests: usize,
}

/// The alert policy, with what it remembers between deliveries: recent orders (to see a flash
/// sale coming) and the burst under way.
#[derive(Debug)]
pub struct Alerter {
    settings: AlertSettings,
    language: Language,
    /// Delivery time, outbox id, order number and amount of the latest orders.
    recent: VecDeque<(i64, i64, String, Fen)>,
    burst: Option<Burst>,
    closed: Option<Closed>,
}

impl Alerter {
    pub fn new(settings: AlertSettings, language: Language) -> Alerter {
        Alerter {
            settings,
            language,
            recent: VecDeque::new(),
            burst: None,
            closed: None,
        }
    }

    pub fn configure(&mut self, settings: AlertSettings, language: Language) {
        self.settings = settings;
        self.language = language;
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    fn zh(&self) -> bool {
        self.language == Language::ZhCn
    }

    pub fn is_quiet(&self, now: i64) -> bool {
        let time = china_time(now);
        let minute = u32::from(time.hour()) * 60 + u32::from(time.minute());
        self.settings
            .quiet_hours
            .as_ref()
            .is_some_and(|quiet| quiet.contains(minute))
    }

    fn may_ring(&self, now: i64) -> bool {
        self.settings.sound && !self.is_quiet(now)
    }

    fn may_speak(&self, now: i64) -> bool {
        self.settings.voice && !self.is_quiet(now)
    }

    /// The notifications for newly stored facts (oldest first), delivered at `now`, each with
    /// the facts it covers (every fact in exactly one). A flash sale's orders become one running
    /// summary, the last in the list.
    pub fn plan(&mut self, facts: &[StoredAlert], now: i64) -> Vec<(Alert, Vec<StoredAlert>)> {
        let mut alerts = Vec::new();
        let mut in_burst = Vec::new();
        let mut while_closed = Vec::new();
        for fact in facts {
            if fact.kind != Fact::OrderPaid {
                alerts.push((self.single(fact, now), vec![fact.clone()]));
                continue;
            }
            if let Some(closed) = &mut self.closed
                && fact.at < closed.started_at
            {
                closed.tally.add(fact);
                while_closed.push(fact.clone());
                continue;
            }
            self.recent
                .push_back((now, fact.id, fact.out_trade_no.clone(), fact.amount));
            while self
                .recent
                .front()
                .is_some_and(|(at, ..)| now - at > FLASH_WINDOW_SECS)
            {
                self.recent.pop_front();
            }
            let bursting = self
                .burst
                .as_ref()
                .is_some_and(|burst| now - burst.last_order_at <= FLASH_WINDOW_SECS);
            if bursting {
                if let Some(burst) = &mut self.burst {
                    burst.tally.add(fact);
                    burst.last_order_at = now;
                }
                in_burst.push(fact.clone());
            } else if self.recent.len() > FLASH_ORDERS {
                // The burst counts the orders of the window that made it one (already shown and
                // said one by one): the voice takes it from this order on.
                let first = self.recent.front().map_or(fact.id, |r| r.1);
                let mut tally = Tally::new(format!("flash:{first}"));
                tally.count = self.recent.len() as u64 - 1;
                tally.total = self
                    .recent
                    .iter()
                    .take(self.recent.len() - 1)
                    .fold(Fen::ZERO, |sum, r| add(sum, r.3));
                tally.add(fact);
                self.burst = Some(Burst {
                    tally,
                    last_order_at: now,
                });
                in_burst.push(fact.clone());
            } else {
                self.burst = None;
                alerts.push((self.single(fact, now), vec![fact.clone()]));
            }
        }
        if !while_closed.is_empty()
            && let Some(alert) = self.closed_alert(now)
        {
            alerts.push((alert, while_closed));
        }
        if !in_burst.is_empty()
            && let Some(alert) = self.burst_alert(now)
        {
            alerts.push((alert, in_burst));
        }
        alerts
    }

    /// Called when nothing new arrived: orders of a burst or of the closed summary the voice
    /// has not said yet are said once the speaker's pause has passed.
    pub fn tick(&mut self, now: i64) -> Option<Alert> {
        // Catching up is for the voice: without it there is nothing new to show.
        if !self.may_speak(now) {
            return None;
        }
        if self
            .burst
            .as_ref()
            .is_some_and(|b| b.tally.waits_to_speak(now))
        {
            return self.burst_alert(now);
        }
        if self
            .closed
            .as_ref()
            .is_some_and(|c| c.tally.waits_to_speak(now))
        {
            return self.closed_alert(now);
        }
        None
    }

    fn burst_alert(&mut self, now: i64) -> Option<Alert> {
        let (speak, ring, zh) = (self.may_speak(now), self.may_ring(now), self.zh());
        let burst = self.burst.as_mut()?;
        let tally = &mut burst.tally;
        let speech = tally.speech(speak, now);
        let (latest, amount) = tally.latest.clone()?;
        Some(Alert {
            key: tally.key.clone(),
            kind: AlertKind::OrderBurst,
            title: if zh {
                format!(
                    "订单高峰：{} 笔新订单 {}",
                    tally.count,
                    tally.total.to_yuan_display()
                )
            } else {
                format!(
                    "Rush: {} new orders, {}",
                    tally.count,
                    tally.total.to_yuan_display()
                )
            },
            body: if zh {
                format!(
                    "最新：订单 {latest} {} · {}",
                    amount.to_yuan_display(),
                    clock(now)
                )
            } else {
                format!(
                    "Latest: order {latest} {} · {}",
                    amount.to_yuan_display(),
                    clock(now)
                )
            },
            sound: ring && speech.is_some(),
            speech,
            up_to: tally.up_to,
            target: AlertTarget::Orders,
        })
    }

    /// Opens the desk (at `opened_at`): what the outbox held unshown from before (`facts`)
    /// becomes one summary, which orders paid before the opening join as WeChat's retries bring
    /// them. `None` when nothing waits.
    pub fn while_closed(&mut self, facts: &[StoredAlert], opened_at: i64) -> Option<Alert> {
        let mut tally = Tally::new(format!("closed:{opened_at}"));
        let count = |kind: Fact| facts.iter().filter(|f| f.kind == kind).count();
        for fact in facts.iter().filter(|f| f.kind == Fact::OrderPaid) {
            tally.add(fact);
        }
        tally.up_to = facts.iter().map(|f| f.id).max().unwrap_or(0);
        let requests = count(Fact::RefundRequested);
        let news = vec![
            ("个退款申请待审批", "refund requests waiting", requests),
            ("笔退款成功", "refunds paid", count(Fact::RefundSucceeded)),
            (
                "笔退款此前记为失败、实已成功",
                "refunds paid after all",
                count(Fact::RefundContradicted),
            ),
            ("笔退款失败", "refunds failed", count(Fact::RefundFailed)),
            (
                "笔退款需人工处理",
                "refunds need manual handling",
                count(Fact::RefundNeedsManual),
            ),
            (
                "笔退款已暂停，请检查设置",
                "refunds held: check the setup",
                count(Fact::RefundHeld),
            ),
        ];
        self.closed = Some(Closed {
            started_at: opened_at,
            tally,
            news,
            requests,
        });
        if facts.is_empty() {
            return None;
        }
        self.closed_alert(opened_at)
    }

    fn closed_alert(&mut self, now: i64) -> Option<Alert> {
        let (speak, ring, zh) = (self.may_speak(now), self.may_ring(now), self.zh());
        let closed = self.closed.as_mut()?;
        let tally = &mut closed.tally;
        let speech = tally.speech(speak, now);
        let (orders, total) = (tally.count, tally.total.to_yuan_display());
        let parts: Vec<String> = closed
            .news
            .iter()
            .filter(|(.., n)| *n > 0)
            .map(|(zh_text, en_text, n)| {
                if zh {
                    format!("{n} {zh_text}")
                } else {
                    format!("{n} {en_text}")
                }
            })
            .collect();
        let body = match (&tally.latest, parts.is_empty()) {
            (_, false) => parts.join(" · "),
            (Some((latest, amount)), true) => {
                if zh {
                    format!("最新：订单 {latest} {}", (*amount).to_yuan_display())
                } else {
                    format!("Latest: order {latest} {}", (*amount).to_yuan_display())
                }
            }
            (None, true) => if zh {
                "没有新订单"
            } else {
                "No new orders"
            }
            .to_owned(),
        };
        Some(Alert {
            key: tally.key.clone(),
            kind: AlertKind::WhileClosed,
            title: if zh {
                format!("关店期间：{orders} 笔订单 {total}")
            } else {
                format!("{orders} orders, {total} while the desk was closed")
            },
            body,
            sound: ring && speech.is_some(),
            speech,
            up_to: tally.up_to,
            target: if closed.requests > 0 {
                AlertTarget::Queue
            } else {
                AlertTarget::Orders
            },
        })
    }

    /// One notification for one fact.
    fn single(&self, fact: &StoredAlert, now: i64) -> Alert {
        let zh = self.zh();
        let amount = fact.amount.to_yuan_display();
        let order = &fact.out_trade_no;
        let request_target = || AlertTarget::Request {
            request: fact.request.unwrap_or_default(),
        };
        let refund_body = || {
            let mut body = if zh {
                format!("订单 {order} · {amount}")
            } else {
                format!("Order {order} · {amount}")
            };
            if let Some(problem) = fact.problem {
                body.push_str(" · ");
                body.push_str(super::problem_text(problem, self.language));
            }
            body
        };
        let refund_key = |what: &str| format!("refund:{}:{what}", fact.refund.unwrap_or_default());
        let (key, kind, title, body, target) = match fact.kind {
            Fact::OrderPaid => (
                format!("order:{order}"),
                AlertKind::NewOrder,
                if zh {
                    format!("新订单 {amount}")
                } else {
                    format!("New order {amount}")
                },
                format!(
                    "{} {order} · {}",
                    if zh { "订单" } else { "Order" },
                    clock(fact.at)
                ),
                AlertTarget::Order {
                    out_trade_no: order.clone(),
                },
            ),
            Fact::RefundRequested => (
                format!("request:{}", fact.request.unwrap_or_default()),
                AlertKind::RefundRequest,
                if zh {
                    format!("退款申请 {amount}")
                } else {
                    format!("Refund request {amount}")
                },
                if zh {
                    format!("订单 {order} · 等待审批")
                } else {
                    format!("Order {order} · waiting for approval")
                },
                request_target(),
            ),
            Fact::RefundSucceeded => (
                refund_key("succeeded"),
                AlertKind::RefundSucceeded,
                if zh { "退款成功" } else { "Refunded" }.to_owned(),
                refund_body(),
                request_target(),
            ),
            Fact::RefundFailed => (
                refund_key("failed"),
                AlertKind::RefundFailed,
                if zh { "退款失败" } else { "Refund failed" }.to_owned(),
                refund_body(),
                request_target(),
            ),
            Fact::RefundNeedsManual => (
                refund_key("needs_manual"),
                AlertKind::RefundNeedsManual,
                if zh {
                    "退款需人工处理"
                } else {
                    "Refund needs manual handling"
                }
                .to_owned(),
                refund_body(),
                request_target(),
            ),
            Fact::RefundHeld => (
                refund_key(&format!("held:{}", fact.id)),
                AlertKind::RefundHeld,
                if zh {
                    "退款已暂停：请检查设置"
                } else {
                    "Refund held: the setup needs fixing"
                }
                .to_owned(),
                refund_body(),
                request_target(),
            ),
            Fact::RefundContradicted => (
                refund_key("contradicted"),
                AlertKind::RefundContradicted,
                if zh {
                    "退款已成功（此前记录为失败）"
                } else {
                    "Refunded after all (the desk had it as failed)"
                }
                .to_owned(),
                refund_body(),
                request_target(),
            ),
        };
        let new_order = kind == AlertKind::NewOrder;
        Alert {
            key,
            kind,
            title,
            body,
            sound: new_order && self.may_ring(now),
            speech: (new_order && self.may_speak(now)).then(|| speech::order_paid(fact.amount)),
            up_to: fact.id,
            target,
        }
    }

    /// A reminder of orders nobody acknowledged, when the settings want one now.
    pub fn reminder(&self, unseen: Unseen, now: i64) -> Option<Alert> {
        if !self.settings.repeat_until_ack || self.is_quiet(now) || unseen.orders == 0 {
            return None;
        }
        let zh = self.zh();
        Some(Alert {
            key: "reminder".to_owned(),
            kind: AlertKind::Reminder,
            title: if zh {
                format!(
                    "{} 笔新订单待确认 {}",
                    unseen.orders,
                    unseen.total.to_yuan_display()
                )
            } else {
                format!(
                    "{} new orders not acknowledged, {}",
                    unseen.orders,
                    unseen.total.to_yuan_display()
                )
            },
            body: if zh {
                "点击查看，确认后不再提醒".to_owned()
            } else {
                "Open to see them; acknowledging stops the reminders".to_owned()
            },
            sound: self.settings.sound,
            speech: None,
            up_to: unseen.latest.unwrap_or_default(),
            target: AlertTarget::Orders,
        })
    }

    /// The alert behind the "test" button: what a new order looks and sounds like now.
    /// An alarm, once: what stopped verifying and what to fix.
    pub fn alarm(&self, alarm: &desk_core::Alarm, now: i64) -> Alert {
        let zh = self.zh();
        let (title, body) = match (alarm.cause, zh) {
            (desk_core::AlarmCause::ApiKeyMismatch, true) => (
                "微信支付的通知无法验证".to_owned(),
                "本机的 API 密钥与商户平台不一致（微信支付拒绝了它）：新订单和退款结果收不到。请在「设置 → 开通向导 → API 密钥」重新填写商户平台的 APIv2 密钥。".to_owned(),
            ),
            (desk_core::AlarmCause::ApiKeyMismatch, false) => (
                "WeChat Pay's notifications cannot be verified".to_owned(),
                "The API key in this desk does not match 商户平台 (WeChat Pay refuses it): new orders and refund results are not received. Set the API v2 key again in Settings → setup guide → API key.".to_owned(),
            ),
            (desk_core::AlarmCause::BackendOldSecret, true) => (
                "店铺后端仍在用旧的共享密钥".to_owned(),
                "退款申请被拒收：后端用更换前的共享密钥签名。请把「设置 → 接收地址」中的新共享密钥交给后端开发。".to_owned(),
            ),
            (desk_core::AlarmCause::BackendOldSecret, false) => (
                "The shop's backend still uses the old shared secret".to_owned(),
                "Refund requests are refused: the backend signs them with the shared secret that was replaced. Give the backend developer the new one from Settings → intake.".to_owned(),
            ),
            (desk_core::AlarmCause::SignedConflict, true) => (
                "有人持有商户的 API 密钥".to_owned(),
                "一条用商户 API 密钥签名的通知与微信支付的记录矛盾，已拒收：密钥在微信支付以外的人手里（店员电脑、离职员工）。请在商户平台重置 API 密钥，在开通向导中重新填写，并重新配对店员电脑。".to_owned(),
            ),
            (desk_core::AlarmCause::SignedConflict, false) => (
                "Someone else holds the merchant's API key".to_owned(),
                "A notification signed with the merchant's API key contradicts WeChat Pay's records and was refused: someone other than WeChat Pay holds the key (a staff PC, a former employee). Reset the API key in 商户平台, enter it in the setup guide, and pair the staff desks again.".to_owned(),
            ),
        };
        Alert {
            key: format!("alarm:{}", alarm.id),
            kind: AlertKind::SetupAlarm,
            title,
            body,
            sound: self.may_ring(now),
            speech: None,
            up_to: 0,
            target: AlertTarget::Settings,
        }
    }

    pub fn test_alert(&self, now: i64) -> Alert {
        let zh = self.zh();
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
            sound: self.may_ring(now),
            // The test button speaks even when the voice is off: it is how the owner hears it.
            speech: Some(speech::order_paid(Fen::new(1))),
            up_to: 0,
            target: AlertTarget::Settings,
        }
    }
}

#[cfg(test)]
mod tests {
    // Amounts are written as yuan_fen (123_50 is ¥123.50).
    #![allow(clippy::inconsistent_digit_grouping)]
    #![allow(clippy::unwrap_used)]
    use desk_core::Problem;

    use super::super::QuietHours;
    use super::*;

    // 2026-11-23 14:05:09 in China (06:05:09 UTC).
    const AFTERNOON: i64 = 1_795_413_909;

    /// The alerts alone, after checking every fact was covered once.
    fn alerts(planned: Vec<(Alert, Vec<StoredAlert>)>, facts: &[StoredAlert]) -> Vec<Alert> {
        let mut covered: Vec<i64> = planned
            .iter()
            .flat_map(|(_, f)| f.iter().map(|f| f.id))
            .collect();
        covered.sort_unstable();
        let all: Vec<i64> = facts.iter().map(|f| f.id).collect();
        assert_eq!(covered, all, "every fact covered exactly once");
        planned.into_iter().map(|(alert, _)| alert).collect()
    }

    fn plan(alerter: &mut Alerter, facts: &[StoredAlert], now: i64) -> Vec<Alert> {
        alerts(alerter.plan(facts, now), facts)
    }

    fn order(id: i64, fen: i64) -> StoredAlert {
        StoredAlert {
            id,
            kind: Fact::OrderPaid,
            out_trade_no: format!("A{id}"),
            request: None,
            refund: None,
            amount: Fen::new(fen),
            problem: None,
            at: AFTERNOON,
        }
    }

    fn refund(id: i64, kind: Fact, problem: Option<Problem>) -> StoredAlert {
        StoredAlert {
            id,
            kind,
            out_trade_no: "A1".into(),
            request: Some(3),
            refund: Some(7),
            amount: Fen::new(500),
            problem,
            at: AFTERNOON,
        }
    }

    #[test]
    fn a_paid_order_rings_and_says_its_amount() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::ZhCn);
        let alerts = plan(&mut alerter, &[order(1, 123_50)], AFTERNOON);
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.title, "新订单 ¥123.50");
        assert_eq!(alert.body, "订单 A1 · 14:05:09");
        assert_eq!(alert.up_to, 1);
        assert!(alert.sound);
        assert_eq!(
            alert.speech.as_ref().unwrap().hanzi,
            "微信收款 一百二十三点五元"
        );
        assert_eq!(
            alert.target,
            AlertTarget::Order {
                out_trade_no: "A1".into()
            }
        );
        let mut english = Alerter::new(AlertSettings::default(), Language::En);
        let english = plan(&mut english, &[order(2, 5)], AFTERNOON).remove(0);
        assert_eq!(english.title, "New order ¥0.05");
    }

    #[test]
    fn refund_alerts_say_what_happened_and_do_not_ring() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::En);
        let alerts = plan(
            &mut alerter,
            &[
                refund(1, Fact::RefundFailed, Some(Problem::AccountAbnormal)),
                refund(2, Fact::RefundHeld, Some(Problem::CertificateRejected)),
                refund(3, Fact::RefundContradicted, None),
            ],
            AFTERNOON,
        );
        let kinds: Vec<_> = alerts.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                AlertKind::RefundFailed,
                AlertKind::RefundHeld,
                AlertKind::RefundContradicted
            ]
        );
        assert_eq!(
            alerts[0].body,
            "Order A1 · ¥5.00 · customer's account abnormal: refund another way"
        );
        assert!(alerts[1].body.contains("certificate"), "{}", alerts[1].body);
        assert!(alerts[2].title.contains("failed"), "{}", alerts[2].title);
        assert!(alerts.iter().all(|a| !a.sound && a.speech.is_none()));
        assert_eq!(alerts[0].target, AlertTarget::Request { request: 3 });
    }

    #[test]
    fn a_flash_sale_becomes_one_running_summary_updated_in_place() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::ZhCn);
        // Three orders within the window: each its own notification.
        for id in 1..=3 {
            let alerts = plan(&mut alerter, &[order(id, 100)], AFTERNOON + id);
            assert_eq!(alerts.len(), 1);
            assert_eq!(alerts[0].kind, AlertKind::NewOrder);
        }
        // The fourth makes it a flash sale: one summary counting all four.
        let alerts = plan(&mut alerter, &[order(4, 100)], AFTERNOON + 4);
        assert_eq!(alerts.len(), 1);
        let first = &alerts[0];
        assert_eq!(first.kind, AlertKind::OrderBurst);
        assert_eq!(first.title, "订单高峰：4 笔新订单 ¥4.00");
        assert!(first.body.contains("A4"), "{}", first.body);
        assert_eq!(
            first.speech.as_ref().unwrap().hanzi,
            "微信收款 一笔 共一元",
            "the voice says what it has not said"
        );
        // A batch of 50 more a second later: still one notification, same key, every order
        // counted; the voice waits for its pause.
        let batch: Vec<_> = (5..55).map(|id| order(id, 200)).collect();
        let alerts = plan(&mut alerter, &batch, AFTERNOON + 5);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].key, first.key, "updated in place");
        assert!(first.kind.updated_in_place() && !AlertKind::NewOrder.updated_in_place());
        assert_eq!(alerts[0].title, "订单高峰：54 笔新订单 ¥104.00");
        assert_eq!(alerts[0].up_to, 54);
        assert!(alerts[0].speech.is_none() && !alerts[0].sound);
        assert!(alerts[0].body.contains("A54"));
        // Nothing new; once the pause has passed the voice catches up, once.
        assert!(alerter.tick(AFTERNOON + 6).is_none());
        let caught_up = alerter.tick(AFTERNOON + 4 + SPEAK_GAP_SECS).unwrap();
        assert_eq!(caught_up.speech.unwrap().hanzi, "微信收款 五十笔 共一百元");
        assert!(alerter.tick(AFTERNOON + 30).is_none());
        // Quiet for longer than the window: the next order is alone again.
        let later = plan(
            &mut alerter,
            &[order(60, 100)],
            AFTERNOON + 5 + FLASH_WINDOW_SECS + 1,
        );
        assert_eq!(later[0].kind, AlertKind::NewOrder);
    }

    #[test]
    fn what_came_while_closed_is_one_summary() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::En);
        assert!(alerter.while_closed(&[], AFTERNOON).is_none());
        let mut facts: Vec<_> = (1..=12).map(|id| order(id, 102_83)).collect();
        facts.push(refund(13, Fact::RefundRequested, None));
        facts.push(refund(14, Fact::RefundSucceeded, None));
        let summary = alerter.while_closed(&facts, AFTERNOON + 60).unwrap();
        assert_eq!(summary.kind, AlertKind::WhileClosed);
        assert_eq!(
            summary.title,
            "12 orders, ¥1,233.96 while the desk was closed"
        );
        assert_eq!(summary.body, "1 refund requests waiting · 1 refunds paid");
        assert_eq!(summary.up_to, 14);
        assert_eq!(summary.target, AlertTarget::Queue);
        assert_eq!(
            summary.speech.unwrap().hanzi,
            "微信收款 十二笔 共一千二百三十三点九六元"
        );
        let mut zh = Alerter::new(AlertSettings::default(), Language::ZhCn);
        let summary = zh.while_closed(&facts[..12], AFTERNOON + 60).unwrap();
        assert_eq!(summary.title, "关店期间：12 笔订单 ¥1,233.96");
        assert_eq!(summary.target, AlertTarget::Orders);
    }

    #[test]
    fn orders_paid_before_the_start_that_arrive_after_it_join_the_summary() {
        // The desk opens with nothing waiting; WeChat's retries then bring orders paid while it
        // was closed (their payment time is before the start), among a new order.
        let mut alerter = Alerter::new(AlertSettings::default(), Language::ZhCn);
        let opened = AFTERNOON + 3_600;
        assert!(alerter.while_closed(&[], opened).is_none());
        let mut new_order = order(3, 500);
        new_order.at = opened + 5;
        let facts = [order(1, 100), order(2, 200), new_order];
        let planned = plan(&mut alerter, &facts, opened + 10);
        let kinds: Vec<_> = planned.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [AlertKind::NewOrder, AlertKind::WhileClosed]);
        let summary = &planned[1];
        assert_eq!(summary.title, "关店期间：2 笔订单 ¥3.00");
        assert_eq!(summary.up_to, 2);
        assert_eq!(
            summary.speech.as_ref().unwrap().hanzi,
            "微信收款 两笔 共三元"
        );
        // More retries a second later: the same notification, updated; the voice waits its pause.
        let later = plan(&mut alerter, &[order(4, 400)], opened + 11);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].key, summary.key);
        assert_eq!(later[0].title, "关店期间：3 笔订单 ¥7.00");
        assert!(later[0].speech.is_none());
        let caught_up = alerter.tick(opened + 10 + SPEAK_GAP_SECS).unwrap();
        assert_eq!(caught_up.speech.unwrap().hanzi, "微信收款 一笔 共四元");
    }

    #[test]
    fn quiet_hours_keep_notifications_and_silence_sound_voice_and_reminders() {
        let settings = AlertSettings {
            repeat_until_ack: true,
            quiet_hours: Some(QuietHours {
                from: "22:00".into(),
                to: "08:00".into(),
            }),
            ..AlertSettings::default()
        };
        let mut alerter = Alerter::new(settings, Language::ZhCn);
        let unseen = Unseen {
            orders: 2,
            total: Fen::new(300),
            latest: Some(9),
        };
        let afternoon = plan(&mut alerter, &[order(1, 100)], AFTERNOON).remove(0);
        assert!(afternoon.sound && afternoon.speech.is_some());
        assert!(alerter.reminder(unseen, AFTERNOON).is_some());
        // 23:30 and 07:59 China time are quiet; 08:00 is not.
        let at = |h: i64, m: i64| AFTERNOON - 14 * 3600 - 5 * 60 - 9 + h * 3600 + m * 60;
        let night = plan(&mut alerter, &[order(2, 100)], at(23, 30)).remove(0);
        assert!(!night.sound && night.speech.is_none());
        assert!(alerter.reminder(unseen, at(23, 30)).is_none());
        let dawn = plan(&mut alerter, &[order(3, 100)], at(24 + 7, 59)).remove(0);
        assert!(!dawn.sound);
        let morning = plan(&mut alerter, &[order(4, 100)], at(24 + 8, 0)).remove(0);
        assert!(morning.sound);
        let reminder = alerter.reminder(unseen, at(24 + 8, 0)).unwrap();
        assert_eq!(reminder.title, "2 笔新订单待确认 ¥3.00");
        assert_eq!(reminder.up_to, 9);
    }

    #[test]
    fn a_burst_is_not_shown_again_while_the_voice_may_not_speak() {
        let mut alerter = Alerter::new(AlertSettings::default(), Language::ZhCn);
        for id in 1..=4 {
            plan(&mut alerter, &[order(id, 100)], AFTERNOON + id);
        }
        // The voice spoke for the fourth; more orders wait to be said when the voice is
        // turned off.
        plan(&mut alerter, &[order(5, 100)], AFTERNOON + 5);
        alerter.configure(
            AlertSettings {
                voice: false,
                ..AlertSettings::default()
            },
            Language::ZhCn,
        );
        assert!(
            alerter.tick(AFTERNOON + 4 + SPEAK_GAP_SECS).is_none(),
            "nothing to say means nothing to show again"
        );
    }

    #[test]
    fn reminders_only_when_asked_for_and_something_waits() {
        let alerter = Alerter::new(AlertSettings::default(), Language::En);
        let unseen = Unseen {
            orders: 1,
            total: Fen::new(100),
            latest: Some(1),
        };
        assert!(
            alerter.reminder(unseen, AFTERNOON).is_none(),
            "off by default"
        );
        let asked = Alerter::new(
            AlertSettings {
                repeat_until_ack: true,
                ..AlertSettings::default()
            },
            Language::En,
        );
        assert!(asked.reminder(Unseen::default(), AFTERNOON).is_none());
        assert!(asked.reminder(unseen, AFTERNOON).is_some());
    }

    #[test]
    fn the_voice_can_be_turned_off() {
        let mut alerter = Alerter::new(
            AlertSettings {
                voice: false,
                ..AlertSettings::default()
            },
            Language::ZhCn,
        );
        let alert = plan(&mut alerter, &[order(1, 100)], AFTERNOON).remove(0);
        assert!(alert.sound && alert.speech.is_none());
        assert!(
            alerter.test_alert(AFTERNOON).speech.is_some(),
            "the test button still speaks"
        );
    }
}
