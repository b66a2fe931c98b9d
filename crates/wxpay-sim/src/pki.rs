//! The simulator's certificates and merchant credentials, made once per data directory and reused,
//! so that an app configured against the sandbox keeps working after a restart.
//!
//! Files in the data directory: `ca.pem` (trust this to reach the simulator), `apiclient_cert.p12`
//! (password: the merchant id, encrypted the legacy way WeChat's own files are),
//! `apiclient_cert.pem` + `apiclient_key.pem` (the same identity as PEM), `merchant.json`
//! (appid, mch_id, API key), and the simulator's own keys (`ca_key.pem`, `server.pem`,
//! `server_key.pem`).

use std::path::{Path, PathBuf};

use p12_keystore::{EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain};
use rand::RngExt;
use rand::distr::Alphanumeric;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use wxpay::{ApiKey, AppId, MchId};

use crate::SimError;

/// The sandbox merchant and where its certificate files are.
#[derive(Debug, Clone)]
pub struct SimCredentials {
    pub appid: AppId,
    pub mch_id: MchId,
    pub api_key: ApiKey,
    pub files: CredentialFiles,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialFiles {
    /// The simulator's CA: the app trusts it as an extra root.
    pub ca_pem: PathBuf,
    /// The merchant certificate as WeChat ships it; the password is the merchant id.
    pub cert_p12: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// What the HTTPS listener needs.
pub(crate) struct ServerTls {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub ca: CertificateDer<'static>,
}

#[derive(Serialize, Deserialize)]
struct MerchantFile {
    appid: String,
    mch_id: String,
    api_key: String,
}

const MERCHANT: &str = "merchant.json";
const CA: &str = "ca.pem";
const CA_KEY: &str = "ca_key.pem";
const SERVER: &str = "server.pem";
const SERVER_KEY: &str = "server_key.pem";
const CLIENT: &str = "apiclient_cert.pem";
const CLIENT_KEY: &str = "apiclient_key.pem";
const CLIENT_P12: &str = "apiclient_cert.p12";

/// Loads the sandbox merchant from `dir`, or makes a new one when any file is missing.
pub(crate) fn load_or_create(dir: &Path) -> Result<(SimCredentials, ServerTls), SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::io(dir, source))?;
    let all_present = [
        MERCHANT, CA, CA_KEY, SERVER, SERVER_KEY, CLIENT, CLIENT_KEY, CLIENT_P12,
    ]
    .iter()
    .all(|f| dir.join(f).is_file());
    if !all_present {
        create(dir)?;
    }
    load(dir)
}

fn files(dir: &Path) -> CredentialFiles {
    CredentialFiles {
        ca_pem: dir.join(CA),
        cert_p12: dir.join(CLIENT_P12),
        cert_pem: dir.join(CLIENT),
        key_pem: dir.join(CLIENT_KEY),
    }
}

fn load(dir: &Path) -> Result<(SimCredentials, ServerTls), SimError> {
    let merchant: MerchantFile = serde_json::from_slice(&read(&dir.join(MERCHANT))?)
        .map_err(|e| SimError::Pki(format!("{}: {e}", dir.join(MERCHANT).display())))?;
    let credentials = SimCredentials {
        appid: AppId::new(merchant.appid).map_err(|e| SimError::Pki(e.to_string()))?,
        mch_id: MchId::new(merchant.mch_id).map_err(|e| SimError::Pki(e.to_string()))?,
        api_key: ApiKey::new(merchant.api_key).map_err(|e| SimError::Pki(e.to_string()))?,
        files: files(dir),
    };
    let tls = ServerTls {
        cert: first_cert(&dir.join(SERVER))?,
        key: private_key(&dir.join(SERVER_KEY))?,
        ca: first_cert(&dir.join(CA))?,
    };
    Ok((credentials, tls))
}

fn create(dir: &Path) -> Result<(), SimError> {
    let mut rng = rand::rng();
    let mch_id = format!("19{:08}", rng.random_range(0..100_000_000u32));
    let appid = format!("wx{:016x}", rng.random::<u64>());
    let api_key: String = (&mut rng)
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let pki = |e: rcgen::Error| SimError::Pki(e.to_string());

    let ca_key = KeyPair::generate().map_err(pki)?;
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name = name("Merchant Desk sandbox CA (simulated Tenpay)");
    set_validity(&mut ca_params, 3650);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(pki)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(pki)?;
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(pki)?;
    server_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server_params.distinguished_name = name("WeChat Pay simulator");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut server_params, 3650);
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(pki)?;

    // Like WeChat's API certificates: the merchant id as common name, issued for client auth.
    let client_key = KeyPair::generate().map_err(pki)?;
    let mut client_params = CertificateParams::default();
    client_params.distinguished_name = name(&mch_id);
    client_params
        .distinguished_name
        .push(DnType::OrganizationName, "Merchant Desk sandbox merchant");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    set_validity(&mut client_params, 1825);
    let client_cert = client_params.signed_by(&client_key, &issuer).map_err(pki)?;

    // Written the legacy way (RC2-40 certificate bag, SHA-1 MAC), as WeChat's own files are.
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(
        b"sandbox".to_vec(),
        p12_keystore::PrivateKey::from_der(&client_key.serialize_der())
            .map_err(|e| SimError::Pki(e.to_string()))?,
        [p12_keystore::Certificate::from_der(client_cert.der())
            .map_err(|e| SimError::Pki(e.to_string()))?],
    );
    store.add_entry("Tenpay Certificate", KeyStoreEntry::PrivateKeyChain(chain));
    let p12 = store
        .writer(&mch_id)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc)
        .mac_algorithm(MacAlgorithm::HmacSha1)
        .encryption_iterations(2048)
        .mac_iterations(2048)
        .write()
        .map_err(|e| SimError::Pki(e.to_string()))?;

    let merchant = serde_json::to_vec_pretty(&MerchantFile {
        appid,
        mch_id,
        api_key,
    })
    .map_err(|e| SimError::Pki(e.to_string()))?;
    write(dir, CA, ca_cert.pem().as_bytes(), false)?;
    write(dir, CA_KEY, ca_key_pem.as_bytes(), true)?;
    write(dir, SERVER, server_cert.pem().as_bytes(), false)?;
    write(dir, SERVER_KEY, server_key.serialize_pem().as_bytes(), true)?;
    write(dir, CLIENT, client_cert.pem().as_bytes(), false)?;
    write(dir, CLIENT_KEY, client_key.serialize_pem().as_bytes(), true)?;
    write(dir, CLIENT_P12, &p12, true)?;
    // Last: its presence marks a complete set.
    write(dir, MERCHANT, &merchant, true)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CN");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn set_validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<(), SimError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|source| SimError::io(&tmp, source))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| SimError::io(&tmp, source))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::rename(&tmp, &path).map_err(|source| SimError::io(&path, source))
}

fn read(path: &Path) -> Result<Vec<u8>, SimError> {
    std::fs::read(path).map_err(|source| SimError::io(path, source))
}

fn first_cert(path: &Path) -> Result<CertificateDer<'static>, SimError> {
    CertificateDer::pem_slice_iter(&read(path)?)
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| SimError::Pki(format!("{} holds no certificate", path.display())))
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, SimError> {
    PrivateKeyDer::from_pem_slice(&read(path)?)
        .ok()
        .ok_or_else(|| SimError::Pki(format!("{} holds no private key", path.display())))
}
