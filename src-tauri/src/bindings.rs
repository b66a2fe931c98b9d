//! The TypeScript types of every value that crosses the IPC boundary, generated from the Rust
//! types into `ui/src/ipc/bindings.ts`. The test fails when the committed file is stale; run it
//! with `UPDATE_BINDINGS=1` to rewrite the file.

use ts_rs::{Config, TS};

use crate::commands::{orders, queue, relay, settings, setup, status};

fn render() -> String {
    let config = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by `src-tauri/src/bindings.rs`; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p merchant-desk bindings\n\
         // Amounts are integer fen; times are Unix seconds.\n\n",
    );
    macro_rules! declare {
        ($($ty:ty),* $(,)?) => {$(
            out.push_str("export ");
            out.push_str(&<$ty as TS>::decl(&config));
            out.push_str("\n\n");
        )*};
    }
    declare!(
        wxpay::Fen,
        desk_core::QueueState,
        desk_core::RefundState,
        desk_core::RequestState,
        desk_core::Problem,
        desk_core::RefundView,
        desk_core::QueueItem,
        desk_core::QueueCount,
        desk_core::Order,
        desk_core::ApprovedRefund,
        desk_core::DeskEvent,
        desk_core::AuditEntry,
        desk_core::ExchangeEntry,
        desk_core::DayBoard,
        desk_core::Alarm,
        desk_core::AlarmCause,
        desk_core::Door,
        desk_core::Refusal,
        desk_core::RefusalCount,
        desk_runtime::Mode,
        desk_runtime::LinkProblem,
        desk_runtime::StartWarning,
        desk_runtime::SecretBackend,
        desk_runtime::Language,
        desk_runtime::AccessStatus,
        desk_runtime::AlertSettings,
        desk_runtime::QuietHours,
        desk_runtime::AlertKind,
        desk_runtime::AlertTarget,
        desk_runtime::Alert,
        desk_runtime::Check,
        desk_runtime::CheckName,
        desk_runtime::Finding,
        desk_runtime::CertificateProblem,
        desk_runtime::ReachProblem,
        desk_runtime::Status,
        desk_core::Code,
        crate::error::IpcError,
        status::AppStatus,
        queue::RequestDetail,
        queue::BatchOutcome,
        orders::OrderDetail,
        orders::ManualRefundInput,
        settings::SettingsView,
        settings::MerchantView,
        settings::IntakeView,
        relay::RelayView,
        relay::RelayInvite,
        setup::CertificateInput,
        setup::MerchantInput,
        setup::SaveOutcome,
    );
    let names: Vec<String> = crate::commands::NAMES
        .iter()
        .map(|name| format!("  | \"{name}\""))
        .collect();
    out.push_str(&format!(
        "/** Every command the window may invoke. */\nexport type Command =\n{};\n",
        names.join("\n")
    ));
    out
}

#[test]
fn bindings_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc/bindings.ts");
    let fresh = render();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/ipc/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p merchant-desk bindings` and commit it"
    );
}
