//! `relay`: pair this desk with the shop's relay, and see how the link stands.

use std::path::PathBuf;

use clap::Subcommand;
use desk_runtime::{Access, Config, RuntimeError, WechatServer};
use relay_protocol::paths;
use serde_json::json;

use super::CliError;
use super::desk::DeskArgs;
use super::queue::{pin_from_env, warn_if_short};

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Pair this desk with the shop's relay, with the code the relay's operator printed (the
    /// owner's desk) or the owner's desk showed (a staff desk). The desk then listens on no
    /// port: it reads the shop's messages from the relay from its next start.
    Pair {
        /// The relay's address, e.g. https://relay.example.com
        #[arg(long)]
        url: String,
        /// The pairing code, e.g. 7KQM-3XTR-9BHD-2WPN-5C8E (valid 15 minutes, once).
        #[arg(long)]
        code: String,
        /// How the owner sees this desk listed ("收银台", "后厨").
        #[arg(long)]
        name: String,
        /// A CA certificate (PEM) to trust for a relay with a certificate of the shop's own.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// On the owner's desk: a pairing code for a staff desk (valid 15 minutes, once), which
    /// hands that desk the merchant's ids and API key sealed for it alone.
    Invite {
        /// A code for the owner's desk on another PC instead (moving to a new PC while this one
        /// still works): it keeps the shop key, so the staff desks follow it, and this desk is
        /// revoked when the code is used.
        #[arg(long)]
        owner: bool,
    },
    /// On the owner's desk: the shop's desks on the relay, when each was last seen.
    Desks,
    /// On the owner's desk: revoke a desk (a lost or replaced PC); its token stops working.
    Revoke {
        /// The desk's number (from `relay desks`).
        desk: i64,
    },
    /// Which relay this desk reads, and how far.
    Status,
}

/// This desk's relay link, when it is the owner's desk.
fn owner_relay(dir: &desk_runtime::DataDir) -> Result<desk_runtime::RelayConfig, CliError> {
    let config = Config::load(&dir.config())
        .map_err(RuntimeError::from)?
        .ok_or_else(|| CliError::NoDesk(dir.root().to_owned()))?;
    match config.relay {
        Some(relay) if relay.role == relay_protocol::Role::Owner => Ok(relay),
        Some(_) => Err(CliError::Argument(
            "this is a staff desk: the shop's desks are managed on the owner's desk".into(),
        )),
        None => Err(CliError::Argument(
            "this desk is not paired with a relay: `relay pair` first".into(),
        )),
    }
}

pub async fn relay(
    desk: &DeskArgs,
    command: RelayCommand,
    wechat: WechatServer,
) -> Result<String, CliError> {
    let dir = desk.dir()?;
    match command {
        RelayCommand::Pair {
            url,
            code,
            name,
            ca,
        } => {
            // Where the shop's money messages come from is the owner's to change.
            // A new desk (a staff PC) has no configuration yet, so no PIN.
            let config = Config::load(&dir.config())
                .map_err(RuntimeError::from)?
                .unwrap_or_else(Config::new);
            let access = Access::of(&config, &dir);
            access.require_owner(pin_from_env().as_deref(), desk_core::unix_now())?;
            warn_if_short(&access);
            let ca = ca.map(|path| std::path::absolute(&path).unwrap_or(path));
            let relay = desk_runtime::pair_with_relay(&dir, &url, &code, &name, ca, wechat).await?;
            let shop = relay.shop_url();
            Ok(if desk.json {
                json!({
                    "desk_id": relay.desk_id,
                    "role": relay.role,
                    "shop": relay.shop,
                    "notify_url": format!("{shop}/wxpay/notify"),
                    "refund_requests_url": format!("{shop}/api/v1/refund-requests"),
                })
                .to_string()
            } else {
                format!(
                    "paired with {} as desk {} ({}); restart the desk to use it.\n  WeChat notify_url: {}\n  backend refund requests: {}",
                    relay.url,
                    relay.desk_id,
                    relay.role.as_str(),
                    format_args!(
                        "{}{}",
                        relay.url,
                        paths::for_shop(paths::PAYMENT_NOTIFY, &relay.shop)
                    ),
                    format_args!(
                        "{}{}",
                        relay.url,
                        paths::for_shop(paths::REFUND_REQUESTS, &relay.shop)
                    ),
                )
            })
        }
        RelayCommand::Invite { owner } => {
            // Hands out the API key: the owner's to do.
            let config = Config::load(&dir.config())
                .map_err(RuntimeError::from)?
                .ok_or_else(|| CliError::NoDesk(dir.root().to_owned()))?;
            let access = Access::of(&config, &dir);
            access.require_owner(pin_from_env().as_deref(), desk_core::unix_now())?;
            let role = if owner {
                relay_protocol::Role::Owner
            } else {
                relay_protocol::Role::Staff
            };
            let (code, expires_at) = desk_runtime::invite_to_relay(&dir, role).await?;
            Ok(if desk.json {
                json!({ "code": code.display(), "expires_at": expires_at }).to_string()
            } else {
                let url = config.relay.as_ref().map_or("", |r| r.url.as_str());
                match role {
                    relay_protocol::Role::Staff => format!(
                        "pairing code for a staff desk: {}\n  on that PC: merchant-desk-cli relay pair --url {url} --code {} --name 收银台\n  valid 15 minutes, once",
                        code.display(),
                        code.display()
                    ),
                    relay_protocol::Role::Owner => format!(
                        "pairing code for the owner's desk on another PC: {}\n  set up the merchant there, then: merchant-desk-cli relay pair --url {url} --code {} --name 店长\n  valid 15 minutes, once; this desk is revoked when it is used, and the staff desks follow the new one",
                        code.display(),
                        code.display()
                    ),
                }
            })
        }
        RelayCommand::Desks => {
            let relay = owner_relay(&dir)?;
            let desks = relay.client()?.desks().await.map_err(RuntimeError::from)?;
            Ok(if desk.json {
                serde_json::to_string(&desks).map_err(|e| CliError::Output(e.into()))?
            } else {
                desks
                    .iter()
                    .map(|d| {
                        format!(
                            "{}\t{}\t{}\tread through {}\tlast seen {}{}",
                            d.id,
                            d.role.as_str(),
                            d.name,
                            d.acked_seq,
                            d.last_seen_at.map_or("never".to_owned(), |t| t.to_string()),
                            if d.revoked { "\trevoked" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        RelayCommand::Revoke { desk: id } => {
            let relay = owner_relay(&dir)?;
            let config = Config::load(&dir.config())
                .map_err(RuntimeError::from)?
                .ok_or_else(|| CliError::NoDesk(dir.root().to_owned()))?;
            Access::of(&config, &dir)
                .require_owner(pin_from_env().as_deref(), desk_core::unix_now())?;
            relay
                .client()?
                .revoke(id)
                .await
                .map_err(RuntimeError::from)?;
            Ok(if desk.json {
                json!({ "revoked": id }).to_string()
            } else {
                format!("desk {id} revoked: its token no longer connects")
            })
        }
        RelayCommand::Status => {
            let config = Config::load(&dir.config())
                .map_err(RuntimeError::from)?
                .ok_or_else(|| CliError::NoDesk(dir.root().to_owned()))?;
            let Some(relay) = config.relay else {
                return Ok(if desk.json {
                    json!({ "relay": null }).to_string()
                } else {
                    "no relay: the desk listens itself (intake.listen in config.toml)".to_owned()
                });
            };
            let store = desk.existing_store()?;
            let position = store.relay_position(&relay.source())?.seq;
            let (parked, parked_since) = store.parked(&relay.source())?;
            Ok(if desk.json {
                json!({
                    "relay": relay.url,
                    "shop": relay.shop,
                    "desk_id": relay.desk_id,
                    "role": relay.role,
                    "position": position,
                    "parked": parked,
                    "parked_since": parked_since,
                })
                .to_string()
            } else {
                let mut status = format!(
                    "relay {} (shop {}), desk {} ({}); entries taken through {position}",
                    relay.url,
                    relay.shop,
                    relay.desk_id,
                    relay.role.as_str()
                );
                if parked > 0 {
                    status.push_str(&format!(
                        "\n{parked} entr{} put aside until WeChat Pay answers (tried again; the others go on)",
                        if parked == 1 { "y" } else { "ies" }
                    ));
                }
                status
            })
        }
    }
}
