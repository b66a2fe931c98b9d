//! The simulator acting as the real WeChat Pay for a desk in production: started in this test
//! process on its own files, reached by the app through the developer switch
//! (`MERCHANT_DESK_DEV_WECHAT`, trusting the simulator's CA), with the shop's tunnel stand-in in
//! front of the desk's intake so WeChat's notifications reach it at a public `https://` address.

use std::net::SocketAddr;
use std::path::PathBuf;

use wxpay_sim::{LedgerKind, NewOrder, SimConfig, SimHandle, Tunnel};

#[derive(Debug)]
pub struct Wechat {
    sim: SimHandle,
    runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

impl Wechat {
    pub fn start() -> Wechat {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the simulator");
        let dir = tempfile::Builder::new()
            .prefix("merchant-desk-e2e-wechat-")
            .tempdir()
            .expect("a directory for the simulator");
        let mut config = SimConfig::new(dir.path().to_owned());
        config.refund_delay = std::time::Duration::from_secs(2);
        let sim = runtime
            .block_on(wxpay_sim::start(config))
            .expect("the simulator starts");
        Wechat { sim, runtime, dir }
    }

    /// What the app needs to reach it: the developer switch's two variables.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MERCHANT_DESK_DEV_WECHAT", self.sim.info().base_url.clone()),
            (
                "MERCHANT_DESK_DEV_WECHAT_CA",
                self.ca().display().to_string(),
            ),
        ]
    }

    pub fn ca(&self) -> PathBuf {
        self.sim.credentials().files.ca_pem.clone()
    }

    pub fn mch_id(&self) -> String {
        self.sim.info().mch_id.clone()
    }

    pub fn appid(&self) -> String {
        self.sim.info().appid.clone()
    }

    pub fn api_key(&self) -> String {
        self.sim.info().api_key.clone()
    }

    /// `apiclient_cert.p12` as the merchant platform gives it (password: the merchant id).
    pub fn p12(&self) -> PathBuf {
        self.sim.credentials().files.cert_p12.clone()
    }

    pub fn cert_pem(&self) -> PathBuf {
        self.sim.credentials().files.cert_pem.clone()
    }

    /// HTTPS at a loopback port, passed through to `intake`.
    pub fn tunnel_to(&self, intake: SocketAddr) -> Tunnel {
        self.runtime
            .block_on(wxpay_sim::open_tunnel(self.dir.path(), intake))
            .expect("the tunnel opens")
    }

    /// A customer pays `total_fee` fen; WeChat notifies `notify_url`. Returns the order number.
    pub fn pay(&self, total_fee: i64, body: &str, notify_url: &str) -> String {
        let order = self
            .sim
            .create_order(NewOrder {
                total_fee,
                body: Some(body.to_owned()),
                notify_url: Some(notify_url.to_owned()),
                ..Default::default()
            })
            .expect("an order");
        self.sim.pay(&order.out_trade_no).expect("paid");
        order.out_trade_no
    }

    /// The refunds of `out_trade_no` in WeChat's ledger, in fen.
    pub fn refunds_of(&self, out_trade_no: &str) -> Vec<i64> {
        self.sim
            .ledger()
            .iter()
            .filter(|e| e.kind == LedgerKind::Refund && e.out_trade_no == out_trade_no)
            .map(|e| -e.amount)
            .collect()
    }

    /// Every refund in WeChat's ledger (the setup's checks must have made none).
    pub fn refund_count(&self) -> usize {
        self.sim
            .ledger()
            .iter()
            .filter(|e| e.kind == LedgerKind::Refund)
            .count()
    }
}

impl Drop for Wechat {
    fn drop(&mut self) {
        self.sim.shutdown();
    }
}
