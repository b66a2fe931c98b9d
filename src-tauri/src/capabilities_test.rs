//! The main window may call exactly the commands the UI uses: every command has its
//! `allow-…` permission in `capabilities/main.json`, nothing else is granted but event
//! listening, and the UI's IPC module calls every command (no permission without a user).

use std::collections::BTreeSet;

use crate::commands::NAMES;

fn read(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn the_main_window_is_granted_exactly_the_commands() {
    let capability: serde_json::Value = serde_json::from_str(&read("capabilities/main.json"))
        .expect("capabilities/main.json is JSON");
    assert_eq!(
        capability["windows"],
        serde_json::json!(["main"]),
        "only the main window"
    );
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("a permissions list")
        .iter()
        .map(|p| p.as_str().expect("permission names").to_owned())
        .collect();
    let mut expected: BTreeSet<String> = NAMES
        .iter()
        .map(|name| format!("allow-{}", name.replace('_', "-")))
        .collect();
    expected.insert("core:event:allow-listen".into());
    expected.insert("core:event:allow-unlisten".into());
    assert_eq!(granted, expected);
}

#[test]
fn the_ui_calls_every_command() {
    let ipc = read("../ui/src/ipc/index.ts");
    for name in NAMES {
        assert!(
            ipc.contains(&format!("\"{name}\"")),
            "ui/src/ipc/index.ts never calls {name}: remove the command or use it"
        );
    }
}
