//! The HTTPS listener at WeChat's paths.
//!
//! Like WeChat's nginx, the TLS handshake lets any client certificate in and the HTTP layer
//! judges it: `/secapi/` without one answers `400 No required SSL certificate was sent`, with a
//! certificate from another CA `400 The SSL certificate error`, with another merchant's
//! `certificate not match`.

use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use wxpay::sign::{Expect, verify};
use wxpay::{Fields, MAX_BODY_BYTES, SignType};

use crate::faults::{Endpoint, Fault};
use crate::pki::ServerTls;
use crate::state::{SimState, WxFail};
use crate::{Shared, SimError};

/// What the client showed in the TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientCert {
    None,
    /// Not issued by the simulator's CA.
    Untrusted,
    /// Issued by the simulator's CA, for this common name (WeChat puts the merchant id there).
    Trusted {
        common_name: String,
    },
}

/// Accepts any client certificate during the handshake (still checking the handshake
/// signature), so the HTTP layer can answer the way WeChat does.
#[derive(Debug)]
struct JudgeLater(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for JudgeLater {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(tls.ca)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let strict = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_client_cert_verifier(Arc::new(JudgeLater(strict.clone())))
        .with_single_cert(vec![tls.cert], tls.key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let strict = strict.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let cert = judge(strict.as_ref(), tls.get_ref().1.peer_certificates());
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                let cert = cert.clone();
                async move { handle(&shared, request, &cert).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

fn judge(
    verifier: &dyn ClientCertVerifier,
    certs: Option<&[CertificateDer<'static>]>,
) -> ClientCert {
    let Some((end_entity, intermediates)) = certs.and_then(|c| c.split_first()) else {
        return ClientCert::None;
    };
    if verifier
        .verify_client_cert(end_entity, intermediates, UnixTime::now())
        .is_err()
    {
        return ClientCert::Untrusted;
    }
    let common_name = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .ok()
        .and_then(|(_, cert)| {
            cert.subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    ClientCert::Trusted { common_name }
}

/// Returned instead of a response to close the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

type HttpResponse = Response<Full<Bytes>>;

async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    cert: &ClientCert,
) -> Result<HttpResponse, Dropped> {
    let Some(endpoint) = Endpoint::from_path(request.uri().path()) else {
        return Ok(html(StatusCode::NOT_FOUND, "404 Not Found"));
    };
    if endpoint == Endpoint::Refund {
        match cert {
            ClientCert::None => {
                return Ok(html(
                    StatusCode::BAD_REQUEST,
                    "No required SSL certificate was sent",
                ));
            }
            ClientCert::Untrusted => {
                return Ok(html(StatusCode::BAD_REQUEST, "The SSL certificate error"));
            }
            ClientCert::Trusted { .. } => {}
        }
    }
    if request.method() != Method::POST {
        return Ok(xml(fail_reply("请使用post方法")));
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(xml(fail_reply("XML格式错误"))),
    };
    let fault = shared
        .faults
        .lock()
        .map(|mut f| f.take(endpoint))
        .unwrap_or(None);
    if let Some(Fault::Delay { ms }) = &fault {
        tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
    }
    if let Some(fault) = fault.as_ref().filter(|f| !f.after_record()) {
        return spoil(fault, shared, &body);
    }
    let answer = {
        let Ok(mut state) = shared.state.lock() else {
            return Ok(html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "500 Internal Server Error",
            ));
        };
        let answer = answer(&mut state, endpoint, &body, cert);
        shared.send_outbox(&mut state);
        answer
    };
    match fault {
        Some(fault) if !matches!(fault, Fault::Delay { .. }) => spoil(&fault, shared, &body),
        _ => Ok(answer),
    }
}

/// The answer a fault gives instead of the real one.
fn spoil(fault: &Fault, shared: &Shared, body: &[u8]) -> Result<HttpResponse, Dropped> {
    match fault {
        Fault::Error { err_code, .. } => {
            let sign_type = wxpay::xml::decode(body)
                .ok()
                .and_then(|f| f.get("sign_type").and_then(SignType::from_wire))
                .unwrap_or_default();
            let Ok(state) = shared.state.lock() else {
                return Ok(html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "500 Internal Server Error",
                ));
            };
            let description = match err_code.as_str() {
                "SYSTEMERROR" => "系统超时",
                "BIZERR_NEED_RETRY" => "退款业务流程错误，需要商户触发重试来解决",
                "FREQUENCY_LIMITED" => "该笔退款未受理，请降低频率后重试",
                "INVALID_REQ_TOO_MUCH" => "无效请求过多",
                _ => "模拟的业务错误",
            };
            Ok(xml(business_reply(
                &state,
                err_code,
                description,
                sign_type,
            )))
        }
        Fault::HttpStatus { status, .. } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            Ok(html(status, status.canonical_reason().unwrap_or("Error")))
        }
        Fault::Drop { .. } => Err(Dropped),
        Fault::Garbage { .. } => Ok(Response::new(Full::new(Bytes::from_static(
            b"\x00\x17garbage\xff{not xml",
        )))),
        Fault::Delay { .. } => Err(Dropped),
    }
}

/// Authenticates a request and runs it against the state.
fn answer(
    state: &mut SimState,
    endpoint: Endpoint,
    body: &[u8],
    cert: &ClientCert,
) -> HttpResponse {
    let Ok(fields) = wxpay::xml::decode(body) else {
        return xml(fail_reply("XML格式错误"));
    };
    let sign_type = match fields.get("sign_type") {
        None => SignType::Md5,
        Some(text) => match SignType::from_wire(text) {
            Some(sign_type) => sign_type,
            None => return xml(fail_reply("sign_type参数格式错误")),
        },
    };
    for required in ["appid", "mch_id", "nonce_str", "sign"] {
        if fields.get(required).is_none() {
            return xml(fail_reply(&format!("缺少参数{required}")));
        }
    }
    if fields.get("mch_id") != Some(state.mch_id.as_str()) {
        return xml(business_reply(
            state,
            "MCHID_NOT_EXIST",
            "商户号不存在",
            sign_type,
        ));
    }
    if fields.get("appid") != Some(state.appid.as_str()) {
        return xml(business_reply(
            state,
            "APPID_NOT_EXIST",
            "appid不存在",
            sign_type,
        ));
    }
    if verify(&fields, &state.api_key, Expect::Exactly(sign_type)).is_err() {
        return xml(fail_reply("签名错误，请检查后再试"));
    }
    if let ClientCert::Trusted { common_name } = cert
        && endpoint == Endpoint::Refund
        && common_name != &state.mch_id
    {
        return xml(fail_reply("certificate not match"));
    }
    let now = time::OffsetDateTime::now_utc();
    let result = match endpoint {
        Endpoint::UnifiedOrder => unified_order(state, &fields, sign_type, now),
        Endpoint::OrderQuery => state.order_query(&fields).map(owned),
        Endpoint::Refund => state
            .refund(&fields, sign_type, now)
            .map(|refund| owned(SimState::refund_answer(&refund))),
        Endpoint::RefundQuery => state.refund_query(&fields, now),
        Endpoint::DownloadBill => {
            return match bill(state, &fields) {
                Ok(text) => Response::new(Full::new(Bytes::from(text))),
                Err(message) => xml(fail_reply(message)),
            };
        }
    };
    match result {
        Ok(pairs) => xml(success_reply(state, pairs, sign_type)),
        Err(WxFail { code, description }) => {
            xml(business_reply(state, code, &description, sign_type))
        }
    }
}

fn owned(pairs: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn unified_order(
    state: &mut SimState,
    fields: &Fields<'_>,
    sign_type: SignType,
    now: time::OffsetDateTime,
) -> Result<Vec<(String, String)>, WxFail> {
    for required in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        if fields.get(required).is_none() {
            return Err(WxFail {
                code: "PARAM_ERROR",
                description: format!("缺少参数{required}"),
            });
        }
    }
    let trade_type = fields.get("trade_type").unwrap_or("JSAPI");
    if !matches!(trade_type, "JSAPI" | "NATIVE" | "APP" | "MWEB") {
        return Err(WxFail {
            code: "PARAM_ERROR",
            description: "trade_type参数错误".into(),
        });
    }
    if trade_type == "JSAPI" && fields.get("openid").is_none() {
        return Err(WxFail {
            code: "PARAM_ERROR",
            description: "JSAPI支付必须传openid".into(),
        });
    }
    let total_fee = fields
        .get("total_fee")
        .and_then(|t| wxpay::Fen::parse_wire(t).ok())
        .map(wxpay::Fen::get)
        .ok_or_else(|| WxFail {
            code: "PARAM_ERROR",
            description: "total_fee参数格式错误".into(),
        })?;
    let order = state.create_order(
        crate::state::NewOrder {
            out_trade_no: fields.get("out_trade_no").map(str::to_owned),
            total_fee,
            body: fields.get("body").map(str::to_owned),
            notify_url: fields.get("notify_url").map(str::to_owned),
            trade_type: Some(trade_type.to_owned()),
            openid: fields.get("openid").map(str::to_owned),
            attach: fields.get("attach").map(str::to_owned),
            days_ago: 0,
            sign_type,
        },
        now,
    )?;
    let mut pairs = vec![
        ("trade_type".to_owned(), order.trade_type.clone()),
        ("prepay_id".to_owned(), order.prepay_id.clone()),
    ];
    if trade_type == "NATIVE" {
        pairs.push((
            "code_url".to_owned(),
            format!("weixin://wxpay/bizpayurl?pr={}", order.prepay_id),
        ));
    }
    Ok(pairs)
}

/// The bill, or the `return_msg` WeChat answers instead.
fn bill(state: &SimState, fields: &Fields<'_>) -> Result<String, &'static str> {
    let date = fields.get("bill_date").unwrap_or("");
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid bill_date");
    }
    let bill_type = fields.get("bill_type").unwrap_or("ALL");
    if !matches!(bill_type, "ALL" | "SUCCESS" | "REFUND") {
        return Err("invalid bill_type");
    }
    state.bill(date, bill_type).ok_or("No Bill Exist")
}

fn success_reply(state: &SimState, pairs: Vec<(String, String)>, sign_type: SignType) -> String {
    let mut all: Vec<(String, String)> = common(state);
    all.push(("result_code".into(), "SUCCESS".into()));
    all.extend(pairs);
    crate::state::signed_xml(all, &state.api_key, sign_type)
}

fn business_reply(state: &SimState, code: &str, description: &str, sign_type: SignType) -> String {
    let mut all = common(state);
    all.extend([
        ("result_code".into(), "FAIL".into()),
        ("err_code".into(), code.to_owned()),
        ("err_code_des".into(), description.to_owned()),
    ]);
    crate::state::signed_xml(all, &state.api_key, sign_type)
}

fn common(state: &SimState) -> Vec<(String, String)> {
    vec![
        ("return_code".into(), "SUCCESS".into()),
        ("return_msg".into(), "OK".into()),
        ("appid".into(), state.appid.clone()),
        ("mch_id".into(), state.mch_id.clone()),
        ("nonce_str".into(), crate::state::nonce()),
    ]
}

/// `return_code=FAIL`: WeChat leaves these unsigned.
fn fail_reply(message: &str) -> String {
    Fields::from_pairs([("return_code", "FAIL"), ("return_msg", message)])
        .ok()
        .and_then(|f| wxpay::xml::encode(&f).ok())
        .unwrap_or_default()
}

fn xml(body: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if let Ok(value) = "text/xml; charset=utf-8".parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// An nginx-style HTML error page.
fn html(status: StatusCode, message: &str) -> HttpResponse {
    let title = format!("{} {}", status.as_u16(), message);
    let page = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{} {}</h1></center>\r\n<center>{message}</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
    );
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response
}
