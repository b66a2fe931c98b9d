//! The real keyring: Secret Service on the session bus (gnome-keyring). Ignored by a plain
//! `cargo test` because it needs a session bus with an unlocked keyring; `scripts/test.sh` runs
//! it under `dbus-run-session` with a fresh gnome-keyring (see `scripts/keyring-test.sh`).

#![allow(clippy::unwrap_used)]

use desk_runtime::{SecretBackend, SecretKind, Secrets};

#[test]
#[ignore = "needs a session bus with an unlocked Secret Service: run scripts/keyring-test.sh"]
fn secrets_live_in_the_session_keyring() {
    let temp = tempfile::tempdir().unwrap();
    let fallback = temp.path().join("secrets.json");
    let (secrets, warning) = Secrets::best_available(&fallback);
    assert_eq!(warning, None, "a keyring answered");
    assert_eq!(secrets.backend(), SecretBackend::Keyring);

    let mch_id = format!("19{}", std::process::id());
    let key = "K".repeat(32);
    secrets.set(&mch_id, SecretKind::ApiKey, &key).unwrap();
    secrets
        .set(&mch_id, SecretKind::CertPassword, "p12-password")
        .unwrap();
    // Another handle (as after a restart) reads what was stored.
    let again = Secrets::open(SecretBackend::Keyring, &fallback, &mch_id).unwrap();
    assert_eq!(again.api_key(&mch_id).unwrap().unwrap().expose(), key);
    assert_eq!(
        again.cert_password(&mch_id).unwrap().unwrap().expose(),
        "p12-password"
    );
    assert!(!fallback.exists(), "nothing went to the fallback file");
    again.delete(&mch_id, SecretKind::ApiKey).unwrap();
    again.delete(&mch_id, SecretKind::CertPassword).unwrap();
    assert!(again.api_key(&mch_id).unwrap().is_none());
}

#[test]
#[ignore = "runs with no session bus at all: scripts/keyring-test.sh"]
fn without_a_keyring_secrets_fall_back_to_the_file_with_a_warning() {
    let temp = tempfile::tempdir().unwrap();
    let fallback = temp.path().join("secrets.json");
    let (secrets, warning) = Secrets::best_available(&fallback);
    assert_eq!(secrets.backend(), SecretBackend::File);
    let warning = warning.unwrap().to_string();
    assert!(
        warning.contains("secrets.json") && warning.contains("readable only"),
        "{warning}"
    );
    let error = Secrets::open(SecretBackend::Keyring, &fallback, "1900000109")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unlock the keyring"), "{error}");
}
