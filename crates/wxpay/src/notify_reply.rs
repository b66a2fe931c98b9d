//! The reply a `notify_url` gives WeChat. Anything but SUCCESS makes WeChat retry.

use crate::xml::push_cdata;

/// The exact XML WeChat expects for a successful delivery.
pub const SUCCESS_REPLY: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/// Reply to a payment or refund notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyReply {
    /// Stored: WeChat stops sending this notification.
    Success,
    /// Not stored: WeChat sends it again on its schedule. The reason must not leak internals.
    Fail(String),
}

impl NotifyReply {
    pub fn to_xml(&self) -> String {
        match self {
            NotifyReply::Success => SUCCESS_REPLY.to_owned(),
            NotifyReply::Fail(reason) => {
                let mut out =
                    String::from("<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>");
                push_cdata(&mut out, reason);
                out.push_str("</return_msg></xml>");
                out
            }
        }
    }

    /// Reads a reply (the simulator uses this to decide whether to retry).
    pub fn is_success_xml(body: &[u8]) -> bool {
        crate::xml::decode(body).is_ok_and(|f| f.get("return_code") == Some("SUCCESS"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reply_strings() {
        assert_eq!(
            NotifyReply::Success.to_xml(),
            "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
        );
        assert_eq!(
            NotifyReply::Fail("签名失败".into()).to_xml(),
            "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名失败]]></return_msg></xml>"
        );
        assert!(NotifyReply::is_success_xml(SUCCESS_REPLY.as_bytes()));
        let tricky = NotifyReply::Fail("a]]>b".into()).to_xml();
        assert!(!NotifyReply::is_success_xml(tricky.as_bytes()));
        let fields = crate::xml::decode(tricky.as_bytes()).unwrap();
        assert_eq!(fields.get("return_msg"), Some("a]]>b"));
    }
}
