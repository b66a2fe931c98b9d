const COMMANDS: &[&str] = include!("src/commands/names.in");

fn main() {
    // The configuration lives at the repository root (next to the workspace), not here.
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {error:#}");
    }
}
