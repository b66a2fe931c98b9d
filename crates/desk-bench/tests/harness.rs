//! The benchmarks' harnesses at a small size: what they measure must also be right. Under
//! concurrent load every notification is stored once with one alert; every approved refund is
//! paid once.

use desk_bench::{intake, refunds};

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn concurrent_notifications_are_each_stored_once_with_one_alert() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runs = runtime()
        .block_on(intake::run(dir.path(), &[1, 16], 300))
        .expect("the intake run");
    for run in runs {
        assert_eq!(run.refused, 0, "{} connections", run.connections);
        assert_eq!(run.stored, 300);
        assert_eq!(run.alerts, 300);
        assert_eq!(run.latencies.len(), 300);
        assert_eq!(run.alert_latencies.len(), 300);
    }
}

#[test]
fn approved_refunds_are_each_paid_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let run = runtime()
        .block_on(refunds::run(dir.path(), 30, 1_000))
        .expect("the refund run");
    assert_eq!(run.in_ledger, 30);
    assert_eq!(run.refund_calls, 30, "no refund was sent twice");
}
