//! Shared by the desk-core integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use desk_core::Approver;
use wxpay::{Merchant, SignType};
use wxpay_client::{ClientIdentity, HttpsSettings, HttpsTransport, WxPayClient, default_password};
use wxpay_sim::SimHandle;

/// The owner, approving without a limit.
pub fn owner() -> Approver {
    Approver {
        name: "owner".into(),
        limit: None,
    }
}

/// A client set up as the app sets it up for the sandbox: the simulator's CA as an extra root,
/// the merchant's `.p12` with the default password.
pub fn client_for(sim: &SimHandle, sign_type: SignType) -> WxPayClient<HttpsTransport> {
    let c = sim.credentials();
    let merchant = Merchant {
        appid: c.appid.clone(),
        mch_id: c.mch_id.clone(),
        api_key: c.api_key.clone(),
        sign_type,
    };
    WxPayClient::new(merchant, transport_for(sim, Duration::from_secs(3)))
}

/// The simulator's HTTPS transport alone, giving up on an answer after `timeout`.
pub fn transport_for(sim: &SimHandle, timeout: Duration) -> HttpsTransport {
    let c = sim.credentials();
    let identity =
        ClientIdentity::from_pkcs12_file(&c.files.cert_p12, &default_password(&c.mch_id)).unwrap();
    let settings = HttpsSettings {
        base_url: sim.info().base_url.clone(),
        identity: Some(identity),
        request_timeout: timeout,
        ..HttpsSettings::default()
    }
    .with_extra_root_ca_file(&c.files.ca_pem)
    .unwrap();
    HttpsTransport::new(settings, SystemTime::now()).unwrap()
}
