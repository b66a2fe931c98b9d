//! Setting a merchant up and checking it, against the simulator acting as WeChat: what the
//! doctor names for each mistake, setup refusing what the doctor would fail (before saving
//! anything), and a failed setup leaving the working one as it was.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use desk_core::Problem;
use desk_runtime::*;
use wxpay::{ApiKey, CertPassword, SignType};
use wxpay_sim::{LedgerKind, SimConfig, SimHandle, open_tunnel};

struct World {
    sim: SimHandle,
    dir: DataDir,
    secrets: Secrets,
    temp: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let temp = tempfile::tempdir().unwrap();
        let sim = wxpay_sim::start(SimConfig::new(temp.path().join("wechat")))
            .await
            .unwrap();
        let dir = DataDir::resolve(Some(temp.path().join("desk"))).unwrap();
        let secrets = Secrets::file(&dir.secrets_fallback());
        World {
            sim,
            dir,
            secrets,
            temp,
        }
    }

    /// The simulated merchant's setup, with its `.p12` as WeChat ships it.
    fn setup(&self) -> MerchantSetup {
        desk_runtime::allow_test_servers("the simulator as WeChat Pay, in tests");
        let credentials = self.sim.credentials();
        MerchantSetup {
            appid: credentials.appid.to_string(),
            mch_id: credentials.mch_id.to_string(),
            sign_type: SignType::Md5,
            api_key: Some(credentials.api_key.clone()),
            certificate: Some(CertificateFiles::P12(
                std::fs::read(&credentials.files.cert_p12).unwrap(),
            )),
            cert_password: None,
            wechat: WechatServer {
                api_base: Some(self.sim.info().base_url.clone()),
                extra_ca: Some(credentials.files.ca_pem.clone()),
            },
        }
    }

    fn mch_id(&self) -> String {
        self.sim.info().mch_id.clone()
    }

    async fn save(&self, setup: MerchantSetup) -> Result<Config, Vec<Check>> {
        let checked = check_setup(setup, Verify::Live, SystemTime::now()).await;
        if !checked.passed() {
            return Err(checked.into_checks());
        }
        Ok(checked
            .save(&self.dir, &self.secrets, ModeAfterSave::Production)
            .unwrap())
    }

    fn refunds_in_ledger(&self) -> usize {
        self.sim
            .ledger()
            .iter()
            .filter(|e| e.kind == LedgerKind::Refund)
            .count()
    }
}

/// A certificate WeChat never issued: self-signed, its own key, the merchant id as its name.
fn self_signed(mch_id: &str) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, mch_id);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
}

fn find(checks: &[Check], name: CheckName) -> &Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name:?} check in {checks:#?}"))
}

fn statuses(checks: &[Check]) -> Vec<(CheckName, Status)> {
    checks.iter().map(|c| (c.name, c.status)).collect()
}

