//! Executes typed v2 requests: sign, send, classify the HTTP answer, verify and decode.

use rand::Rng;
use rand::distr::Alphanumeric;
use wxpay::{Error, MAX_BODY_BYTES, Merchant, Nonce, Request, TransportError, TransportErrorKind};

use crate::transport::{HttpReply, Transport};

/// A merchant's client for WeChat Pay v2 over some [`Transport`].
#[derive(Debug, Clone)]
pub struct WxPayClient<T> {
    merchant: Merchant,
    transport: T,
}

impl<T: Transport> WxPayClient<T> {
    pub fn new(merchant: Merchant, transport: T) -> Self {
        WxPayClient {
            merchant,
            transport,
        }
    }

    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    /// Sends one request and returns its verified answer. A failure says what went wrong and,
    /// for the transport, whether the request may have reached WeChat
    /// ([`wxpay::TransportError::written`]); what that means for a refund is the desk's call.
    pub async fn execute<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let body = self.merchant.encode_request(request, &random_nonce())?;
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

    #[test]
    fn nonces_are_fresh() {
        let a = random_nonce();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, random_nonce());
    }
}
