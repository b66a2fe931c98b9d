//! The merchant every target speaks as: the documentation's example appid, mch_id and key.

use wxpay::{ApiKey, AppId, MchId, Merchant, SignType};

pub fn merchant() -> Merchant {
    Merchant {
        appid: AppId::new("wxd930ea5d5a258f4f").expect("appid"),
        mch_id: MchId::new("10000100").expect("mch_id"),
        api_key: ApiKey::new("192006250b4c09247ec02edce69f6a2d").expect("key"),
        sign_type: SignType::Md5,
    }
}
