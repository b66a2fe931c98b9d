//! A stand-in for the shop's tunnel or HTTPS reverse proxy: HTTPS on loopback with the
//! simulator's server certificate (trusted through its CA, like a public CA for WeChat), each
//! connection passed through unchanged to a plain-HTTP address, the desk's intake. Tests give
//! its URL as the desk's public address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::SimError;

/// An open tunnel; it closes when dropped.
#[derive(Debug)]
pub struct Tunnel {
    /// `https://localhost:PORT`.
    pub url: String,
    shutdown: watch::Sender<bool>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Opens a tunnel to `target` with the server certificate of the simulator in `sim_dir`.
pub async fn open_tunnel(sim_dir: &Path, target: SocketAddr) -> Result<Tunnel, SimError> {
    let (_, tls) = crate::pki::load_or_create(sim_dir)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![tls.cert], tls.key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| SimError::io(Path::new("127.0.0.1:0"), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| SimError::io(Path::new("127.0.0.1:0"), e))?
        .port();
    let (shutdown, mut closed) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            let (incoming, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => continue,
                },
                _ = closed.changed() => return,
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut outside) = acceptor.accept(incoming).await else {
                    return;
                };
                let Ok(mut inside) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut outside, &mut inside).await;
            });
        }
    });
    Ok(Tunnel {
        url: format!("https://localhost:{port}"),
        shutdown,
    })
}
