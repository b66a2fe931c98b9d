//! The simulated merchant account and WeChat's rules, as pure functions of the state and the
//! time (passed in). The HTTPS layer parses and authenticates requests; everything about money
//! is decided here.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use wxpay::{Fields, SignType};

use crate::clock;

/// WeChat allows this many refunds per order.
pub const MAX_REFUNDS_PER_ORDER: usize = 50;
/// A refund query by order returns this many records per page.
pub const REFUND_PAGE: usize = 10;

/// A business failure as WeChat reports it: `result_code=FAIL`, `err_code`, `err_code_des`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxFail {
    pub code: &'static str,
    pub description: String,
}

impl WxFail {
    fn business(code: &'static str, description: impl Into<String>) -> WxFail {
        WxFail {
            code,
            description: description.into(),
        }
    }

    fn param(description: impl Into<String>) -> WxFail {
        WxFail::business("PARAM_ERROR", description)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    NotPay,
    Paid,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub total_fee: i64,
    pub body: String,
    pub notify_url: Option<String>,
    pub trade_type: String,
    pub openid: String,
    pub attach: Option<String>,
    /// The algorithm the order was placed with; its payment notification is signed the same way.
    pub sign_type: SignType,
    pub prepay_id: String,
    pub state: OrderState,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paid_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Processing,
    Success,
    Change,
    Refundclose,
}

impl RefundStatus {
    pub fn wire(self) -> &'static str {
        match self {
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Change => "CHANGE",
            RefundStatus::Refundclose => "REFUNDCLOSE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funds {
    /// 未结算资金: what payments brought in.
    Unsettled,
    /// 可用余额: what the merchant topped up.
    Recharge,
}

impl Funds {
    fn wire(self) -> &'static str {
        match self {
            Funds::Unsettled => "REFUND_SOURCE_UNSETTLED_FUNDS",
            Funds::Recharge => "REFUND_SOURCE_RECHARGE_FUNDS",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    pub out_refund_no: String,
    pub refund_id: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub total_fee: i64,
    pub refund_fee: i64,
    pub funds: Funds,
    pub notify_url: Option<String>,
    pub refund_desc: Option<String>,
    pub status: RefundStatus,
    /// Where the refund will end when it stops processing.
    pub outcome: RefundStatus,
    pub sign_type: SignType,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// One money movement. A test asserts "refunded exactly once" against this list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    pub kind: LedgerKind,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub out_refund_no: Option<String>,
    /// Fen; payments positive, refunds negative, a closed refund's return positive.
    pub amount: i64,
    pub funds: Funds,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Payment,
    Refund,
    /// A refund that ended REFUNDCLOSE gives its money back to the merchant.
    RefundReturned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    pub unsettled: i64,
    pub recharge: i64,
}

/// Makes chosen refunds end other than SUCCESS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRule {
    pub out_refund_no: Option<String>,
    pub refund_fee: Option<i64>,
    pub outcome: RefundStatus,
}

/// A notification for the notifier to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub kind: NotificationKind,
    pub url: String,
    pub body: String,
    /// `out_trade_no` for payments, `out_refund_no` for refunds.
    pub subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Payment,
    Refund,
}

/// A new order, from `/pay/unifiedorder` or the control API.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewOrder {
    pub out_trade_no: Option<String>,
    pub total_fee: i64,
    pub body: Option<String>,
    pub notify_url: Option<String>,
    pub trade_type: Option<String>,
    pub openid: Option<String>,
    pub attach: Option<String>,
    /// Back-dates the order (tests of the one-year refund limit).
    #[serde(default)]
    pub days_ago: u32,
    #[serde(skip)]
    pub sign_type: SignType,
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no order {0}")]
    NoOrder(String),
    #[error("order {0} is already paid")]
    AlreadyPaid(String),
    #[error("{0}")]
    Invalid(String),
}

