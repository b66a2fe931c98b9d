//! `merchant-desk-relay`: serve, and manage the shops and desks of the relay's database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use relay::store::{PostgresStore, Store};
use relay::{Relay, Settings, SqliteStore, unix_now};
use relay_protocol::{PairingCode, Role, paths};

#[derive(Debug, Parser)]
#[command(
    name = "merchant-desk-relay",
    version,
    about = "The relay between a shop's backend and its desks"
)]
struct Cli {
    /// The database: a SQLite file (the default: relay.sqlite3 in $STATE_DIRECTORY or here).
    #[arg(long, env = "MERCHANT_DESK_RELAY_DATABASE", global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Accept WeChat's notifications and the backend's requests; stream them to the desks.
    Serve {
        #[arg(
            long,
            env = "MERCHANT_DESK_RELAY_LISTEN",
            default_value = "127.0.0.1:8730"
        )]
        listen: SocketAddr,
        /// Serve HTTPS with this certificate chain (PEM); without it, plain HTTP for the
        /// shop's HTTPS reverse proxy in front.
        #[arg(long, env = "MERCHANT_DESK_RELAY_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "MERCHANT_DESK_RELAY_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Shops on this relay.
    #[command(subcommand)]
    Shops(ShopCommand),
    /// A shop's desks.
    #[command(subcommand)]
    Desks(DeskCommand),
    /// Check the relay: its database, its public address over HTTPS, each shop's desks.
    Doctor {
        /// The address WeChat and the desks use, e.g. https://relay.example.com
        #[arg(long, env = "MERCHANT_DESK_RELAY_PUBLIC_URL")]
        public_url: Option<String>,
        /// A CA certificate (PEM) to trust for it (a certificate of the shop's own).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ShopCommand {
    /// Adds a shop and prints the pairing code for its owner's desk.
    Add {
        name: String,
        /// The backend's own payment-notification handler: when the relay is WeChat's
        /// notify_url, each notification is passed on there too, byte for byte, until it
        /// answers SUCCESS.
        #[arg(long)]
        forward_to: Option<String>,
        /// The relay's public address, to print the shop's URLs.
        #[arg(long, env = "MERCHANT_DESK_RELAY_PUBLIC_URL")]
        public_url: Option<String>,
    },
    List,
    /// Pass the shop's payment notifications on to the backend's handler at URL (or stop).
    Forward {
        shop: String,
        #[arg(required_unless_present = "off")]
        url: Option<String>,
        #[arg(long, conflicts_with = "url")]
        off: bool,
    },
    /// The shop's WeChat Pay merchant: notifications naming another are refused at its doors
    /// (the owner's desk says so itself when it connects).
    Merchant {
        shop: String,
        #[arg(long)]
        appid: String,
        #[arg(long)]
        mch_id: String,
    },
    /// A new pairing code for the shop's owner desk (a new PC, a lost one): the owner's desk
    /// before it is revoked when the code is used.
    PairOwner {
        shop: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeskCommand {
    List { shop: String },
    Revoke { shop: String, desk: i64 },
}

/// Where the relay keeps its data, from `--database`.
#[derive(Debug)]
enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` URL or a `host=... dbname=...` connection string.
    Postgres(String),
}

impl Database {
    fn from_arg(database: Option<String>) -> Database {
        match database {
            Some(url)
                if url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.contains("dbname=") =>
            {
                Database::Postgres(url)
            }
            Some(url) => {
                Database::Sqlite(PathBuf::from(url.strip_prefix("sqlite:").unwrap_or(&url)))
            }
            None => Database::Sqlite(
                std::env::var_os("STATE_DIRECTORY")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join("relay.sqlite3"),
            ),
        }
    }

    /// Said at start; a PostgreSQL address may hold a password, so only its kind is shown.
    fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("SQLite {}", path.display()),
            Database::Postgres(_) => "PostgreSQL".to_owned(),
        }
    }
}

/// What went wrong, worded for the operator at the terminal.
#[derive(Debug, thiserror::Error)]
enum Problem {
    #[error(transparent)]
    Store(#[from] relay::StoreError),
    #[error(transparent)]
    Tls(#[from] relay::TlsError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source} (another program on the port? choose another with --listen)"
    )]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Stopped(#[source] std::io::Error),
    #[error("{url:?}: the backend's handler is an http:// or https:// address with a host")]
    ForwardUrl { url: String },
    #[error("{0}: copy the appid and mch_id from 商户平台")]
    MerchantIds(#[from] wxpay::IdError),
    #[error("no shop {0}: `merchant-desk-relay shops list` shows them")]
    NoShop(String),
    #[error("shop {shop} has no desk {desk}: `merchant-desk-relay desks list {shop}` shows them")]
    NoDesk { shop: String, desk: i64 },
    #[error("cannot print the report: {0}")]
    Output(String),
    #[error("some checks failed (see above)")]
    ChecksFailed,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, Problem> {
    std::fs::read(path).map_err(|source| Problem::Read {
        path: path.clone(),
        source,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("merchant-desk-relay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Problem> {
    guarded_server::process::prepare();
    let database = Database::from_arg(cli.database);
    match &database {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(path)?;
            command(store, &database, cli.command).await
        }
        Database::Postgres(url) => {
            let store = PostgresStore::open(url).await?;
            command(store, &database, cli.command).await
        }
    }
}

#[allow(clippy::print_stdout)]
async fn command<S: Store + Clone>(
    store: S,
    database: &Database,
    command: Command,
) -> Result<(), Problem> {
    match command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(relay::tls_acceptor(&read(&cert)?, &read(&key)?)?),
                _ => None,
            };
            let listener = guarded_server::bind(listen).map_err(|source| Problem::Listen {
                addr: listen,
                source,
            })?;
            let relay = Relay::new(store, Settings::default());
            println!(
                "merchant-desk-relay listening on {}://{listen}, database {}",
                if tls.is_some() { "https" } else { "http" },
                database.describe()
            );
            relay
                .serve_with(listener, tls, async {
                    let _ = shutdown_signal().await;
                })
                .await
                .map_err(Problem::Stopped)
        }
        Command::Shops(ShopCommand::Add {
            name,
            forward_to,
            public_url,
        }) => {
            let forward_to = forward_to.map(|url| forward_url(&url)).transpose()?;
            let shop = store.add_shop(&name, unix_now()).await?;
            if forward_to.is_some() {
                store.set_forward(shop.id, forward_to.clone()).await?;
            }
            let code = owner_code(&store, shop.id).await?;
            let base = public_url
                .as_deref()
                .unwrap_or("https://RELAY")
                .trim_end_matches('/');
            println!("shop {} added: {}", shop.slug, shop.name);
            if let Some(url) = &forward_to {
                println!("  payment notifications are passed on to {url}");
            }
            for (what, path) in [
                ("WeChat notify_url", paths::PAYMENT_NOTIFY),
                ("refund notifications", paths::REFUND_NOTIFY),
                ("backend refund requests", paths::REFUND_REQUESTS),
            ] {
                println!("  {what}: {base}{}", paths::for_shop(path, &shop.slug));
            }
            println!(
                "pairing code for the owner's desk (valid 15 minutes): {}",
                code.display()
            );
            Ok(())
        }
        Command::Shops(ShopCommand::Forward { shop, url, off }) => {
            let shop = find_shop(&store, &shop).await?;
            let url = if off {
                None
            } else {
                url.map(|u| forward_url(&u)).transpose()?
            };
            store.set_forward(shop.id, url.clone()).await?;
            match url {
                Some(url) => println!(
                    "shop {}: payment notifications are passed on to {url}",
                    shop.slug
                ),
                None => println!(
                    "shop {}: payment notifications are no longer passed on",
                    shop.slug
                ),
            }
            Ok(())
        }
        Command::Shops(ShopCommand::List) => {
            for shop in store.shops().await? {
                let merchant = shop.merchant.as_ref().map_or_else(
                    || "any merchant (the owner's desk has not said)".to_owned(),
                    |m| format!("merchant {} / {}", m.appid, m.mch_id),
                );
                println!("{}\t{}\t{merchant}", shop.slug, shop.name);
            }
            Ok(())
        }
        Command::Shops(ShopCommand::Merchant {
            shop,
            appid,
            mch_id,
        }) => {
            let shop = find_shop(&store, &shop).await?;
            let merchant = relay::store::ShopMerchant::new(&appid, &mch_id)?;
            store.set_merchant(shop.id, merchant).await?;
            println!(
                "shop {}: only notifications for merchant {appid} / {mch_id} are taken",
                shop.slug
            );
            Ok(())
        }
        Command::Shops(ShopCommand::PairOwner { shop }) => {
            let shop = find_shop(&store, &shop).await?;
            let code = owner_code(&store, shop.id).await?;
            println!(
                "pairing code for the owner's desk (valid 15 minutes): {}",
                code.display()
            );
            let owners: Vec<_> = store
                .desks(shop.id)
                .await?
                .into_iter()
                .filter(|desk| desk.role == Role::Owner && !desk.revoked)
                .collect();
            for desk in owners {
                println!(
                    "  when it is used, the owner's desk {} ({}) is revoked: a shop has one owner's desk",
                    desk.id, desk.name
                );
            }
            Ok(())
        }
        Command::Doctor {
            public_url,
            ca,
            json,
        } => {
            let ca = ca.as_ref().map(read).transpose()?;
            let findings =
                relay::doctor::doctor(&store, public_url.as_deref(), ca.as_deref(), unix_now())
                    .await;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&findings)
                        .map_err(|e| Problem::Output(e.to_string()))?
                );
            } else {
                for finding in &findings {
                    match &finding.verdict {
                        relay::doctor::Verdict::Ok => {
                            println!("ok    {}: {}", finding.check, finding.detail);
                        }
                        relay::doctor::Verdict::Warning { problem, fix }
                        | relay::doctor::Verdict::Failed { problem, fix } => {
                            let word = if finding.failed() { "FAIL " } else { "warn " };
                            println!("{word} {}: {problem} {}", finding.check, finding.detail);
                            println!("      fix: {fix}");
                        }
                    }
                }
            }
            if findings.iter().any(relay::doctor::Finding::failed) {
                return Err(Problem::ChecksFailed);
            }
            Ok(())
        }
        Command::Desks(DeskCommand::List { shop }) => {
            let shop = find_shop(&store, &shop).await?;
            for desk in store.desks(shop.id).await? {
                println!(
                    "{}\t{}\t{}\tacked {}\tlast seen {}{}",
                    desk.id,
                    desk.role.as_str(),
                    desk.name,
                    desk.acked_seq,
                    desk.last_seen_at
                        .map_or("never".to_owned(), |t| t.to_string()),
                    if desk.revoked { "\trevoked" } else { "" }
                );
            }
            Ok(())
        }
        Command::Desks(DeskCommand::Revoke { shop, desk }) => {
            let shop = find_shop(&store, &shop).await?;
            if store.revoke(shop.id, desk, unix_now()).await? {
                println!("desk {desk} revoked: its token no longer connects");
                Ok(())
            } else {
                Err(Problem::NoDesk {
                    shop: shop.slug,
                    desk,
                })
            }
        }
    }
}

/// A backend handler's address: http(s), a host, nothing else.
fn forward_url(url: &str) -> Result<String, Problem> {
    let url = url.trim();
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url.to_owned()),
        _ => Err(Problem::ForwardUrl {
            url: url.to_owned(),
        }),
    }
}

async fn find_shop<S: Store>(store: &S, slug: &str) -> Result<relay::store::Shop, Problem> {
    store
        .shop(slug)
        .await?
        .ok_or_else(|| Problem::NoShop(slug.to_owned()))
}

async fn owner_code<S: Store>(store: &S, shop_id: i64) -> Result<PairingCode, Problem> {
    Ok(relay::desks::new_pairing(store, shop_id, Role::Owner, unix_now()).await?)
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
