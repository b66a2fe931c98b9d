//! The real app window, driven by clicks through tauri-driver under Xvfb, against the embedded
//! sandbox. Ignored by a plain `cargo test`: `scripts/e2e.sh` runs them with a display, a session
//! bus, a notification daemon and a freshly built app.

use std::time::Duration;

use merchant_desk_e2e::bus::{NotificationDaemon, NotificationMonitor};
use merchant_desk_e2e::desk::{Desk, application};
use merchant_desk_e2e::process;
use merchant_desk_e2e::screen::Screen;

/// A sandbox refund goes PROCESSING → SUCCESS in a few seconds; the desk checks soon after.
const REFUND_SETTLES: Duration = Duration::from_secs(45);

/// Closes the order drawer with its × button, as a user would before going elsewhere.
fn close_order_detail(desk: &Desk) {
    desk.window
        .click("[data-testid=order-detail] .n-base-close");
}

fn row(request: i64) -> String {
    format!("[data-testid=request-{request}]")
}

/// Waits until the queue says `request` is in `state` (switching to that state's tab).
fn wait_for_state(desk: &Desk, tab: &str, request: i64, state: &str) {
    let w = &desk.window;
    w.eventually(
        &format!("request {request} to be {state}"),
        REFUND_SETTLES,
        || {
            w.try_click(&format!("[data-testid=tab-{tab}]"));
            w.is_shown(&format!("{}[data-state={state}]", row(request)))
                .then_some(())
        },
    );
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_request_posted_to_the_intake_is_refunded_by_clicking_and_settles_in_the_ledger() {
    let desk = Desk::launch();
    let w = &desk.window;
    w.wait("[data-testid=sandbox-banner]");

    let order = desk.pay_order(12_800, "抹茶曲奇礼盒 ×2");
    let request = desk.request_refund("e2e-full-1", &order, 5_000, "商品有瑕疵", "李女士");

    // The request appears on its own (no reload) in the pending tab with its amount.
    w.click("[data-testid=tab-pending]");
    assert_eq!(w.text(&format!("[data-testid=amount-{request}]")), "¥50.00");
    let listed = w.text(&row(request));
    assert!(
        listed.contains(&order.out_trade_no) && listed.contains("李女士"),
        "{listed}"
    );

    // Approve the full amount; a second, impatient click on the confirm button sends nothing more.
    w.click(&format!("[data-testid=approve-{request}]"));
    assert_eq!(w.text("[data-testid=refundable]"), "¥128.00");
    w.click("[data-testid=approve-confirm]");
    w.try_click("[data-testid=approve-confirm]");

    wait_for_state(&desk, "succeeded", request, "succeeded");
    assert_eq!(
        desk.refunds_in_ledger(&order.out_trade_no),
        vec![5_000],
        "exactly one refund of ¥50.00 in the simulator's ledger"
    );
    w.wait("[data-testid=count-succeeded][data-count='1']");

    // The order's detail now shows what is left to refund.
    w.click("[data-testid=nav-orders]");
    w.click(&format!("[data-testid=order-{}] td", order.out_trade_no));
    assert_eq!(w.text("[data-testid=detail-refundable]"), "¥78.00");
    w.wait(&format!("[data-testid=detail-request-{request}]"));
    close_order_detail(&desk);

    // The audit log names the approval.
    w.click("[data-testid=nav-audit]");
    w.wait_for_text("[data-testid=audit-table]", &order.out_trade_no);
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_refund_held_for_the_setup_goes_on_once_the_checks_pass() {
    let desk = Desk::launch();
    let w = &desk.window;
    w.wait("[data-testid=sandbox-banner]");
    let order = desk.pay_order(6_600, "桂花乌龙茶 ×1");
    let request = desk.request_refund("e2e-held-1", &order, 6_600, "不想要了", "周先生");
    // WeChat refuses the refund's signature: the desk's API key is wrong.
    desk.inject_fault(serde_json::json!({
        "endpoint": "refund",
        "fault": { "kind": "error", "err_code": "SIGNERROR" },
        "count": 1
    }));
    w.click("[data-testid=tab-pending]");
    w.click(&format!("[data-testid=approve-{request}]"));
    w.click("[data-testid=approve-confirm]");

    // Held, with what to fix, in the window's language; nothing paid.
    wait_for_state(&desk, "attention", request, "held");
    let problem = w.text(&format!("[data-testid=problem-{request}]"));
    assert!(problem.contains("API 密钥不正确"), "{problem}");
    assert!(desk.refunds_in_ledger(&order.out_trade_no).is_empty());

    // The owner fixes the setup and runs the checks; the refund goes on with the same number.
    w.click("[data-testid=nav-settings]");
    w.click("[data-testid=run-doctor]");
    w.wait_for(
        "[data-testid=check-wechat_refund][data-status=ok]",
        REFUND_SETTLES,
    );
    w.click("[data-testid=nav-queue]");
    wait_for_state(&desk, "succeeded", request, "succeeded");
    assert_eq!(desk.refunds_in_ledger(&order.out_trade_no), vec![6_600]);
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_partial_approval_and_a_rejection_by_clicking() {
    let desk = Desk::launch();
    let w = &desk.window;
    let order = desk.pay_order(9_900, "纯棉T恤（白色 L）");
    let partial = desk.request_refund("e2e-partial", &order, 9_900, "尺码不合适", "王先生");

    // The owner refunds ¥30.00 of the ¥99.00 asked; more than the order allows is refused.
    w.click(&format!("[data-testid=approve-{partial}]"));
    w.click("[data-testid=approve-partial]");
    w.type_into("[data-testid=partial-amount]", "120.00");
    w.wait("[data-testid=amount-error]");
    w.type_into("[data-testid=partial-amount]", "30.00");
    w.click("[data-testid=approve-confirm]");
    wait_for_state(&desk, "succeeded", partial, "succeeded");
    assert_eq!(w.text(&format!("[data-testid=amount-{partial}]")), "¥30.00");
    assert_eq!(desk.refunds_in_ledger(&order.out_trade_no), vec![3_000]);

    // A second request is rejected with a reason; no money moves.
    let second = desk.request_refund("e2e-reject", &order, 2_000, "不想要了", "王先生");
    w.click("[data-testid=tab-pending]");
    w.click(&format!("[data-testid=reject-{second}]"));
    w.type_into("[data-testid=reject-reason]", "已超过七天无理由退货期");
    w.click("[data-testid=reject-confirm]");
    wait_for_state(&desk, "rejected", second, "rejected");
    assert!(w.text(&row(second)).contains("已超过七天无理由退货期"));
    assert_eq!(desk.refunds_in_ledger(&order.out_trade_no), vec![3_000]);
}

#[test]
#[ignore = "needs a display, a session bus and dunst: run scripts/e2e.sh"]
fn desktop_notifications_reach_the_session_bus_and_a_click_opens_the_order() {
    let daemon = NotificationDaemon::start();
    let monitor = NotificationMonitor::start();
    let desk = Desk::launch();
    let w = &desk.window;

    let order = desk.pay_order(19_900, "蓝牙耳机");
    let paid = monitor.wait_for("新订单 ¥199.00");
    assert_eq!(paid.app_name, "Merchant Desk");
    assert!(
        paid.body
            .starts_with(&format!("订单 {} · ", order.out_trade_no)),
        "the body names the order and its China time: {:?}",
        paid.body
    );

    // Clicking the notification brings the window to that order.
    daemon.click_first(&monitor, 1);
    w.wait_for_text("[data-testid=order-detail]", &order.out_trade_no);
    close_order_detail(&desk);

    let request = desk.request_refund("e2e-bus", &order, 19_900, "发错货了", "赵女士");
    let asked = monitor.wait_for("退款申请 ¥199.00");
    assert_eq!(
        asked.body,
        format!("订单 {} · 等待审批", order.out_trade_no)
    );
    w.click("[data-testid=nav-queue]");
    w.click(&format!("[data-testid=approve-{request}]"));
    w.click("[data-testid=approve-confirm]");
    let done = monitor.wait_for("退款成功");
    assert_eq!(done.body, format!("订单 {} · ¥199.00", order.out_trade_no));

    // One alert per event: the payment notification was not shown twice.
    let orders = monitor
        .all()
        .into_iter()
        .filter(|n| n.summary.starts_with("新订单"))
        .count();
    assert_eq!(orders, 1);
}

/// The main screens in both languages, for the README (`docs/screenshots/`).
#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn screenshots_of_the_main_screens_in_both_languages() {
    let desk = Desk::launch();
    let w = &desk.window;
    w.resize(1280, 800);

    // A morning's business: paid orders, requests waiting, one refunded, one rejected.
    let goods = [
        (6_800, "手冲咖啡豆 250g"),
        (9_900, "纯棉T恤（白色 L）"),
        (19_900, "蓝牙耳机"),
        (4_580, "抹茶曲奇礼盒"),
        (12_800, "保温杯 500ml ×1"),
        (5_900, "帆布托特包"),
    ];
    let orders: Vec<_> = goods
        .iter()
        .map(|(fee, body)| desk.pay_order(*fee, body))
        .collect();
    let refunded = desk.request_refund("shot-1", &orders[0], 6_800, "商品有瑕疵", "顾客0412");
    let rejected = desk.request_refund("shot-2", &orders[1], 9_900, "不想要了", "顾客2231");
    desk.request_refund("shot-3", &orders[2], 19_900, "发错货了", "顾客7788");
    desk.request_refund("shot-4", &orders[4], 6_400, "尺码不合适", "顾客5120");
    w.click(&format!("[data-testid=approve-{refunded}]"));
    w.click("[data-testid=approve-confirm]");
    w.click(&format!("[data-testid=reject-{rejected}]"));
    w.type_into("[data-testid=reject-reason]", "商品已拆封使用");
    w.click("[data-testid=reject-confirm]");
    wait_for_state(&desk, "succeeded", refunded, "succeeded");
    w.click("[data-testid=acknowledge]");

    for (language, button, title) in [
        ("zh-CN", "lang-zh", "商户退款台"),
        ("en", "lang-en", "Merchant Desk"),
    ] {
        w.click(&format!("[data-testid={button}]"));
        w.wait_for_text("[data-testid=app-title]", title);
        let shoot = |screen: &str| {
            merchant_desk_e2e::readme_screenshot(w, &format!("{language}-{screen}"));
        };
        w.click("[data-testid=nav-queue]");
        w.click("[data-testid=tab-pending]");
        w.wait("[data-testid=count-pending][data-count='2']");
        // The today board above the queue counts the six orders paid above (¥598.80 in all)
        // and one refund (¥68.00), drawn for the screenshot.
        let orders_today: u32 = w
            .text("[data-testid=board-orders]")
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(
            orders_today >= 6,
            "the board counts today's orders: {orders_today}"
        );
        w.wait_for_text("[data-testid=board-refunds]", "¥68.00");
        w.wait("[data-testid=board-chart]");
        shoot("queue");
        w.click("[data-testid=nav-orders]");
        w.click(&format!(
            "[data-testid=order-{}] td",
            orders[0].out_trade_no
        ));
        w.wait("[data-testid=detail-refundable]");
        shoot("order");
        close_order_detail(&desk);
        w.click("[data-testid=nav-settings]");
        w.wait("[data-testid=example-request]");
        shoot("settings");
        w.click("[data-testid=nav-audit]");
        w.wait("[data-testid=audit-table]");
        shoot("audit");
    }
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn the_owner_pin_guards_approval_in_the_window_and_at_the_desk() {
    let desk = Desk::launch();
    let w = &desk.window;

    // The owner sets a PIN and an amount above which every approval asks for it, then locks.
    w.click("[data-testid=nav-settings]");
    w.type_into("[data-testid=new-pin]", "246813");
    w.click("[data-testid=save-pin]");
    w.wait("[data-testid=current-pin]");
    w.type_into("[data-testid=always-ask]", "10.00");
    w.click("[data-testid=save-always-ask]");
    w.wait_for_text("[data-testid=settings]", "¥10.00");
    w.click("[data-testid=lock]");
    w.wait("[data-testid=access-staff]");

    // Staff see the request but cannot act on it, and the desk refuses the command itself, not
    // only the button: invoked directly over IPC, it answers needs_owner.
    let order = desk.pay_order(6_800, "手冲咖啡豆 250g");
    let request = desk.request_refund("e2e-pin", &order, 6_800, "不想要了", "陈先生");
    w.click("[data-testid=nav-queue]");
    w.wait(&row(request));
    assert!(!w.is_shown(&format!("[data-testid=approve-{request}]")));
    let direct = w.execute_async(&format!(
        "const done = arguments[arguments.length - 1];
         window.__TAURI_INTERNALS__.invoke('approve_request', {{ request: {request}, amount: null, pin: null }})
           .then(ok => done({{ ok }}), error => done({{ error }}));"
    ));
    assert_eq!(direct["error"]["code"], "needs_owner", "{direct}");
    assert!(desk.refunds_in_ledger(&order.out_trade_no).is_empty());

    // The desk refuses a wrong PIN (error code wrong_pin, shown in Chinese); the right one unlocks.
    w.click("[data-testid=unlock]");
    w.type_into("[data-testid=pin-input]", "111111");
    w.click("[data-testid=pin-submit]");
    w.wait_for_text("[data-testid=pin-error]", "密码错误");
    w.type_into("[data-testid=pin-input]", "246813");
    w.click("[data-testid=pin-submit]");
    w.wait("[data-testid=access-owner]");

    // ¥68.00 is above ¥10.00: even unlocked, the approval asks for the PIN again.
    w.click(&format!("[data-testid=approve-{request}]"));
    w.click("[data-testid=approve-confirm]");
    w.type_into("[data-testid=pin-input]", "246813");
    w.click("[data-testid=pin-submit]");
    wait_for_state(&desk, "succeeded", request, "succeeded");
    assert_eq!(desk.refunds_in_ledger(&order.out_trade_no), vec![6_800]);
    // The PIN is kept as a salted hash, never as typed.
    let config = std::fs::read_to_string(desk.data_dir().join("config.toml")).expect("config.toml");
    assert!(
        config.contains("pbkdf2-sha256$") && !config.contains("246813"),
        "{config}"
    );

    // The owner lets staff approve up to ¥8.00 without the PIN, then locks.
    w.click("[data-testid=nav-settings]");
    w.type_into("[data-testid=staff-limit]", "8.00");
    w.click("[data-testid=save-staff-limit]");
    w.wait_for_text("[data-testid=settings]", "¥8.00");
    w.click("[data-testid=lock]");
    w.wait_for_text("[data-testid=access-staff]", "¥8.00");
    let big_order = desk.pay_order(6_800, "手冲咖啡豆 250g");
    let big = desk.request_refund("e2e-staff-big", &big_order, 6_800, "不想要了", "陈先生");
    let small_order = desk.pay_order(500, "奶油小方");
    let small = desk.request_refund("e2e-staff-small", &small_order, 500, "少发一件", "王女士");
    w.click("[data-testid=nav-queue]");
    w.wait(&row(small));
    // Above the limit the desk refuses staff (asked directly, as the button would).
    let direct = w.execute_async(&format!(
        "const done = arguments[arguments.length - 1];
         window.__TAURI_INTERNALS__.invoke('approve_request', {{ request: {big}, amount: null, pin: null }})
           .then(ok => done({{ ok }}), error => done({{ error }}));"
    ));
    assert_eq!(direct["error"]["code"], "needs_owner", "{direct}");
    assert!(
        direct["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("staff")),
        "{direct}"
    );
    assert!(desk.refunds_in_ledger(&big_order.out_trade_no).is_empty());
    // Within it, staff approve with a click and no PIN.
    w.click(&format!("[data-testid=approve-{small}]"));
    w.click("[data-testid=approve-confirm]");
    wait_for_state(&desk, "succeeded", small, "succeeded");
    assert_eq!(desk.refunds_in_ledger(&small_order.out_trade_no), vec![500]);
    assert!(!w.is_shown("[data-testid=pin-dialog] [data-testid=pin-input]"));
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn a_first_start_lands_in_the_sandbox_where_demo_orders_and_requests_arrive() {
    let desk = Desk::launch_with_demo(Some(1));
    let w = &desk.window;
    assert_eq!(w.text("[data-testid=mode-tag]"), "沙箱");
    w.wait("[data-testid=sandbox-banner]");
    // Orders paid every second; about one in five is followed by a refund request.
    w.wait_for(
        "[data-testid=count-pending]:not([data-count='0'])",
        Duration::from_secs(60),
    );
    w.click("[data-testid=nav-orders]");
    w.wait("[data-testid^=order-SIM]");
}

/// Everything the window receives over IPC, and everything it shows, during a session with a
/// refund and every screen visited: the API key (and the md5 of it that decrypts refund
/// notifications) appears in none of it.
#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn the_api_key_never_reaches_the_window() {
    let desk = Desk::launch();
    let w = &desk.window;
    // Record every command's answer (and error) as the window receives it.
    // Record every command's answer (and error) as the window receives it (the window's own
    // opt-in trace; Tauri's invoke itself cannot be wrapped).
    w.execute("window.__DESK_IPC_TRACE__ = [];");
    let order = desk.pay_order(4_580, "抹茶曲奇礼盒");
    let request = desk.request_refund("e2e-secret", &order, 4_580, "商品有瑕疵", "周女士");
    w.click("[data-testid=nav-queue]");
    w.click(&format!("[data-testid=approve-{request}]"));
    w.click("[data-testid=approve-confirm]");
    wait_for_state(&desk, "succeeded", request, "succeeded");
    w.click("[data-testid=nav-orders]");
    w.click(&format!("[data-testid=order-{}] td", order.out_trade_no));
    w.wait("[data-testid=detail-refundable]");
    close_order_detail(&desk);
    w.click("[data-testid=nav-audit]");
    w.click("[data-testid=tab-exchanges]");
    w.wait_for_text("[data-testid=exchange-table]", "refund");
    w.click("[data-testid=nav-settings]");
    w.wait("[data-testid=example-request]");

    let log: Vec<String> =
        serde_json::from_value(w.execute("return window.__DESK_IPC_TRACE__")).unwrap();
    assert!(
        log.iter()
            .any(|entry| entry.starts_with("exchange_log ") && entry.contains("out_refund_no")),
        "the exchange log reached the window: {log:?}"
    );
    let shown = w.execute(
        "return document.body.innerText + ' ' +
           [...document.querySelectorAll('input, textarea')].map(e => e.value).join(' ')",
    );
    let shown = shown.as_str().unwrap_or_default();
    for (what, secret) in desk.secrets() {
        for entry in &log {
            assert!(!entry.contains(&secret), "{what} in the IPC answer {entry}");
        }
        assert!(!shown.contains(&secret), "{what} is shown in the window");
    }
}

#[test]
#[ignore = "needs a display and tauri-driver: run scripts/e2e.sh"]
fn the_window_shows_the_page_on_the_display_without_a_gl_driver_of_its_own() {
    let desk = Desk::launch();
    let w = &desk.window;
    let tree = process::tree(&application());
    let app = tree.first().expect("the app's process").0;
    let gl: Vec<String> = process::mapped_files(app)
        .into_iter()
        .filter(|file| file.contains("/dri/") || file.contains("libLLVM") || file.contains("_mesa"))
        .collect();
    assert!(
        gl.is_empty(),
        "the window's process maps a GL driver: {gl:?}"
    );

    // The page paints a 200 × 100 block of a colour the desk never uses: the X screen shows
    // it, then, once it is gone, no longer (the window follows the page, not one old frame).
    const MAGENTA: u32 = 0xff00ff;
    w.execute(
        "const block = document.createElement('div'); block.id = '__display_check'; \
         block.style.cssText = 'position:fixed;left:40px;top:300px;width:200px;height:100px;\
           background:#ff00ff;z-index:10000'; document.body.append(block);",
    );
    w.eventually("the block on the X screen", Duration::from_secs(10), || {
        (Screen::capture().count(MAGENTA) >= 19_000).then_some(())
    });
    w.execute("document.getElementById('__display_check').remove();");
    w.eventually(
        "the block gone from the X screen",
        Duration::from_secs(10),
        || (Screen::capture().count(MAGENTA) == 0).then_some(()),
    );
}
