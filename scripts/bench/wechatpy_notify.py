"""Parse + verify of payment notifications with wechatpy, the reference peer of the protocol
benchmark (run by `desk-bench protocol`, which passes the same bodies the desk parses).

MD5: wechatpy's own WeChatPay.parse_payment_result. HMAC-SHA256: parse_payment_result only knows
MD5, so the same steps (xmltodict, pop the sign, wechatpy's calculate_signature_hmac, compare, the
integer fields) are spelled out here. Prints one JSON object: microseconds per notification.
"""
import json
import sys
import time

import xmltodict
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature_hmac

appid, mch_id, api_key, md5_path, hmac_path = sys.argv[1:6]
pay = WeChatPay(appid=appid, api_key=api_key, mch_id=mch_id)


def parse_hmac(xml):
    data = xmltodict.parse(xml)["xml"]
    sign = data.pop("sign", None)
    if sign != calculate_signature_hmac(data, api_key):
        raise ValueError("signature")
    for key in ("total_fee", "settlement_total_fee", "cash_fee", "coupon_fee", "coupon_count"):
        if key in data:
            data[key] = int(data[key])
    data["sign"] = sign
    return data


def best_micros(parse, body, rounds=5, per_round=20000):
    for _ in range(1000):
        parse(body)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            parse(body)
        best = min(best, (time.perf_counter() - start) / per_round * 1e6)
    return best


md5_body = open(md5_path, encoding="utf-8").read()
hmac_body = open(hmac_path, encoding="utf-8").read()
assert pay.parse_payment_result(md5_body)["total_fee"] == 12800
assert parse_hmac(hmac_body)["total_fee"] == 12800
print(json.dumps({
    "md5": best_micros(pay.parse_payment_result, md5_body),
    "hmac_sha256": best_micros(parse_hmac, hmac_body),
    "python": sys.version.split()[0],
}))
