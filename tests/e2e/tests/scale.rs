//! The UI scale and footprint benchmark (`./scripts/bench.sh ui`): the real app, built in
//! release, on a data directory holding 100,000 refund requests, under Xvfb. It prints a
//! Markdown table for BENCHMARKS.md; its assertions only check that the window showed what it
//! measured (a page of rows, the search's matches), not how fast.
//!
//! - cold start to interactive: from the app process's start (its start time in /proc) to the
//!   queue's first rows painted (the window's `queue-first-render` mark, in wall-clock time);
//! - first paint: the same mark from the page's own start (`performance.timeOrigin`);
//! - filter and search: the window's `queue-update` measures, from a change of tab or search
//!   to its rows painted;
//! - idle memory: resident and proportional set sizes of the app and its WebKit processes after
//!   ten quiet seconds.

use std::time::Duration;

use merchant_desk_e2e::desk::{Desk, application};
use merchant_desk_e2e::process;
use serde_json::Value;

/// How many requests to seed: 100,000, or `UI_BENCH_REQUESTS` (a small queue shows the
/// window's own baseline).
fn requests() -> usize {
    std::env::var("UI_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn ms(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// Unix time (ms) when process `pid` started.
fn process_start_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the app's stat");
    // Field 22 (starttime, clock ticks since boot), counted after the command's closing paren.
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let ticks: f64 = after
        .split(' ')
        .nth(19)
        .and_then(|f| f.parse().ok())
        .expect("starttime");
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .expect("/proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        .expect("btime");
    // USER_HZ is 100 on Linux.
    (boot + ticks / 100.0) * 1000.0
}

#[test]
#[ignore = "a benchmark: run ./scripts/bench.sh ui"]
fn a_queue_of_100000_requests_in_the_real_window() {
    // ...or of UI_BENCH_REQUESTS.
    let data = Desk::new_data_dir();
    let count = requests();
    let shop = desk_bench::seed::Shop {
        orders: count,
        requests: count,
    };
    desk_bench::seed::seed(&data.path().join("desk.sqlite3"), shop, now())
        .expect("the queue is seeded");
    let desk = Desk::launch_in(data, None);
    let w = &desk.window;
    w.resize(1280, 800);
    w.wait(".queue-row");
    let (first_paint, painted_at) =
        w.eventually("the first render mark", Duration::from_secs(30), || {
            let entry = w.execute(
                "const e = performance.getEntriesByName('queue-first-render')[0]; \
                 return e ? [e.startTime, performance.timeOrigin + e.startTime] : null;",
            );
            entry.as_array().map(|a| (ms(&a[0]), ms(&a[1])))
        });
    let app = application();
    let tree = process::tree(&app);
    let main = tree.first().expect("the app's process").0;
    let cold_start = painted_at - process_start_ms(main);
    // The first page is loaded; virtual scrolling puts only the rows in view in the page.
    let shown = w.text("[data-testid=queue-shown]");
    let pending = w
        .execute("return document.querySelector('[data-testid=count-pending]').dataset.count;")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        shown,
        format!("已显示 100 / 共 {pending} 条"),
        "the first page of the pending tab"
    );
    let rows = w.execute("return document.querySelectorAll('.queue-row').length;");
    assert!(
        rows.as_u64().is_some_and(|n| n > 5),
        "rows are on screen: {rows}"
    );

    // Each change of tab or search, timed by the window until its rows are painted.
    let mut updates = Vec::new();
    let measure = |what: &str, action: &dyn Fn()| {
        let before = w
            .execute("return performance.getEntriesByName('queue-update').length;")
            .as_u64()
            .unwrap_or(0);
        action();
        let took = w.eventually(what, Duration::from_secs(30), || {
            let entries = w.execute(
                "return [performance.getEntriesByName('queue-update').map(e => e.duration), \
                         performance.getEntriesByName('queue-fetch').map(e => e.duration), \
                         performance.getEntriesByName('queue-dom').map(e => e.duration)];",
            );
            let updates = entries[0].as_array()?;
            if updates.len() as u64 > before {
                Some((
                    ms(updates.last()?),
                    ms(entries[1].as_array()?.last()?),
                    ms(entries[2].as_array()?.last()?),
                ))
            } else {
                None
            }
        });
        (what.to_owned(), took)
    };
    // Twice round the tabs: the first visit of each pays for compiling its code in the
    // window's JavaScript engine, the second is what a shop owner feels all day.
    for round in ["first", "again"] {
        for tab in [
            "succeeded",
            "working",
            "attention",
            "all",
            "rejected",
            "pending",
        ] {
            updates.push(measure(&format!("tab {tab}, {round}"), &|| {
                w.click(&format!("[data-testid=tab-{tab}]"))
            }));
        }
    }
    let search = |text: String| {
        move || {
            w.execute(&format!(
                "const input = document.querySelector('[data-testid=queue-search] input'); \
                 input.value = '{text}'; input.dispatchEvent(new Event('input', {{ bubbles: true }}));"
            ));
        }
    };
    // Ten of the newest orders, four of them with a pending request (the seed's mix).
    let ten = desk_bench::seed::order_no(count - 20);
    updates.push(measure(
        "search ten orders",
        &search(ten[..ten.len() - 1].to_owned()),
    ));
    let found = w.execute("return document.querySelectorAll('.queue-row').length;");
    assert!(
        found.as_u64().is_some_and(|n| (1..=10).contains(&n)),
        "the search shows the pending requests of ten orders: {found}"
    );
    updates.push(measure(
        "search every order",
        &search("SEED00000".to_owned()),
    ));
    updates.push(measure("search cleared", &search(String::new())));

    // The IPC alone: twenty calls of the cheapest command (ten rows from the desk), one after
    // another, while the window is idle.
    let ipc = w.execute_async(
        "const done = arguments[arguments.length - 1]; \
         (async () => { const times = []; \
           for (let i = 0; i < 20; i++) { const t = performance.now(); \
             await window.__TAURI_INTERNALS__.invoke('queue_counts'); times.push(performance.now() - t); } \
           times.sort((a, b) => a - b); done([times[10], times[19]]); })();",
    );
    let (ipc_median, ipc_max) = (ms(&ipc[0]), ms(&ipc[1]));

    std::thread::sleep(Duration::from_secs(10));
    let mut memory = Vec::new();
    for (pid, name) in process::tree(&app) {
        let (rss, pss) = process::memory_mb(pid);
        if rss > 0.0 {
            memory.push((name, rss, pss));
        }
    }

    println!("\n| {count} refund requests ({pending} pending; {rows} rows in the page) | |");
    println!("|---|---|");
    println!(
        "| cold start to interactive (process start → first rows painted) | {cold_start:.0} ms |"
    );
    println!(
        "| first paint of the queue (page start → first rows painted) | {first_paint:.0} ms |"
    );
    println!(
        "| an IPC round trip (queue_counts), idle: median / max of 20 | {ipc_median:.1} / {ipc_max:.1} ms |"
    );
    for (what, (took, fetch, dom)) in &updates {
        println!(
            "| {what} (to rows painted) | {took:.0} ms (answer after {fetch:.0}, DOM after {dom:.0} ms) |"
        );
    }
    let (rss, pss): (f64, f64) = memory
        .iter()
        .fold((0.0, 0.0), |a, m| (a.0 + m.1, a.1 + m.2));
    for (name, r, p) in &memory {
        println!("| idle memory: {name} | RSS {r:.0} MB, PSS {p:.0} MB |");
    }
    println!("| idle memory, all processes | RSS {rss:.0} MB, PSS {pss:.0} MB |");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
