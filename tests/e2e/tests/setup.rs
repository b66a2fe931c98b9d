//! Going live in the real window, from an empty data folder, against the simulator acting as
//! WeChat Pay (reached through the developer switch): the guided setup timed from the first
//! click to production and the first real refund; and a certificate change that fails its checks
//! leaving the working setup as it was. Ignored by a plain `cargo test`: `scripts/e2e.sh` runs
//! them with a display and a session bus.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use merchant_desk_e2e::desk::{Desk, PaidOrder};
use merchant_desk_e2e::wechat::Wechat;

/// A sandbox refund goes PROCESSING → SUCCESS in a few seconds; the desk checks soon after.
const REFUND_SETTLES: Duration = Duration::from_secs(45);
/// The checks ask WeChat; a busy machine may take a while over them.
const CHECKS: Duration = Duration::from_secs(60);
/// What a new user should need, clicks and typing included.
const TARGET: Duration = Duration::from_secs(300);

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_new_shop_goes_live_through_the_guide_and_its_first_refund_is_paid_once() {
    let wechat = Wechat::start();
    let listen = free_address();
    let desk = Desk::launch_for(&wechat, listen);
    let w = &desk.window;
    w.resize(1280, 800);
    w.wait("[data-testid=sandbox-banner]");
    // The shop's tunnel: the public https:// address WeChat will call.
    let tunnel = wechat.tunnel_to(listen);

    let started = Instant::now();
    w.click("[data-testid=banner-setup]");
    // 商户号和 AppID: a typo first, named with where to look.
    w.type_into("[data-testid=setup-mch-id]", "19000x");
    w.type_into("[data-testid=setup-appid]", &wechat.appid());
    w.click("[data-testid=setup-next]");
    w.wait_for_text("[data-testid=finding-merchant]", "账户中心 → 商户信息");
    w.type_into("[data-testid=setup-mch-id]", &wechat.mch_id());
    w.click("[data-testid=setup-next]");
    // API 密钥: checked with a signed query. The APIv3 key by mistake first: WeChat refuses the
    // signature, and the window says where the right one is (the README's screenshots).
    w.wait("[data-testid=setup-key]");
    w.type_into("[data-testid=setup-api-key]", &"0".repeat(32));
    w.click("[data-testid=setup-next]");
    w.wait_for_text("[data-testid=finding-wechat_signature]", "API 密钥不正确");
    merchant_desk_e2e::readme_screenshot(w, "zh-CN-setup");
    w.click("[data-testid=lang-en]");
    w.wait_for_text(
        "[data-testid=finding-wechat_signature]",
        "the API key is wrong",
    );
    merchant_desk_e2e::readme_screenshot(w, "en-setup");
    w.click("[data-testid=lang-zh]");
    w.type_into("[data-testid=setup-api-key]", &wechat.api_key());
    w.click("[data-testid=setup-next]");
    // API 证书: checked where refunds go, then saved.
    w.wait_for("[data-testid=setup-certificate]", CHECKS);
    w.choose_file("[data-testid=setup-p12]", &wechat.p12());
    w.click("[data-testid=setup-next]");
    // 接收地址: reached from outside through the tunnel.
    w.wait_for("[data-testid=setup-intake]", CHECKS);
    w.type_into("[data-testid=setup-public-url]", &tunnel.url);
    w.click("[data-testid=setup-test-intake]");
    w.wait_for("[data-testid=check-intake][data-status=ok]", CHECKS);
    w.click("[data-testid=setup-next]");
    // 测试: the sandbox's ¥0.01 refund, step by step, then production.
    w.click("[data-testid=setup-trial]");
    w.wait_for("[data-testid=setup-trial-done]", REFUND_SETTLES);
    w.click("[data-testid=setup-go-live]");
    w.click("[data-testid=dialog-confirm]");
    w.wait_for("[data-testid=setup-live]", CHECKS);
    w.wait_for_text("[data-testid=mode-tag]", "正式环境");
    w.click("[data-testid=setup-finish]");
    let took = started.elapsed();
    println!(
        "guided setup: {:.1} s of clicks and checks from the sandbox to production (target {} s)",
        took.as_secs_f64(),
        TARGET.as_secs()
    );
    assert!(took < TARGET, "the guided setup took {took:?}");
    assert_eq!(wechat.refund_count(), 0, "no check moved money");

    // The first real refund: paid, asked for by the backend, approved by clicking, paid once.
    let out_trade_no = wechat.pay(
        2_990,
        "桂花乌龙茶 ×2",
        &format!("{}/wxpay/notify", tunnel.url),
    );
    let order = PaidOrder {
        out_trade_no: out_trade_no.clone(),
        total_fee: 2_990,
    };
    let intake = (format!("http://{listen}"), desk.production_secret());
    let request = desk.request_refund_at(&intake, "live-1", &order, 2_990, "不想要了", "陈女士");
    w.click("[data-testid=tab-pending]");
    w.click(&format!("[data-testid=approve-{request}]"));
    w.click("[data-testid=approve-confirm]");
    w.eventually("the first real refund to succeed", REFUND_SETTLES, || {
        w.try_click("[data-testid=tab-succeeded]");
        w.is_shown(&format!(
            "[data-testid=request-{request}][data-state=succeeded]"
        ))
        .then_some(())
    });
    assert_eq!(wechat.refunds_of(&out_trade_no), vec![2_990]);
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_certificate_change_that_fails_its_checks_leaves_the_working_setup() {
    let wechat = Wechat::start();
    let desk = Desk::launch_for(&wechat, free_address());
    let w = &desk.window;
    w.click("[data-testid=nav-settings]");
    let fill_merchant = || {
        w.type_into("[data-testid=appid]", &wechat.appid());
        w.type_into("[data-testid=mch-id]", &wechat.mch_id());
        w.type_into("[data-testid=api-key]", &wechat.api_key());
    };

    // From an empty data folder: the merchant's .p12 as downloaded.
    fill_merchant();
    w.choose_file("[data-testid=p12-file]", &wechat.p12());
    w.click("[data-testid=save-merchant]");
    w.wait_for("[data-testid=check-wechat_refund][data-status=ok]", CHECKS);
    let certificates = desk.data_dir().join("certificates");
    let working = files_under(&certificates);
    assert_eq!(working.len(), 1, "{working:?}");
    let config = std::fs::read_to_string(desk.data_dir().join("config.toml")).unwrap();

    // The same file with a wrong password: refused, nothing changes.
    fill_merchant();
    w.choose_file("[data-testid=p12-file]", &wechat.p12());
    w.type_into("[data-testid=cert-password]", "not-the-password");
    w.click("[data-testid=save-merchant]");
    w.wait_for(
        "[data-testid=check-certificate][data-status=failed]",
        CHECKS,
    );
    w.wait_for_text("[data-testid=finding-certificate]", "证书密码不正确");

    // A PEM pair that does not belong together (the sandbox merchant's key): refused too.
    let sandbox: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(desk.data_dir().join("sandbox-credentials.json")).unwrap(),
    )
    .unwrap();
    let stranger_key = sandbox["files"]["key_pem"].as_str().unwrap().to_owned();
    fill_merchant();
    w.click("[data-testid=cert-kind-pem]");
    w.choose_file("[data-testid=cert-pem-file]", &wechat.cert_pem());
    w.choose_file(
        "[data-testid=key-pem-file]",
        std::path::Path::new(&stranger_key),
    );
    w.click("[data-testid=save-merchant]");
    w.wait_for_text("[data-testid=finding-certificate]", "不是一对");

    // The working setup is as it was, and still passes every check.
    assert_eq!(files_under(&certificates), working);
    assert_eq!(
        std::fs::read_to_string(desk.data_dir().join("config.toml")).unwrap(),
        config
    );
    w.click("[data-testid=run-doctor]");
    w.wait_for("[data-testid=check-wechat_refund][data-status=ok]", CHECKS);
    assert!(!w.is_shown("[data-testid=checks] [data-status=failed]"));
    assert_eq!(wechat.refund_count(), 0, "no check moved money");
}

fn files_under(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}
