//! Notifications through the relay: a production desk (the simulator as WeChat) with no
//! listening port, paired with a relay on a SQLite file in this process; the load posts to the
//! relay's door for the shop, and each notification is timed to its answer (stored on the
//! relay) and to its alert on the desk (read from the relay's stream, verified, stored).

use std::net::SocketAddr;
use std::time::SystemTime;

use desk_runtime::{
    CertificateFiles, DataDir, MerchantSetup, ModeAfterSave, RunningDesk, Secrets, StartOptions,
    Verify, WechatServer, check_setup,
};
use relay::store::Store;
use relay_protocol::{Role, paths};
use wxpay::SignType;
use wxpay_sim::SimConfig;

use crate::error::BenchError;
use crate::intake::{IntakeRun, levels};

fn other<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> BenchError + '_ {
    move |e| BenchError::Other(format!("{what}: {e}"))
}

pub async fn run(
    dir: &std::path::Path,
    connections: &[usize],
    per_level: usize,
) -> Result<Vec<IntakeRun>, BenchError> {
    let sim = wxpay_sim::start(SimConfig::new(dir.join("wechat")))
        .await
        .map_err(other("the simulator"))?;
    let c = sim.credentials().clone();
    desk_runtime::allow_test_servers("desk-bench relay: the simulator is WeChat Pay");
    let desk_dir = DataDir::resolve(Some(dir.join("desk")))?;
    desk_dir.create().map_err(other("the desk's folder"))?;
    let setup = MerchantSetup {
        appid: c.appid.to_string(),
        mch_id: c.mch_id.to_string(),
        sign_type: SignType::Md5,
        api_key: Some(c.api_key.clone()),
        certificate: Some(CertificateFiles::P12(
            std::fs::read(&c.files.cert_p12).map_err(other("the certificate"))?,
        )),
        cert_password: None,
        wechat: WechatServer {
            api_base: Some(sim.info().base_url.clone()),
            extra_ca: Some(c.files.ca_pem.clone()),
        },
    };
    check_setup(setup, Verify::Offline, SystemTime::now())
        .await
        .save(
            &desk_dir,
            &Secrets::file(&desk_dir.secrets_fallback()),
            ModeAfterSave::Production,
        )?;

    let store = relay::SqliteStore::open(&dir.join("relay.sqlite3")).map_err(other("the relay"))?;
    let now = desk_core::unix_now();
    let shop = store
        .add_shop("bench", now)
        .await
        .map_err(other("the relay"))?;
    let code = relay::desks::new_pairing(&store, shop.id, Role::Owner, now)
        .await
        .map_err(other("the relay"))?;
    // The load comes from one address through one shop: the rates would measure themselves.
    let relay = relay::Relay::new(
        store,
        relay::Settings {
            rates: relay::rates::Rates::unlimited(),
            ..relay::Settings::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(other("the relay's port"))?;
    let addr: SocketAddr = listener.local_addr().map_err(other("the relay's port"))?;
    tokio::spawn(async move { relay.serve(listener, std::future::pending()).await });
    desk_runtime::pair_with_relay(
        &desk_dir,
        &format!("http://{addr}"),
        &code.display(),
        "bench",
        None,
        WechatServer::default(),
    )
    .await?;
    let desk = RunningDesk::start(StartOptions::new(desk_dir)).await?;
    let merchant = (c.appid.to_string(), c.mch_id.to_string(), c.api_key.clone());
    let path = paths::for_shop(paths::PAYMENT_NOTIFY, &shop.slug);
    let runs = levels(&desk, addr, &path, &merchant, connections, per_level).await;
    desk.shutdown().await;
    runs
}