/// The simulator's day on disk (`persist.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    mch_id: String,
    orders: Vec<Order>,
    refunds: Vec<Refund>,
    /// Sorted, so an unchanged day serializes to the same bytes.
    order_refunds: BTreeMap<String, Vec<String>>,
    ledger: Vec<LedgerEntry>,
    balances: Balances,
    rules: Vec<RefundRule>,
    serial: u64,
    /// Notifications not acknowledged yet: sent again after a restart.
    due: Vec<Outgoing>,
}

pub struct SimState {
    pub appid: String,
    pub mch_id: String,
    pub api_key: wxpay::ApiKey,
    refund_delay: Duration,
    orders: BTreeMap<String, Order>,
    order_by_transaction: HashMap<String, String>,
    refunds: BTreeMap<String, Refund>,
    refund_by_id: HashMap<String, String>,
    /// Refund numbers of each order, in the order they were accepted.
    order_refunds: HashMap<String, Vec<String>>,
    ledger: Vec<LedgerEntry>,
    balances: Balances,
    rules: Vec<RefundRule>,
    outbox: Vec<Outgoing>,
    serial: u64,
}

impl SimState {
    pub fn new(
        appid: String,
        mch_id: String,
        api_key: wxpay::ApiKey,
        refund_delay: Duration,
    ) -> SimState {
        SimState {
            appid,
            mch_id,
            api_key,
            refund_delay,
            orders: BTreeMap::new(),
            order_by_transaction: HashMap::new(),
            refunds: BTreeMap::new(),
            refund_by_id: HashMap::new(),
            order_refunds: HashMap::new(),
            ledger: Vec::new(),
            balances: Balances {
                unsettled: 0,
                recharge: 0,
            },
            rules: Vec::new(),
            outbox: Vec::new(),
            serial: 0,
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    // ------------------------------------------------------------------ orders

    /// 统一下单: an unpaid order.
    pub fn create_order(&mut self, new: NewOrder, now: OffsetDateTime) -> Result<&Order, WxFail> {
        if new.total_fee <= 0 {
            return Err(WxFail::param("total_fee必须为正整数"));
        }
        let serial = self.next_serial();
        let out_trade_no = new
            .out_trade_no
            .unwrap_or_else(|| format!("SIM{}{serial:06}", clock::compact(now)));
        if out_trade_no.is_empty()
            || out_trade_no.len() > 32
            || !out_trade_no
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
        {
            return Err(WxFail::param("out_trade_no参数格式错误"));
        }
        if self.orders.contains_key(&out_trade_no) {
            return Err(WxFail::business("INVALID_REQUEST", "201 商户订单号重复"));
        }
        let created_at = now - time::Duration::days(i64::from(new.days_ago));
        let order = Order {
            out_trade_no: out_trade_no.clone(),
            transaction_id: None,
            total_fee: new.total_fee,
            body: new.body.unwrap_or_else(|| "沙箱商品".to_owned()),
            notify_url: new.notify_url,
            trade_type: new.trade_type.unwrap_or_else(|| "JSAPI".to_owned()),
            openid: new
                .openid
                .unwrap_or_else(|| format!("oSim{:024x}", rand::rng().random::<u128>() >> 32)),
            attach: new.attach,
            sign_type: new.sign_type,
            prepay_id: format!("wx{}{serial:010}", clock::compact(now)),
            state: OrderState::NotPay,
            created_at,
            paid_at: None,
        };
        Ok(self.orders.entry(out_trade_no).or_insert(order))
    }

    /// The customer pays: money in, and a payment notification to the order's notify_url.
    pub fn pay(&mut self, out_trade_no: &str, now: OffsetDateTime) -> Result<Order, ControlError> {
        let serial = self.next_serial();
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or_else(|| ControlError::NoOrder(out_trade_no.to_owned()))?;
        if order.state != OrderState::NotPay {
            return Err(ControlError::AlreadyPaid(out_trade_no.to_owned()));
        }
        // A back-dated order (control API, for the one-year rule) was paid when it was made.
        let paid_at = if now - order.created_at > time::Duration::days(1) {
            order.created_at
        } else {
            now
        };
        let transaction_id = format!("4200{}{serial:010}", &clock::compact(paid_at)[..14]);
        order.transaction_id = Some(transaction_id.clone());
        order.state = OrderState::Paid;
        order.paid_at = Some(paid_at);
        let order = order.clone();
        self.order_by_transaction
            .insert(transaction_id.clone(), out_trade_no.to_owned());
        self.balances.unsettled += order.total_fee;
        self.record(
            LedgerKind::Payment,
            &order.out_trade_no,
            &transaction_id,
            None,
            order.total_fee,
            Funds::Unsettled,
            now,
        );
        if let Some(url) = &order.notify_url {
            let body = self.payment_notification(&order);
            self.outbox.push(Outgoing {
                kind: NotificationKind::Payment,
                url: url.clone(),
                body,
                subject: order.out_trade_no.clone(),
            });
        }
        Ok(order)
    }

    fn payment_notification(&self, order: &Order) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("return_code", "SUCCESS".into()),
            ("return_msg", "OK".into()),
            ("result_code", "SUCCESS".into()),
            ("appid", self.appid.clone()),
            ("mch_id", self.mch_id.clone()),
            ("nonce_str", nonce()),
            ("openid", order.openid.clone()),
            ("is_subscribe", "N".into()),
            ("trade_type", order.trade_type.clone()),
            ("bank_type", "OTHERS".into()),
            ("total_fee", order.total_fee.to_string()),
            ("cash_fee", order.total_fee.to_string()),
            ("fee_type", "CNY".into()),
            (
                "transaction_id",
                order.transaction_id.clone().unwrap_or_default(),
            ),
            ("out_trade_no", order.out_trade_no.clone()),
            (
                "time_end",
                order.paid_at.map(clock::compact).unwrap_or_default(),
            ),
        ];
        if let Some(attach) = &order.attach {
            pairs.push(("attach", attach.clone()));
        }
        // WeChat signs with the order's algorithm and leaves sign_type out.
        signed_xml(pairs, &self.api_key, order.sign_type)
    }