fn files_under(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                found.extend(files_under(&entry.path()));
            } else {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_certificate_wechat_never_issued_fails_where_refunds_go() {
    let world = World::new().await;
    let (cert, key) = self_signed(&world.mch_id());
    let mut setup = world.setup();
    setup.certificate = Some(CertificateFiles::Pem { cert, key });

    let checked = check_setup(setup.clone(), Verify::Live, SystemTime::now()).await;
    let checks = checked.checks();
    // On this computer it looks right, and the query (no certificate) passes: only a question
    // on the refund path shows WeChat does not take it.
    assert_eq!(
        statuses(checks),
        [
            (CheckName::Merchant, Status::Ok),
            (CheckName::ApiKey, Status::Ok),
            (CheckName::WechatSignature, Status::Ok),
            (CheckName::Certificate, Status::Ok),
            (CheckName::CertificateExpiry, Status::Ok),
            (CheckName::CertificateMerchant, Status::Ok),
            (CheckName::WechatRefund, Status::Failed),
        ],
        "{checks:#?}"
    );
    match &find(checks, CheckName::WechatRefund).finding {
        Finding::WechatRefused { problem, wechat } => {
            assert_eq!(*problem, Problem::CertificateRejected);
            assert!(wechat.contains("The SSL certificate error"), "{wechat}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!checked.passed());
    let error = checked
        .save(&world.dir, &world.secrets, ModeAfterSave::Production)
        .unwrap_err();
    assert!(matches!(error, RuntimeError::SetupNotChecked), "{error}");
    assert!(!world.dir.root().exists(), "nothing was written");

    // Saved offline anyway, the doctor finds it the same way.
    let checked = check_setup(setup, Verify::Offline, SystemTime::now()).await;
    assert!(checked.passed(), "{:#?}", checked.checks());
    checked
        .save(&world.dir, &world.secrets, ModeAfterSave::Production)
        .unwrap();
    let checks = doctor(&world.dir, SystemTime::now()).await;
    assert_eq!(
        statuses(&checks).last(),
        Some(&(CheckName::WechatRefund, Status::Failed)),
        "{checks:#?}"
    );
    assert_eq!(world.refunds_in_ledger(), 0);
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_before_anything_is_saved() {
    let world = World::new().await;
    let mut setup = world.setup();
    setup.api_key = Some(ApiKey::new("0".repeat(32)).unwrap());
    let checks = world.save(setup.clone()).await.unwrap_err();
    assert_eq!(
        statuses(&checks).last(),
        Some(&(CheckName::WechatSignature, Status::Failed)),
        "{checks:#?}"
    );
    assert!(
        matches!(
            &find(&checks, CheckName::WechatSignature).finding,
            Finding::WechatRefused { problem: Problem::ApiKeyWrong, wechat } if wechat.contains("签名错误")
        ),
        "{checks:#?}"
    );
    assert!(!world.dir.root().exists(), "nothing was written");

    // Offline, only its form is checked: it saves, and the doctor finds it.
    let checked = check_setup(setup, Verify::Offline, SystemTime::now()).await;
    assert!(
        !checked
            .checks()
            .iter()
            .any(|c| matches!(c.name, CheckName::WechatSignature | CheckName::WechatRefund)),
        "offline asks nothing of WeChat"
    );
    checked
        .save(&world.dir, &world.secrets, ModeAfterSave::Production)
        .unwrap();
    let checks = doctor(&world.dir, SystemTime::now()).await;
    assert_eq!(
        statuses(&checks)[5..],
        [
            (CheckName::WechatSignature, Status::Failed),
            (CheckName::WechatRefund, Status::Skipped)
        ],
        "{checks:#?}"
    );
}

#[tokio::test]
async fn what_was_typed_is_checked_a_step_at_a_time() {
    let world = World::new().await;
    let mut setup = world.setup();
    setup.api_key = None;
    setup.certificate = None;
    let checked = check_setup(setup.clone(), Verify::Live, SystemTime::now()).await;
    assert_eq!(
        statuses(checked.checks()),
        [(CheckName::Merchant, Status::Ok)]
    );
    assert!(
        !checked.passed(),
        "a setup without key and certificate is not saved"
    );

    for (mch_id, appid, finding) in [
        (
            "19000x".to_owned(),
            setup.appid.clone(),
            Finding::MchIdMalformed,
        ),
        (
            setup.mch_id.clone(),
            "not-an-appid".into(),
            Finding::AppIdMalformed,
        ),
    ] {
        let mut bad = setup.clone();
        bad.mch_id = mch_id;
        bad.appid = appid;
        let checked = check_setup(bad, Verify::Live, SystemTime::now()).await;
        assert_eq!(checked.checks()[0].finding, finding);
    }

    setup.api_key = Some(ApiKey::new("short-key").unwrap());
    let checked = check_setup(setup.clone(), Verify::Live, SystemTime::now()).await;
    assert_eq!(
        checked.checks()[1].finding,
        Finding::ApiKeyMalformed { length: 9 }
    );

    // Ids and key: WeChat answers the signed query; no certificate is needed yet.
    setup.api_key = Some(world.sim.credentials().api_key.clone());
    let checked = check_setup(setup.clone(), Verify::Live, SystemTime::now()).await;
    assert_eq!(
        checked.checks().last().unwrap().finding,
        Finding::SignatureAccepted
    );

    // Another merchant's appid: WeChat does not know it.
    setup.appid = "wx0000000000000000".into();
    let checked = check_setup(setup, Verify::Live, SystemTime::now()).await;
    assert!(
        matches!(
            checked.checks().last().unwrap().finding,
            Finding::WechatRefused {
                problem: Problem::MerchantWrong,
                ..
            }
        ),
        "{:#?}",
        checked.checks()
    );
}

#[tokio::test]
async fn a_failed_setup_leaves_the_working_one_and_a_good_one_replaces_it() {
    let world = World::new().await;
    world.save(world.setup()).await.unwrap();
    let config = std::fs::read_to_string(world.dir.config()).unwrap();
    let certificates = world.dir.root().join("certificates");
    let working = files_under(&certificates);
    assert_eq!(working.len(), 1, "{working:?}");
    assert!(working[0].ends_with("apiclient_cert.p12"));

    // A wrong password for the .p12.
    let mut wrong_password = world.setup();
    wrong_password.cert_password = Some(CertPassword::new("not-the-password"));
    let checks = world.save(wrong_password).await.unwrap_err();
    assert!(
        matches!(
            find(&checks, CheckName::Certificate).finding,
            Finding::CertificateUnusable {
                problem: CertificateProblem::WrongPassword,
                ..
            }
        ),
        "{checks:#?}"
    );
    // A PEM pair that does not belong together.
    let (_, stranger_key) = self_signed(&world.mch_id());
    let mut mismatched = world.setup();
    mismatched.certificate = Some(CertificateFiles::Pem {
        cert: std::fs::read(&world.sim.credentials().files.cert_pem).unwrap(),
        key: stranger_key,
    });
    let checks = world.save(mismatched).await.unwrap_err();
    assert!(
        matches!(
            find(&checks, CheckName::Certificate).finding,
            Finding::CertificateUnusable {
                problem: CertificateProblem::CertKeyMismatch,
                ..
            }
        ),
        "{checks:#?}"
    );
    // A file that is no certificate at all.
    let mut garbage = world.setup();
    garbage.certificate = Some(CertificateFiles::P12(b"not a p12".to_vec()));
    world.save(garbage).await.unwrap_err();

    // The working setup is untouched and still passes.
    assert_eq!(std::fs::read_to_string(world.dir.config()).unwrap(), config);
    assert_eq!(files_under(&certificates), working);
    assert!(
        world
            .secrets
            .cert_password(&world.mch_id())
            .unwrap()
            .is_none()
    );
    let checks = doctor(&world.dir, SystemTime::now()).await;
    assert!(passed(&checks), "{checks:#?}");

    // The PEM pair of the same certificate replaces it: a new folder, the old one gone.
    let credentials = world.sim.credentials();
    let mut pem = world.setup();
    pem.certificate = Some(CertificateFiles::Pem {
        cert: std::fs::read(&credentials.files.cert_pem).unwrap(),
        key: std::fs::read(&credentials.files.key_pem).unwrap(),
    });
    let saved = world.save(pem).await.unwrap();
    let now_in_use = files_under(&certificates);
    assert_eq!(now_in_use.len(), 2, "{now_in_use:?}");
    assert!(!now_in_use.contains(&working[0]));
    assert!(matches!(
        saved.merchant.unwrap().certificate,
        CertificateConfig::Pem { .. }
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in &now_in_use {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file:?}");
            let folder = std::fs::metadata(file.parent().unwrap()).unwrap();
            assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        }
    }
    assert!(passed(&doctor(&world.dir, SystemTime::now()).await));
    assert_eq!(world.refunds_in_ledger(), 0, "no check moved money");
}

#[tokio::test]
async fn the_doctor_names_each_setup_mistake() {
    let world = World::new().await;
    world.save(world.setup()).await.unwrap();
    let (dir, secrets, mch_id) = (&world.dir, &world.secrets, world.mch_id());
    let mut config = Config::load(&dir.config()).unwrap().unwrap();

    // A wrong API key: the certificate is fine, WeChat refuses the signature.
    secrets
        .set(&mch_id, SecretKind::ApiKey, &"0".repeat(32))
        .unwrap();
    let checks = doctor(dir, SystemTime::now()).await;
    assert!(
        matches!(
            &find(&checks, CheckName::WechatSignature).finding,
            Finding::WechatRefused {
                problem: Problem::ApiKeyWrong,
                ..
            }
        ),
        "{checks:#?}"
    );
    assert_eq!(
        find(&checks, CheckName::WechatRefund).status,
        Status::Skipped
    );
    secrets
        .set(
            &mch_id,
            SecretKind::ApiKey,
            world.sim.credentials().api_key.expose(),
        )
        .unwrap();

    // A wrong certificate password.
    secrets
        .set(&mch_id, SecretKind::CertPassword, "not-the-password")
        .unwrap();
    let checks = doctor(dir, SystemTime::now()).await;
    assert_eq!(
        statuses(&checks)[2..],
        [
            (CheckName::Certificate, Status::Failed),
            (CheckName::WechatSignature, Status::Skipped),
            (CheckName::WechatRefund, Status::Skipped),
        ]
    );
    secrets.delete(&mch_id, SecretKind::CertPassword).unwrap();

    // Another merchant's certificate.
    let other = wxpay_sim::start(SimConfig::new(world.temp.path().join("other")))
        .await
        .unwrap();
    let other_mch_id = other.info().mch_id.clone();
    secrets
        .set(&mch_id, SecretKind::CertPassword, &other_mch_id)
        .unwrap();
    let merchant = config.merchant.as_mut().unwrap();
    let original = merchant.certificate.clone();
    merchant.certificate = CertificateConfig::Pkcs12 {
        p12: other.credentials().files.cert_p12.clone(),
    };
    config.save(&dir.config()).unwrap();
    let checks = doctor(dir, SystemTime::now()).await;
    assert_eq!(
        find(&checks, CheckName::CertificateMerchant).finding,
        Finding::IssuedToOther {
            common_name: other_mch_id,
            mch_id: mch_id.clone()
        }
    );
    assert_eq!(
        find(&checks, CheckName::WechatRefund).status,
        Status::Skipped
    );
    secrets.delete(&mch_id, SecretKind::CertPassword).unwrap();

    // The certificate file went missing.
    config.merchant.as_mut().unwrap().certificate = CertificateConfig::Pkcs12 {
        p12: world.temp.path().join("moved-away.p12"),
    };
    config.save(&dir.config()).unwrap();
    let checks = doctor(dir, SystemTime::now()).await;
    assert!(
        matches!(
            find(&checks, CheckName::Certificate).finding,
            Finding::CertificateUnusable {
                problem: CertificateProblem::FileMissing,
                ..
            }
        ),
        "{checks:#?}"
    );

    // Ten years from now the certificate has expired.
    config.merchant.as_mut().unwrap().certificate = original;
    config.save(&dir.config()).unwrap();
    let later = SystemTime::now() + Duration::from_secs(10 * 365 * 24 * 3600);
    let checks = doctor(dir, later).await;
    assert!(
        matches!(
            find(&checks, CheckName::CertificateExpiry).finding,
            Finding::CertificateExpired { .. }
        ),
        "{checks:#?}"
    );

    // No configuration at all.
    std::fs::remove_file(dir.config()).unwrap();
    let checks = doctor(dir, SystemTime::now()).await;
    assert_eq!(statuses(&checks), [(CheckName::Config, Status::Failed)]);

    // Nothing the doctor found contains a secret.
    let key = world.sim.credentials().api_key.expose().to_owned();
    assert!(!format!("{checks:?}").contains(&key));
}

#[tokio::test]
async fn the_public_address_is_proven_to_reach_this_desk() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let temp = tempfile::tempdir().unwrap();
    let dir = DataDir::resolve(Some(temp.path().join("desk"))).unwrap();
    let mut options = StartOptions::new(dir.clone());
    options.force_sandbox = true;
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    let desk = RunningDesk::start(options).await.unwrap();
    let credentials = SandboxCredentials::load(&dir.sandbox_credentials()).unwrap();
    let ca = credentials.files.ca_pem.clone();
    let sim_dir = ca.parent().unwrap();
    let intake: std::net::SocketAddr = desk
        .intake_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let tunnel = open_tunnel(sim_dir, intake).await.unwrap();
    let secret = desk.intake_secret().to_owned();
    let now = desk_core::unix_now();

    let check = reach_check(Some(&tunnel.url), &secret, Some(&ca), now).await;
    assert_eq!(
        check.finding,
        Finding::Reached {
            url: tunnel.url.clone()
        }
    );
    // Another desk (another secret) behind the address cannot answer for this one.
    let check = reach_check(Some(&tunnel.url), &"x".repeat(64), Some(&ca), now).await;
    assert_eq!(check.finding, Finding::AnotherServer { status: 401 });
    // WeChat would not trust the tunnel's certificate without its CA.
    let check = reach_check(Some(&tunnel.url), &secret, None, now).await;
    assert!(
        matches!(
            check.finding,
            Finding::Unreachable {
                problem: ReachProblem::Certificate,
                ..
            }
        ),
        "{check:?}"
    );
    let check = reach_check(Some(desk.intake_url()), &secret, Some(&ca), now).await;
    assert!(matches!(
        check.finding,
        Finding::Unreachable {
            problem: ReachProblem::NotHttps,
            ..
        }
    ));
    let closed = {
        let url = tunnel.url.clone();
        drop(tunnel);
        url
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let check = reach_check(Some(&closed), &secret, Some(&ca), now).await;
    assert!(
        matches!(
            check.finding,
            Finding::Unreachable {
                problem: ReachProblem::NoConnection,
                ..
            }
        ),
        "{check:?}"
    );
    assert_eq!(
        reach_check(None, &secret, Some(&ca), now).await.finding,
        Finding::NoPublicUrl
    );
    desk.shutdown().await;
}
