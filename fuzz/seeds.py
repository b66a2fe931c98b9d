#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (fuzz/corpus/<target>/): real-shaped WeChat Pay v2 payment
notifications (MD5, HMAC-SHA256 with and without sign_type), a decrypted refund notification's
plaintext, and backend refund requests. Run from fuzz/: python3 seeds.py"""
import hashlib
import hmac
import os

KEY = "192006250b4c09247ec02edce69f6a2d"  # the documentation's example key, as in the targets


def sign(fields, kind):
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v != "" and k != "sign")
    text += "&key=" + KEY
    if kind == "MD5":
        return hashlib.md5(text.encode()).hexdigest().upper()
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def xml(fields, cdata=True, root="xml"):
    parts = [f"<{k}><![CDATA[{v}]]></{k}>" if cdata else f"<{k}>{v}</{k}>" for k, v in fields.items()]
    return f"<{root}>" + "".join(parts) + f"</{root}>"


def write(target, name, data):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    with open(f"corpus/{target}/{name}", "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())


paid = {
    "appid": "wxd930ea5d5a258f4f", "attach": "门店A", "bank_type": "OTHERS", "cash_fee": "12800",
    "fee_type": "CNY", "is_subscribe": "N", "mch_id": "10000100",
    "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c", "openid": "oUpF8uMEb4qRXf22hE3X68TekukE",
    "out_trade_no": "SIM20261123000001", "result_code": "SUCCESS", "return_code": "SUCCESS",
    "time_end": "20261123162533", "total_fee": "12800", "trade_type": "JSAPI",
    "transaction_id": "4200001234202611230000000001",
}
md5 = dict(paid, sign=sign(paid, "MD5"))
with_type = dict(paid, sign_type="HMAC-SHA256")
with_type["sign"] = sign(with_type, "HMAC")
detected = dict(paid, sign=sign(paid, "HMAC"))
for target in ["xml_decode", "payment_notification"]:
    write(target, "md5.xml", xml(md5))
    write(target, "hmac.xml", xml(with_type))
    write(target, "hmac-detected.xml", xml(detected))
    write(target, "plain.xml", xml(md5, cdata=False))
    write(target, "fail.xml", xml({"return_code": "FAIL", "return_msg": "签名失败"}))
write("xml_decode", "cdata-split.xml", "<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b>&lt;&amp;&gt;</b></xml>")
write("xml_decode", "declaration.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <a>1</a>\n</xml>')

refunded = {
    "out_refund_no": "MD1-abcdEFGH", "out_trade_no": "SIM20261123000001",
    "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS", "refund_fee": "5000",
    "refund_id": "50302026112300000000000001", "refund_recv_accout": "支付用户零钱",
    "refund_request_source": "API", "refund_status": "SUCCESS", "settlement_refund_fee": "5000",
    "settlement_total_fee": "12800", "success_time": "2026-11-23 16:30:00", "total_fee": "12800",
    "transaction_id": "4200001234202611230000000001",
}
write("refund_notification", "success.xml", xml(refunded, root="root"))
write("refund_notification", "change.xml", xml(dict(refunded, refund_status="CHANGE"), root="root"))

# The first byte picks the signing (0: the shared secret, 1: another secret, 2: the body itself).
requests = [
    (0, '{"request_id":"r1","out_trade_no":"SIM20261123000001","refund_fee":5000,"reason":"尺码不合适","customer":"李女士"}'),
    (0, '{"request_id":"r2","transaction_id":"4200001234202611230000000001","refund_fee":1,"reason":"x"}'),
    (3, '{"request_id":"r3","out_trade_no":"A1","refund_fee":-1,"reason":"x"}'),
    (1, '{"request_id":"r4","out_trade_no":"A1","refund_fee":1,"reason":"x"}'),
    (2, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
]
for n, (how, body) in enumerate(requests):
    write("backend_request", f"seed{n}.bin", bytes([how]) + body.encode())
