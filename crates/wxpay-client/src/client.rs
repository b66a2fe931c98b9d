//! Executes typed v2 requests: sign, send, classify the HTTP answer, verify and decode.

use std::sync::Arc;

use rand::RngExt;
use rand::distr::Alphanumeric;
use wxpay::{Error, MAX_BODY_BYTES, Merchant, Nonce, Request, TransportError, TransportErrorKind};

use crate::pace::{Pace, WECHAT_REQUESTS_PER_SECOND};
use crate::transport::{HttpReply, Transport};

/// A merchant's client for WeChat Pay v2 over some [`Transport`]. Every call keeps to one
/// rate, shared by the client's clones: WeChat's limit unless told otherwise.
#[derive(Debug, Clone)]
pub struct WxPayClient<T> {
    merchant: Merchant,
    transport: T,
    pace: Arc<Pace>,
}

impl<T: Transport> WxPayClient<T> {
    pub fn new(merchant: Merchant, transport: T) -> Self {
        WxPayClient {
            merchant,
            transport,
            pace: Arc::new(Pace::per_second(WECHAT_REQUESTS_PER_SECOND)),
        }
    }

    /// At most `per_second` calls a second, from this client and its clones together.
    pub fn with_rate_limit(mut self, per_second: u32) -> Self {
        self.pace = Arc::new(Pace::per_second(per_second));
        self
    }

    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    /// Sends one request and returns its verified answer. A failure says what went wrong and,
    /// for the transport, whether the request may have reached WeChat
    /// ([`wxpay::TransportError::written`]); what that means for a refund is the desk's call.
    pub async fn execute<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let body = self.merchant.encode_request(request, &random_nonce())?;
        self.pace.wait().await;
        let reply = self
            .transport
            .post(R::PATH, body, R::NEEDS_CLIENT_CERT)
            .await?;
        let body = v2_body(reply)?;
        self.merchant.decode_response(request, &body)
    }
}

/// A fresh 32-character `nonce_str`.
pub fn random_nonce() -> Nonce {
    let text: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    match Nonce::new(text) {
        Ok(nonce) => nonce,
        Err(_) => unreachable!("32 alphanumeric characters are a valid nonce"),
    }
}

/// Accepts an HTTP answer that carries a v2 XML message; names everything else.
pub fn v2_body(reply: HttpReply) -> Result<Vec<u8>, TransportError> {
    let text = String::from_utf8_lossy(&reply.body[..reply.body.len().min(512)]).into_owned();
    let lower = text.to_ascii_lowercase();
    // WeChat's nginx answers a missing or wrong client certificate with HTTP 400 and an HTML page.
    if reply.status == 400 && (lower.contains("ssl certificate") || lower.contains("certificate")) {
        return Err(TransportError::new(
            TransportErrorKind::ClientCertificateRejected,
            html_title(&text),
        ));
    }
    if reply.status != 200 {
        return Err(TransportError::new(
            TransportErrorKind::HttpStatus(reply.status),
            html_title(&text),
        ));
    }
    if reply.body.len() > MAX_BODY_BYTES {
        return Err(TransportError::new(
            TransportErrorKind::NotXml,
            format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    if !text.trim_start().starts_with('<')
        || lower.trim_start().starts_with("<html")
        || lower.trim_start().starts_with("<!doctype html")
    {
        return Err(TransportError::new(
            TransportErrorKind::NotXml,
            html_title(&text),
        ));
    }
    Ok(reply.body)
}

/// The most telling short text of an HTML error page (its title, else its start).
fn html_title(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|start| {
        lower[start..]
            .find("</title>")
            .map(|end| &text[start + 7..start + end])
    });
    let summary = title.unwrap_or(text).trim();
    summary
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn nginx_certificate_pages_are_named() {
        let page = "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>...</body></html>";
        let err = v2_body(reply(400, page)).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::ClientCertificateRejected);
        assert_eq!(err.detail, "400 No required SSL certificate was sent");
        let err = v2_body(reply(
            400,
            "<html><head><title>400 The SSL certificate error</title></head></html>",
        ))
        .unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::ClientCertificateRejected);
    }

    #[test]
    fn other_answers_are_classified() {
        assert_eq!(
            v2_body(reply(502, "<html><title>502 Bad Gateway</title></html>"))
                .unwrap_err()
                .kind,
            TransportErrorKind::HttpStatus(502)
        );
        assert_eq!(
            v2_body(reply(200, "<html><body>portal</body></html>"))
                .unwrap_err()
                .kind,
            TransportErrorKind::NotXml
        );
        assert_eq!(
            v2_body(reply(200, "garbage")).unwrap_err().kind,
            TransportErrorKind::NotXml
        );
        assert!(v2_body(reply(200, "<xml><return_code>SUCCESS</return_code></xml>")).is_ok());
    }

    /// A transport that notes when each request left and answers nothing useful: a fake below
    /// the line anyone sees, for the client's own pacing.
    #[derive(Debug, Clone, Default)]
    struct FakeClockedTransport {
        sent: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
    }

    impl Transport for FakeClockedTransport {
        async fn post(
            &self,
            _path: &'static str,
            _body: String,
            _needs_client_cert: bool,
        ) -> Result<HttpReply, TransportError> {
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(tokio::time::Instant::now());
            Ok(reply(503, "busy"))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_call_of_a_client_and_its_clones_keeps_one_pace() {
        let transport = FakeClockedTransport::default();
        let merchant = Merchant {
            appid: wxpay::AppId::new("wx2421b1c4370ec43b").unwrap_or_else(|_| unreachable!()),
            mch_id: wxpay::MchId::new("10000100").unwrap_or_else(|_| unreachable!()),
            api_key: wxpay::ApiKey::new("192006250b4c09247ec02edce69f6a2d")
                .unwrap_or_else(|_| unreachable!()),
            sign_type: wxpay::SignType::Md5,
        };
        let engine = WxPayClient::new(merchant, transport.clone()).with_rate_limit(10);
        let intake = engine.clone();
        let query = wxpay::RefundQueryRequest {
            key: wxpay::RefundQueryKey::OutRefundNo(
                wxpay::OutRefundNo::new("R1").unwrap_or_else(|_| unreachable!()),
            ),
            offset: None,
        };
        let order = wxpay::OrderQueryRequest {
            order: wxpay::OrderRef::OutTradeNo(
                wxpay::OutTradeNo::new("A1").unwrap_or_else(|_| unreachable!()),
            ),
        };
        let start = tokio::time::Instant::now();
        let (a, b) = tokio::join!(
            async {
                for _ in 0..3 {
                    let _ = engine.execute(&query).await;
                }
            },
            async {
                for _ in 0..3 {
                    let _ = intake.execute(&order).await;
                }
            }
        );
        let ((), ()) = (a, b);
        let sent = transport
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        assert_eq!(sent.len(), 6);
        let offsets: Vec<u128> = sent.iter().map(|at| (*at - start).as_millis()).collect();
        assert_eq!(
            offsets,
            [0, 100, 200, 300, 400, 500],
            "one slot each, 100 ms apart"
        );
    }

    #[test]
    fn nonces_are_fresh() {
        let a = random_nonce();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, random_nonce());
    }
}
