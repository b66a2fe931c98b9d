//! 统一下单 `POST /pay/unifiedorder`, and the JSAPI `paySign` the mini-program pays with.
//!
//! The desk itself never creates orders; the simulator and its demo traffic do.

use crate::fields::{FieldError, Fields};
use crate::ids::{Nonce, OutTradeNo};
use crate::money::Fen;
use crate::request::{Merchant, Request, RequestError, check_notify_url, check_text};
use crate::sign::{self, SignType};
use crate::wire_enum::wire_enum;

wire_enum!(
    TradeType {
        /// Mini-program and official-account payments (needs `openid`).
        Jsapi = "JSAPI",
        Native = "NATIVE",
        App = "APP",
        Mweb = "MWEB",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedOrderRequest {
    /// 商品描述, at most 128 characters.
    pub body: String,
    pub out_trade_no: OutTradeNo,
    pub total_fee: Fen,
    pub spbill_create_ip: String,
    pub notify_url: String,
    pub trade_type: TradeType,
    /// The payer, required for JSAPI.
    pub openid: Option<String>,
    /// Echoed back in the notification, at most 127 characters.
    pub attach: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnifiedOrderResponse {
    pub trade_type: TradeType,
    pub prepay_id: String,
    pub code_url: Option<String>,
}

impl Request for UnifiedOrderRequest {
    type Response = UnifiedOrderResponse;
    const PATH: &'static str = "/pay/unifiedorder";

    fn fields(&self) -> Result<Vec<(&'static str, String)>, RequestError> {
        if !self.total_fee.is_positive() {
            return Err(RequestError::NotPositive { field: "total_fee" });
        }
        check_text("body", &self.body, 128)?;
        if self.body.is_empty() {
            return Err(RequestError::Invalid {
                field: "body",
                reason: "must describe the goods",
            });
        }
        check_text("spbill_create_ip", &self.spbill_create_ip, 64)?;
        check_notify_url(&self.notify_url)?;
        if let TradeType::Other(_) = self.trade_type {
            return Err(RequestError::Invalid {
                field: "trade_type",
                reason: "must be JSAPI, NATIVE, APP or MWEB",
            });
        }
        let mut fields = vec![
            ("body", self.body.clone()),
            ("out_trade_no", self.out_trade_no.to_string()),
            ("total_fee", self.total_fee.to_string()),
            ("spbill_create_ip", self.spbill_create_ip.clone()),
            ("notify_url", self.notify_url.clone()),
            ("trade_type", self.trade_type.to_string()),
        ];
        match (&self.openid, &self.trade_type) {
            (Some(openid), _) => {
                check_text("openid", openid, 128)?;
                fields.push(("openid", openid.clone()));
            }
            (None, TradeType::Jsapi) => {
                return Err(RequestError::Invalid {
                    field: "openid",
                    reason: "is required for JSAPI payments",
                });
            }
            (None, _) => {}
        }
        if let Some(attach) = &self.attach {
            check_text("attach", attach, 127)?;
            fields.push(("attach", attach.clone()));
        }
        Ok(fields)
    }

    fn parse_response(&self, fields: &Fields<'_>) -> Result<UnifiedOrderResponse, FieldError> {
        Ok(UnifiedOrderResponse {
            trade_type: fields.required("trade_type")?,
            prepay_id: fields.required("prepay_id")?,
            code_url: fields.optional("code_url")?,
        })
    }
}

/// The parameters `wx.requestPayment` takes, re-signed with the merchant key (`paySign`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiPayParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    pub sign_type: SignType,
    pub pay_sign: String,
}

impl JsapiPayParams {
    /// Signs `appId`, `nonceStr`, `package`, `signType` and `timeStamp` (case-sensitive names)
    /// exactly like any v2 message.
    pub fn new(
        merchant: &Merchant,
        prepay_id: &str,
        time_stamp: u64,
        nonce: &Nonce,
    ) -> JsapiPayParams {
        let app_id = merchant.appid.to_string();
        let time_stamp = time_stamp.to_string();
        let package = format!("prepay_id={prepay_id}");
        let sign_type = merchant.sign_type;
        let fields = Fields::from_pairs([
            ("appId", app_id.as_str()),
            ("timeStamp", time_stamp.as_str()),
            ("nonceStr", nonce.as_str()),
            ("package", package.as_str()),
            ("signType", sign_type.as_str()),
        ])
        .expect("five distinct names");
        let pay_sign = sign::sign(&fields, &merchant.api_key, sign_type);
        JsapiPayParams {
            app_id,
            time_stamp,
            nonce_str: nonce.to_string(),
            package,
            sign_type,
            pay_sign,
        }
    }
}
