//! `merchant-desk-relay doctor`: what an operator checks when a desk says it hears nothing.
//! The database answers; the public address is reached over verified HTTPS and is this relay;
//! each shop has an owner's desk and a known merchant; each desk was seen lately and has read
//! the shop's log.

use relay_protocol::{Role, paths};
use serde::Serialize;

use crate::store::Store;

/// A desk not seen for this long is reported (a desk connected now is seen at each ack).
pub const QUIET_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Verdict {
    Ok,
    Warning { problem: String, fix: String },
    Failed { problem: String, fix: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub detail: String,
}

impl Finding {
    fn ok(check: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            check: check.into(),
            verdict: Verdict::Ok,
            detail: detail.into(),
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Failed { .. })
    }
}

fn ago(now: i64, then: i64) -> String {
    let secs = (now - then).max(0);
    match secs {
        0..120 => format!("{secs} s ago"),
        120..7200 => format!("{} min ago", secs / 60),
        7200..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// Checks the relay; `public_url` is the address WeChat and the desks use, `extra_ca` a CA to
/// trust for it (a certificate of the shop's own).
pub async fn doctor<S: Store>(
    store: &S,
    public_url: Option<&str>,
    extra_ca: Option<&[u8]>,
    now: i64,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let shops = match store.shops().await {
        Ok(shops) => {
            findings.push(Finding::ok("database", format!("{} shop(s)", shops.len())));
            shops
        }
        Err(error) => {
            findings.push(Finding {
                check: "database".into(),
                verdict: Verdict::Failed {
                    problem: error.to_string(),
                    fix: "check --database (MERCHANT_DESK_RELAY_DATABASE) and that the database server runs".into(),
                },
                detail: String::new(),
            });
            return findings;
        }
    };
    findings.push(match public_url {
        None => Finding {
            check: "public address".into(),
            verdict: Verdict::Warning {
                problem: "not checked".into(),
                fix: "pass --public-url https://... (the address WeChat and the desks use)".into(),
            },
            detail: String::new(),
        },
        Some(url) => reach(url, extra_ca).await,
    });
    for shop in shops {
        let check = format!("shop {} ({})", shop.slug, shop.name);
        let (desks, bounds) = match (store.desks(shop.id).await, store.bounds(shop.id).await) {
            (Ok(desks), Ok(bounds)) => (desks, bounds),
            (Err(error), _) | (_, Err(error)) => {
                findings.push(Finding {
                    check,
                    verdict: Verdict::Failed {
                        problem: error.to_string(),
                        fix: "check the database".into(),
                    },
                    detail: String::new(),
                });
                continue;
            }
        };
        if let Some(url) = &shop.forward_url {
            findings.push(forwarding(store, &shop, url, now).await);
        }
        if shop.merchant.is_none() {
            findings.push(Finding {
                check: check.clone(),
                verdict: Verdict::Warning {
                    problem: "the shop's merchant is not known: notifications naming any merchant are kept".into(),
                    fix: format!(
                        "start the owner's desk (it tells the relay), or: merchant-desk-relay shops merchant {} --appid APPID --mch-id MCH_ID",
                        shop.slug
                    ),
                },
                detail: String::new(),
            });
        }
        let active: Vec<_> = desks.iter().filter(|d| !d.revoked).collect();
        if !active.iter().any(|d| d.role == Role::Owner) {
            findings.push(Finding {
                check: check.clone(),
                verdict: Verdict::Failed {
                    problem: "no owner's desk is paired".into(),
                    fix: format!("merchant-desk-relay shops pair-owner {} and type the code on the owner's desk (relay pair)", shop.slug),
                },
                detail: format!("{} entries in the log", bounds.last_seq),
            });
        }
        for desk in active {
            let seen = desk
                .last_seen_at
                .map_or("never".to_owned(), |t| ago(now, t));
            let behind = bounds.last_seq - desk.acked_seq;
            let detail = format!(
                "desk {} {} ({}): last seen {seen}, read through {} of {}",
                desk.id,
                desk.name,
                desk.role.as_str(),
                desk.acked_seq,
                bounds.last_seq
            );
            let quiet = desk.last_seen_at.is_none_or(|t| now - t > QUIET_SECS);
            findings.push(if quiet && behind > 0 {
                Finding {
                    check: check.clone(),
                    verdict: Verdict::Warning {
                        problem: format!("{behind} entries wait for a desk not seen for a day or more"),
                        fix: "start that desk (it resumes where it stopped), or revoke it: merchant-desk-relay desks revoke".into(),
                    },
                    detail,
                }
            } else {
                Finding::ok(check.clone(), detail)
            });
        }
    }
    findings
}

/// Payment notifications waiting more than this for the backend's handler are reported.
pub const FORWARD_LATE_SECS: i64 = 600;

/// How passing payment notifications on to the backend goes.
async fn forwarding<S: Store>(
    store: &S,
    shop: &crate::store::Shop,
    url: &str,
    now: i64,
) -> Finding {
    let check = format!("shop {} ({}) forwarding", shop.slug, shop.name);
    let backlog = match store.forward_backlog(shop.id).await {
        Ok(backlog) => backlog,
        Err(error) => {
            return Finding {
                check,
                verdict: Verdict::Failed {
                    problem: error.to_string(),
                    fix: "check the database".into(),
                },
                detail: url.to_owned(),
            };
        }
    };
    let detail = format!("to {url}: {} waiting", backlog.pending);
    match backlog.oldest {
        Some(oldest) if now - oldest > FORWARD_LATE_SECS => Finding {
            check,
            verdict: Verdict::Warning {
                problem: format!(
                    "the backend has not taken payment notifications for {}",
                    ago(now, oldest).trim_end_matches(" ago")
                ),
                fix: "check the backend's handler answers <return_code>SUCCESS</return_code>; the relay keeps trying".into(),
            },
            detail,
        },
        _ => Finding::ok(check, detail),
    }
}

/// GET `{url}/healthz` with TLS verified: the relay answers there.
async fn reach(url: &str, extra_ca: Option<&[u8]>) -> Finding {
    let check = "public address";
    let base = url.trim_end_matches('/');
    let failed = |problem: String, fix: &str| Finding {
        check: check.into(),
        verdict: Verdict::Failed {
            problem,
            fix: fix.into(),
        },
        detail: base.to_owned(),
    };
    if !base.starts_with("https://") {
        return failed(
            "the public address is not https://".into(),
            "WeChat calls notify_url over HTTPS: put the relay behind the shop's HTTPS proxy or serve --tls-cert",
        );
    }
    let client = match wxpay_client::verified_client_builder(extra_ca).and_then(|b| {
        b.timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| wxpay_client::SetupError::Client(e.to_string()))
    }) {
        Ok(client) => client,
        Err(error) => return failed(error.to_string(), "check the CA file"),
    };
    match client.get(format!("{base}{}", paths::HEALTH)).send().await {
        Ok(reply) if reply.status().is_success() => match reply.text().await.as_deref() {
            Ok("ok") => Finding::ok(check, format!("{base}: reached over verified HTTPS")),
            _ => failed(
                "something else answers there".into(),
                "point the proxy's location at the relay's --listen address",
            ),
        },
        Ok(reply) => failed(
            format!("answered {}", reply.status()),
            "point the proxy's location at the relay's --listen address",
        ),
        Err(error) => failed(
            wxpay_client::describe_failure(error).to_string(),
            "check DNS, the firewall, the proxy and its certificate (a public CA, or --ca for your own)",
        ),
    }
}
