//! 退款结果通知: the refund notification, whose fields arrive encrypted in `req_info`.
//!
//! The outer message has no `sign`: authenticity is that `req_info` decrypts with our API key
//! (AES-256-ECB, PKCS7, key = the 32 lowercase hex characters of md5(API key)) and names our
//! appid and mch_id. The decrypted XML is untrusted too and goes through the same strict decoder.

use aes::Aes256;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::fields::Fields;
use crate::ids::{OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::messages::refund_query::RefundStatus;
use crate::money::Fen;
use crate::request::{Merchant, check_return_code};
use crate::secret::ApiKey;
use crate::xml;

/// Why `req_info` could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("req_info is missing")]
    Missing,
    #[error("req_info is not valid base64")]
    Base64,
    #[error("req_info is {len} bytes, not a whole number of 16-byte AES blocks")]
    BlockLength { len: usize },
    #[error("req_info does not decrypt with this API key (wrong key, or the data was altered)")]
    WrongKeyOrCorrupt,
}

type Decryptor = ecb::Decryptor<Aes256>;
type Encryptor = ecb::Encryptor<Aes256>;

/// md5(API key) as 32 lowercase hex characters, used directly as the 32 key bytes.
fn aes_key(key: &ApiKey) -> Zeroizing<[u8; 32]> {
    let digest = Md5::digest(key.expose().as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

/// Decrypts a `req_info` value to the XML it carries.
pub fn decrypt_req_info(req_info: &str, key: &ApiKey) -> Result<Vec<u8>, DecryptError> {
    let req_info = req_info.trim();
    if req_info.is_empty() {
        return Err(DecryptError::Missing);
    }
    let mut data = STANDARD
        .decode(req_info)
        .map_err(|_| DecryptError::Base64)?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(DecryptError::BlockLength { len: data.len() });
    }
    let key = aes_key(key);
    let len = Decryptor::new((&*key).into())
        .decrypt_padded::<Pkcs7>(&mut data)
        .map_err(|_| DecryptError::WrongKeyOrCorrupt)?
        .len();
    data.truncate(len);
    Ok(data)
}

/// Encrypts XML as WeChat does, for the simulator and for tests.
pub fn encrypt_req_info(plain: &[u8], key: &ApiKey) -> String {
    let key = aes_key(key);
    let cipher = Encryptor::new((&*key).into()).encrypt_padded_vec::<Pkcs7>(plain);
    STANDARD.encode(cipher)
}

/// A decrypted, checked refund notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundNotification {
    pub transaction_id: TransactionId,
    pub out_trade_no: OutTradeNo,
    pub refund_id: RefundId,
    pub out_refund_no: OutRefundNo,
    pub total_fee: Fen,
    pub settlement_total_fee: Option<Fen>,
    pub refund_fee: Fen,
    pub settlement_refund_fee: Option<Fen>,
    /// SUCCESS, REFUNDCLOSE or CHANGE.
    pub refund_status: RefundStatus,
    /// "2017-12-15 09:46:01" (GMT+8), when SUCCESS.
    pub success_time: Option<String>,
    pub refund_recv_account: Option<String>,
    pub refund_account: Option<String>,
    /// API or VENDOR_PLATFORM (refunded by hand in the merchant platform).
    pub refund_request_source: Option<String>,
}

impl RefundNotification {
    pub fn parse(body: &[u8], merchant: &Merchant) -> Result<RefundNotification, Error> {
        let outer = xml::decode(body)?;
        check_return_code(&outer)?;
        merchant.check_identity(&outer)?;
        let plain = decrypt_req_info(
            outer.get("req_info").ok_or(DecryptError::Missing)?,
            &merchant.api_key,
        )?;
        let inner = xml::decode(&plain)?;
        Self::from_decrypted(&inner)
    }

    /// Decodes the fields of a decrypted `req_info`.
    pub fn from_decrypted(fields: &Fields<'_>) -> Result<RefundNotification, Error> {
        Ok(RefundNotification {
            transaction_id: fields.required("transaction_id")?,
            out_trade_no: fields.required("out_trade_no")?,
            refund_id: fields.required("refund_id")?,
            out_refund_no: fields.required("out_refund_no")?,
            total_fee: fields.required("total_fee")?,
            settlement_total_fee: fields.optional("settlement_total_fee")?,
            refund_fee: fields.required("refund_fee")?,
            settlement_refund_fee: fields.optional("settlement_refund_fee")?,
            refund_status: fields.required("refund_status")?,
            success_time: fields.optional("success_time")?,
            refund_recv_account: fields.optional("refund_recv_accout")?,
            refund_account: fields.optional("refund_account")?,
            refund_request_source: fields.optional("refund_request_source")?,
        })
    }
}