    fn find_order(&self, fields: &Fields<'_>) -> Result<&Order, WxFail> {
        let out_trade_no = match (fields.get("transaction_id"), fields.get("out_trade_no")) {
            (Some(id), _) => self
                .order_by_transaction
                .get(id)
                .ok_or_else(|| WxFail::business("ORDERNOTEXIST", "订单不存在"))?
                .as_str(),
            (None, Some(no)) => no,
            (None, None) => return Err(WxFail::param("transaction_id和out_trade_no不能同时为空")),
        };
        self.orders
            .get(out_trade_no)
            .ok_or_else(|| WxFail::business("ORDERNOTEXIST", "订单不存在"))
    }

    /// 查询订单.
    pub fn order_query(&self, fields: &Fields<'_>) -> Result<Vec<(&'static str, String)>, WxFail> {
        let order = self.find_order(fields)?;
        let refunded = self.refunded(&order.out_trade_no) > 0;
        let (state, desc) = match order.state {
            OrderState::NotPay => ("NOTPAY", "订单未支付"),
            OrderState::Closed => ("CLOSED", "订单已关闭"),
            OrderState::Paid if refunded => ("REFUND", "订单发生过退款，退款详情请查询退款单"),
            OrderState::Paid => ("SUCCESS", "支付成功"),
        };
        let mut out = vec![
            ("out_trade_no", order.out_trade_no.clone()),
            ("trade_state", state.to_owned()),
            ("trade_state_desc", desc.to_owned()),
            ("openid", order.openid.clone()),
            ("trade_type", order.trade_type.clone()),
            ("fee_type", "CNY".to_owned()),
        ];
        if let (Some(id), Some(paid_at)) = (&order.transaction_id, order.paid_at) {
            out.extend([
                ("transaction_id", id.clone()),
                ("total_fee", order.total_fee.to_string()),
                ("cash_fee", order.total_fee.to_string()),
                ("bank_type", "OTHERS".to_owned()),
                ("time_end", clock::compact(paid_at)),
                ("is_subscribe", "N".to_owned()),
            ]);
        }
        if let Some(attach) = &order.attach {
            out.push(("attach", attach.clone()));
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ refunds

    /// Money out for the order, refunds that did not close included (processing ones too).
    fn refunded(&self, out_trade_no: &str) -> i64 {
        self.order_refunds
            .get(out_trade_no)
            .into_iter()
            .flatten()
            .filter_map(|no| self.refunds.get(no))
            .filter(|r| r.status != RefundStatus::Refundclose)
            .map(|r| r.refund_fee)
            .sum()
    }

    /// 申请退款, after the HTTPS layer checked the certificate and the signature.
    pub fn refund(
        &mut self,
        fields: &Fields<'_>,
        sign_type: SignType,
        now: OffsetDateTime,
    ) -> Result<Refund, WxFail> {
        let out_refund_no = fields
            .get("out_refund_no")
            .ok_or_else(|| WxFail::param("缺少参数out_refund_no"))?;
        if out_refund_no.len() > 64
            || !out_refund_no
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
        {
            return Err(WxFail::param("out_refund_no参数格式错误"));
        }
        let total_fee = amount(fields, "total_fee")?;
        let refund_fee = amount(fields, "refund_fee")?;
        let funds = match fields.get("refund_account") {
            None | Some("REFUND_SOURCE_UNSETTLED_FUNDS") => Funds::Unsettled,
            Some("REFUND_SOURCE_RECHARGE_FUNDS") => Funds::Recharge,
            Some(_) => return Err(WxFail::param("refund_account参数错误")),
        };
        if let Some(currency) = fields.get("refund_fee_type")
            && currency != "CNY"
        {
            return Err(WxFail::param("refund_fee_type参数错误"));
        }
        let order = self.find_order(fields)?.clone();

        // The same refund number never moves money twice: a repeat returns the first refund.
        if let Some(existing) = self.refunds.get(out_refund_no) {
            if existing.out_trade_no != order.out_trade_no {
                return Err(WxFail::business(
                    "INVALID_REQUEST",
                    "商户退款单号已被其他订单使用",
                ));
            }
            if existing.total_fee != total_fee || existing.refund_fee != refund_fee {
                return Err(WxFail::business(
                    "INVALID_REQUEST",
                    "订单金额或退款金额与之前请求不一致，请核实后再试",
                ));
            }
            return Ok(existing.clone());
        }

        if order.state != OrderState::Paid {
            return Err(WxFail::business("TRADE_STATE_ERROR", "订单状态错误"));
        }
        let transaction_id = order.transaction_id.clone().unwrap_or_default();
        if total_fee != order.total_fee {
            return Err(WxFail::business(
                "INVALID_REQUEST",
                "订单金额或退款金额与之前请求不一致，请核实后再试",
            ));
        }
        if order
            .paid_at
            .is_some_and(|paid| now - paid > time::Duration::days(365))
        {
            return Err(WxFail::business("TRADE_OVERDUE", "订单已经超过退款期限"));
        }
        let refunded = self.refunded(&order.out_trade_no);
        if refunded >= order.total_fee {
            return Err(WxFail::business("ERROR", "订单已全额退款"));
        }
        if refunded + refund_fee > order.total_fee {
            return Err(WxFail::business("ERROR", "申请退款金额超过订单可退金额"));
        }
        let count = self
            .order_refunds
            .get(&order.out_trade_no)
            .map_or(0, Vec::len);
        if count >= MAX_REFUNDS_PER_ORDER {
            return Err(WxFail::business(
                "ERROR",
                "退款次数超过限制（每笔订单最多50次）",
            ));
        }
        let balance = match funds {
            Funds::Unsettled => self.balances.unsettled,
            Funds::Recharge => self.balances.recharge,
        };
        if balance < refund_fee {
            return Err(WxFail::business(
                "NOTENOUGH",
                "基本账户余额不足，请充值后重新发起",
            ));
        }

        let serial = self.next_serial();
        let outcome = self
            .rules
            .iter()
            .find(|rule| {
                rule.out_refund_no
                    .as_deref()
                    .is_none_or(|no| no == out_refund_no)
                    && rule.refund_fee.is_none_or(|fee| fee == refund_fee)
            })
            .map_or(RefundStatus::Success, |rule| rule.outcome);
        let refund = Refund {
            out_refund_no: out_refund_no.to_owned(),
            refund_id: format!("5030{}{serial:011}", &clock::compact(now)),
            out_trade_no: order.out_trade_no.clone(),
            transaction_id: transaction_id.clone(),
            total_fee,
            refund_fee,
            funds,
            notify_url: fields.get("notify_url").map(str::to_owned),
            refund_desc: fields.get("refund_desc").map(str::to_owned),
            status: RefundStatus::Processing,
            outcome,
            sign_type,
            created_at: now,
            due_at: now + self.refund_delay,
            finished_at: None,
        };
        match funds {
            Funds::Unsettled => self.balances.unsettled -= refund_fee,
            Funds::Recharge => self.balances.recharge -= refund_fee,
        }
        self.record(
            LedgerKind::Refund,
            &order.out_trade_no,
            &transaction_id,
            Some(out_refund_no),
            -refund_fee,
            funds,
            now,
        );
        self.refund_by_id
            .insert(refund.refund_id.clone(), out_refund_no.to_owned());
        self.order_refunds
            .entry(order.out_trade_no.clone())
            .or_default()
            .push(out_refund_no.to_owned());
        self.refunds
            .insert(out_refund_no.to_owned(), refund.clone());
        Ok(refund)
    }

    /// The answer fields of an accepted refund.
    pub fn refund_answer(refund: &Refund) -> Vec<(&'static str, String)> {
        vec![
            ("transaction_id", refund.transaction_id.clone()),
            ("out_trade_no", refund.out_trade_no.clone()),
            ("out_refund_no", refund.out_refund_no.clone()),
            ("refund_id", refund.refund_id.clone()),
            ("refund_channel", String::new()),
            ("refund_fee", refund.refund_fee.to_string()),
            ("settlement_refund_fee", refund.refund_fee.to_string()),
            ("total_fee", refund.total_fee.to_string()),
            ("settlement_total_fee", refund.total_fee.to_string()),
            ("fee_type", "CNY".to_owned()),
            ("cash_fee", refund.total_fee.to_string()),
            ("cash_refund_fee", refund.refund_fee.to_string()),
            ("coupon_refund_fee", "0".to_owned()),
            ("coupon_refund_count", "0".to_owned()),
        ]
    }

    /// Moves refunds whose time has come to their outcome, with a refund notification each.
    pub fn advance(&mut self, now: OffsetDateTime) {
        let due: Vec<String> = self
            .refunds
            .values()
            .filter(|r| r.status == RefundStatus::Processing && r.due_at <= now)
            .map(|r| r.out_refund_no.clone())
            .collect();
        for no in due {
            let Some(refund) = self.refunds.get_mut(&no) else {
                continue;
            };
            refund.status = refund.outcome;
            refund.finished_at = Some(now);
            let refund = refund.clone();
            if refund.status == RefundStatus::Refundclose {
                match refund.funds {
                    Funds::Unsettled => self.balances.unsettled += refund.refund_fee,
                    Funds::Recharge => self.balances.recharge += refund.refund_fee,
                }
                self.record(
                    LedgerKind::RefundReturned,
                    &refund.out_trade_no,
                    &refund.transaction_id,
                    Some(&refund.out_refund_no),
                    refund.refund_fee,
                    refund.funds,
                    now,
                );
            }
            if let Some(url) = &refund.notify_url {
                let body = self.refund_notification(&refund);
                self.outbox.push(Outgoing {
                    kind: NotificationKind::Refund,
                    url: url.clone(),
                    body,
                    subject: refund.out_refund_no.clone(),
                });
            }
        }
    }

    fn refund_notification(&self, refund: &Refund) -> String {
        let mut inner: Vec<(&str, String)> = vec![
            ("transaction_id", refund.transaction_id.clone()),
            ("out_trade_no", refund.out_trade_no.clone()),
            ("refund_id", refund.refund_id.clone()),
            ("out_refund_no", refund.out_refund_no.clone()),
            ("total_fee", refund.total_fee.to_string()),
            ("settlement_total_fee", refund.total_fee.to_string()),
            ("refund_fee", refund.refund_fee.to_string()),
            ("settlement_refund_fee", refund.refund_fee.to_string()),
            ("refund_status", refund.status.wire().to_owned()),
            ("refund_recv_accout", "支付用户零钱".to_owned()),
            ("refund_account", refund.funds.wire().to_owned()),
            ("refund_request_source", "API".to_owned()),
        ];
        if refund.status == RefundStatus::Success
            && let Some(at) = refund.finished_at
        {
            inner.push(("success_time", clock::readable(at)));
        }
        let inner = Fields::from_pairs(inner).map_or_else(
            |_| String::new(),
            |f| wxpay::xml::encode_with_root(&f, "root").unwrap_or_default(),
        );
        let req_info = wxpay::refund_notify::encrypt_req_info(inner.as_bytes(), &self.api_key);
        let outer = Fields::from_pairs([
            ("return_code", "SUCCESS".to_owned()),
            ("appid", self.appid.clone()),
            ("mch_id", self.mch_id.clone()),
            ("nonce_str", nonce()),
            ("req_info", req_info),
        ]);
        outer
            .ok()
            .and_then(|f| wxpay::xml::encode(&f).ok())
            .unwrap_or_default()
    }

    /// 查询退款: by refund_id, else out_refund_no, else transaction_id, else out_trade_no.
    pub fn refund_query(
        &mut self,
        fields: &Fields<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, String)>, WxFail> {
        self.advance(now);
        let not_exist = || WxFail::business("REFUNDNOTEXIST", "not exist");
        let selected: Vec<&Refund> = if let Some(id) = fields.get("refund_id") {
            let no = self.refund_by_id.get(id).ok_or_else(not_exist)?;
            self.refunds.get(no).into_iter().collect()
        } else if let Some(no) = fields.get("out_refund_no") {
            vec![self.refunds.get(no).ok_or_else(not_exist)?]
        } else if fields.get("transaction_id").is_some() || fields.get("out_trade_no").is_some() {
            let order = self.find_order(fields).map_err(|_| not_exist())?;
            self.order_refunds
                .get(&order.out_trade_no)
                .into_iter()
                .flatten()
                .filter_map(|no| self.refunds.get(no))
                .collect()
        } else {
            return Err(WxFail::param("请求参数未按指引进行填写"));
        };
        if selected.is_empty() {
            return Err(not_exist());
        }
        let total = selected.len();
        let offset = match fields.get("offset") {
            None => 0,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|&o| o < total)
                .ok_or_else(|| WxFail::param("offset参数错误"))?,
        };
        let page: Vec<&Refund> = selected
            .iter()
            .copied()
            .skip(offset)
            .take(REFUND_PAGE)
            .collect();
        let order = self
            .orders
            .get(&page[0].out_trade_no)
            .ok_or_else(not_exist)?;
        let mut out: Vec<(String, String)> = vec![
            ("transaction_id".into(), page[0].transaction_id.clone()),
            ("out_trade_no".into(), order.out_trade_no.clone()),
            ("total_fee".into(), order.total_fee.to_string()),
            ("settlement_total_fee".into(), order.total_fee.to_string()),
            ("fee_type".into(), "CNY".into()),
            ("cash_fee".into(), order.total_fee.to_string()),
            ("refund_count".into(), page.len().to_string()),
        ];
        if total > REFUND_PAGE {
            out.push(("total_refund_count".into(), total.to_string()));
        }
        for (n, refund) in page.iter().enumerate() {
            let mut add = |name: &str, value: String| out.push((format!("{name}_{n}"), value));
            add("out_refund_no", refund.out_refund_no.clone());
            add("refund_id", refund.refund_id.clone());
            add("refund_channel", "ORIGINAL".into());
            add("refund_fee", refund.refund_fee.to_string());
            add("settlement_refund_fee", refund.refund_fee.to_string());
            add("coupon_refund_fee", "0".into());
            add("refund_status", refund.status.wire().into());
            add("refund_account", refund.funds.wire().into());
            add("refund_recv_accout", "支付用户零钱".into());
            if refund.status == RefundStatus::Success
                && let Some(at) = refund.finished_at
            {
                add("refund_success_time", clock::readable(at));
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ bill

    /// 下载对账单: a day's orders and refunds as WeChat's CSV-like text, or `None` if empty.
    pub fn bill(&self, bill_date: &str, bill_type: &str) -> Option<String> {
        let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
        let mut rows = Vec::new();
        let (mut paid_total, mut refund_total, mut count) = (0, 0, 0);
        if bill_type != "REFUND" {
            for order in self.orders.values() {
                let Some(paid_at) = order.paid_at else {
                    continue;
                };
                if clock::bill_date(paid_at) != bill_date {
                    continue;
                }
                count += 1;
                paid_total += order.total_fee;
                rows.push(format!(
                    "`{},`{},`{},`0,`,`{},`{},`{},`{},`SUCCESS,`OTHERS,`CNY,`{},`0.00,`0,`0,`0.00,`0.00,`,`,`{},`{},`0.00000,`0.60%,`{},`0.00,`",
                    clock::readable(paid_at),
                    self.appid,
                    self.mch_id,
                    order.transaction_id.as_deref().unwrap_or(""),
                    order.out_trade_no,
                    order.openid,
                    order.trade_type,
                    yuan(order.total_fee),
                    order.body.replace(',', " "),
                    order.attach.as_deref().unwrap_or("").replace(',', " "),
                    yuan(order.total_fee),
                ));
            }
        }
        if bill_type != "SUCCESS" {
            for refund in self.refunds.values() {
                if clock::bill_date(refund.created_at) != bill_date {
                    continue;
                }
                count += 1;
                refund_total += refund.refund_fee;
                rows.push(format!(
                    "`{},`{},`{},`0,`,`{},`{},`,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`{},`{},`{},`0.00,`ORIGINAL,`{},`,`,`0.00000,`0.60%,`{},`{},`",
                    clock::readable(refund.created_at),
                    self.appid,
                    self.mch_id,
                    refund.transaction_id,
                    refund.out_trade_no,
                    refund.refund_id,
                    refund.out_refund_no,
                    yuan(refund.refund_fee),
                    refund.status.wire(),
                    yuan(refund.total_fee),
                    yuan(refund.refund_fee),
                ));
            }
        }
        if rows.is_empty() {
            return None;
        }
        let mut text = String::from(
            "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n",
        );
        for row in rows {
            text.push_str(&row);
            text.push_str("\r\n");
        }
        text.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
        text.push_str(&format!(
            "`{count},`{},`{},`0.00,`0.00000,`{},`{}\r\n",
            yuan(paid_total),
            yuan(refund_total),
            yuan(paid_total),
            yuan(refund_total)
        ));
        Some(text)
    }

    // ------------------------------------------------------------------ control

    pub fn order(&self, out_trade_no: &str) -> Option<&Order> {
        self.orders.get(out_trade_no)
    }

    pub fn refunds(&self) -> Vec<Refund> {
        self.refunds.values().cloned().collect()
    }

    pub fn ledger(&self) -> &[LedgerEntry] {
        &self.ledger
    }

    pub fn balances(&self) -> Balances {
        self.balances
    }

    pub fn set_balances(&mut self, balances: Balances) {
        self.balances = balances;
    }

    pub fn add_rule(&mut self, rule: RefundRule) {
        self.rules.push(rule);
    }

    /// Notifications created since the last call.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// Everything a restart needs to go on with the same day (the merchant comes from its
    /// files; the indexes are rebuilt).
    pub(crate) fn snapshot(&self, due: Vec<Outgoing>) -> Snapshot {
        Snapshot {
            mch_id: self.mch_id.clone(),
            orders: self.orders.values().cloned().collect(),
            refunds: self.refunds.values().cloned().collect(),
            order_refunds: self
                .order_refunds
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ledger: self.ledger.clone(),
            balances: self.balances,
            rules: self.rules.clone(),
            serial: self.serial,
            due,
        }
    }

    /// Goes on from `snapshot`; returns the notifications still due. A snapshot of another
    /// merchant (its files were made anew) is not this simulator's day: nothing is restored.
    pub(crate) fn restore(&mut self, snapshot: Snapshot) -> Vec<Outgoing> {
        if snapshot.mch_id != self.mch_id {
            return Vec::new();
        }
        for order in snapshot.orders {
            if let Some(id) = &order.transaction_id {
                self.order_by_transaction
                    .insert(id.clone(), order.out_trade_no.clone());
            }
            self.orders.insert(order.out_trade_no.clone(), order);
        }
        for refund in snapshot.refunds {
            self.refund_by_id
                .insert(refund.refund_id.clone(), refund.out_refund_no.clone());
            self.refunds.insert(refund.out_refund_no.clone(), refund);
        }
        self.order_refunds = snapshot.order_refunds.into_iter().collect();
        self.ledger = snapshot.ledger;
        self.balances = snapshot.balances;
        self.rules = snapshot.rules;
        self.serial = snapshot.serial;
        snapshot.due
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        kind: LedgerKind,
        out_trade_no: &str,
        transaction_id: &str,
        out_refund_no: Option<&str>,
        amount: i64,
        funds: Funds,
        now: OffsetDateTime,
    ) {
        let seq = self.ledger.len() as u64 + 1;
        self.ledger.push(LedgerEntry {
            seq,
            kind,
            out_trade_no: out_trade_no.to_owned(),
            transaction_id: transaction_id.to_owned(),
            out_refund_no: out_refund_no.map(str::to_owned),
            amount,
            funds,
            at: clock::readable(now),
        });
    }
}

/// A positive whole number of fen.
fn amount(fields: &Fields<'_>, name: &'static str) -> Result<i64, WxFail> {
    let text = fields
        .get(name)
        .ok_or_else(|| WxFail::param(format!("缺少参数{name}")))?;
    match wxpay::Fen::parse_wire(text) {
        Ok(fen) if fen.is_positive() => Ok(fen.get()),
        _ => Err(WxFail::param(format!("{name}参数格式错误"))),
    }
}

pub(crate) fn nonce() -> String {
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Signs and encodes an answer or notification.
pub(crate) fn signed_xml<'a, K: Into<std::borrow::Cow<'a, str>>>(
    pairs: impl IntoIterator<Item = (K, String)>,
    key: &wxpay::ApiKey,
    sign_type: SignType,
) -> String {
    Fields::from_pairs(pairs)
        .ok()
        .and_then(|fields| wxpay::sign::sign_and_encode(fields, key, sign_type).ok())
        .unwrap_or_default()
}
