//! A small HTTP/1.1 load generator: each connection posts its share of bodies one after another
//! on one keep-alive socket and times each answer. Written here (not wrk) so that the time of
//! every notification is known to the nanosecond and can be matched with its alert.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One request as sent: when, how long until its answer, and whether the answer said SUCCESS.
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: String,
    pub at: Instant,
    pub latency: Duration,
    pub accepted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("connecting to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("talking to the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server's answer is not HTTP: {0:?}")]
    Answer(String),
}

/// Posts `bodies` (key, body) to `path` over `connections` connections, the bodies dealt out in
/// turn, and returns every request as it went.
pub async fn post_all(
    addr: SocketAddr,
    path: &str,
    bodies: Vec<(String, String)>,
    connections: usize,
) -> Result<Vec<Sent>, LoadError> {
    let connections = connections.max(1);
    let mut shares: Vec<Vec<(String, String)>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, body) in bodies.into_iter().enumerate() {
        shares[i % connections].push(body);
    }
    let mut tasks = Vec::new();
    for share in shares {
        let path = path.to_owned();
        tasks.push(tokio::spawn(
            async move { post_share(addr, &path, share).await },
        ));
    }
    let mut sent = Vec::new();
    for task in tasks {
        let share = task
            .await
            .map_err(|e| LoadError::Io(std::io::Error::other(e)))??;
        sent.extend(share);
    }
    Ok(sent)
}

async fn post_share(
    addr: SocketAddr,
    path: &str,
    share: Vec<(String, String)>,
) -> Result<Vec<Sent>, LoadError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| LoadError::Connect(addr, e))?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut sent = Vec::with_capacity(share.len());
    let mut line = String::new();
    for (key, body) in share {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let at = Instant::now();
        write.write_all(request.as_bytes()).await?;
        // Status line, headers, then exactly Content-Length bytes of body.
        line.clear();
        read.read_line(&mut line).await?;
        if !line.starts_with("HTTP/1.1 ") {
            return Err(LoadError::Answer(line.clone()));
        }
        let mut length = 0usize;
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Err(LoadError::Answer("the connection closed".into()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| LoadError::Answer(header.to_owned()))?;
            }
        }
        let mut answer = vec![0; length];
        read.read_exact(&mut answer).await?;
        let latency = at.elapsed();
        let accepted = answer.windows(7).any(|w| w == b"SUCCESS");
        sent.push(Sent {
            key,
            at,
            latency,
            accepted,
        });
    }
    Ok(sent)
}
