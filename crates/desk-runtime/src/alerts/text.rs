//! The words for a refund problem, in the alert's language: what happened and what to do.

use desk_core::Problem;

use super::Language;

/// A refund problem in a few words.
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
        Problem::NoRecordYet => (
            "微信支付暂无此退款记录，几分钟后再查一次再定",
            "WeChat Pay has no record of it yet; asked again in a few minutes",
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
    use super::*;

    #[test]
    fn every_problem_has_words_in_both_languages() {
        for problem in Problem::ALL {
            assert!(!problem_text(problem, Language::ZhCn).is_empty());
            assert!(problem_text(problem, Language::En).is_ascii());
        }
    }
}
