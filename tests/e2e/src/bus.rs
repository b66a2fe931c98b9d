//! Desktop notifications as the session bus carries them: a notification daemon (dunst) and a
//! bus monitor (zbus, `org.freedesktop.DBus.Monitoring`) recording every
//! `org.freedesktop.Notifications.Notify` call, decoded by its D-Bus signature, and every
//! subscription to clicks (`AddMatch` for `ActionInvoked`).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::message::Type;
use zbus::zvariant::OwnedValue;

use crate::eventually;

/// One `Notify` call: who sent it and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// dunst, owning `org.freedesktop.Notifications` on the session bus. A daemon the bus already
/// started (D-Bus activation on an earlier notification) is used as it is.
#[derive(Debug)]
pub struct NotificationDaemon(Option<Child>);

impl NotificationDaemon {
    pub fn start() -> NotificationDaemon {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no session bus: run the end-to-end tests with scripts/e2e.sh (dbus-run-session)"
        );
        if Self::owned() {
            // Earlier tests' notifications would stand in front of this test's.
            let _ = Command::new("dunstctl").arg("close-all").status();
            return NotificationDaemon(None);
        }
        let child = Command::new("dunst")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dunst did not start ({e}): install the dunst package"));
        eventually(
            "dunst to own the notification service",
            Duration::from_secs(10),
            || Self::owned().then_some(()),
        );
        NotificationDaemon(Some(child))
    }

    fn owned() -> bool {
        Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
    }

    /// Clicks the first notification shown (dunst's default action), as a user would, once
    /// dunst shows one and `listeners` subscriptions to clicks have been made (the sender of a
    /// notification subscribes only after `Notify` returns: a click before that is lost, for
    /// a person as for a test, but a person is never that quick).
    pub fn click_first(&self, monitor: &NotificationMonitor, listeners: usize) {
        eventually(
            "the app to listen for a click on its notification",
            Duration::from_secs(20),
            || (monitor.click_listeners() >= listeners).then_some(()),
        );
        eventually(
            "dunst to show the notification",
            Duration::from_secs(20),
            || (displayed() > 0).then_some(()),
        );
        let status = Command::new("dunstctl")
            .arg("action")
            .arg("0")
            .status()
            .expect("dunstctl runs");
        assert!(status.success(), "dunstctl action failed: {status}");
    }
}

/// How many notifications dunst shows now.
fn displayed() -> usize {
    Command::new("dunstctl")
        .args(["count", "displayed"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(0)
}

impl Drop for NotificationDaemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Records the `Notify` calls on the session bus from the moment [`NotificationMonitor::start`]
/// returns (the bus has made its connection a monitor by then).
#[derive(Debug)]
pub struct NotificationMonitor {
    seen: Arc<Mutex<Vec<Notification>>>,
    click_listeners: Arc<Mutex<usize>>,
}

/// `Notify`'s arguments: app_name, replaces_id, app_icon, summary, body, actions, hints,
/// expire_timeout.
type NotifyCall = (
    String,
    u32,
    String,
    String,
    String,
    Vec<String>,
    HashMap<String, OwnedValue>,
    i32,
);

const RULES: [&str; 2] = [
    "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
    "type='method_call',interface='org.freedesktop.DBus',member='AddMatch'",
];

impl NotificationMonitor {
    pub fn start() -> NotificationMonitor {
        let connection = zbus::blocking::Connection::session()
            .unwrap_or_else(|e| panic!("no session bus ({e}): run under dbus-run-session"));
        connection
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus.Monitoring"),
                "BecomeMonitor",
                &(RULES.as_slice(), 0u32),
            )
            .unwrap_or_else(|e| panic!("the session bus refused a monitor: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let click_listeners = Arc::new(Mutex::new(0));
        let (sink, listeners) = (seen.clone(), click_listeners.clone());
        // Ends with the test process (the monitor connection is never closed before).
        std::thread::spawn(move || {
            for message in zbus::blocking::MessageIterator::from(connection).map_while(Result::ok) {
                match observed(&message) {
                    Some(Observed::Notify(notification)) => sink
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(notification),
                    Some(Observed::ClickSubscription) => {
                        *listeners.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    }
                    None => {}
                }
            }
        });
        NotificationMonitor {
            seen,
            click_listeners,
        }
    }

    /// How many subscriptions to notification clicks were made since the monitor started.
    pub fn click_listeners(&self) -> usize {
        *self
            .click_listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a notification whose summary contains `summary`.
    pub fn wait_for(&self, summary: &str) -> Notification {
        eventually(
            &format!("a desktop notification {summary:?}"),
            Duration::from_secs(20),
            || {
                self.seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .find(|n| n.summary.contains(summary))
                    .cloned()
            },
        )
    }

    pub fn all(&self) -> Vec<Notification> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What the monitor looks for on the bus.
#[derive(Debug, PartialEq, Eq)]
enum Observed {
    Notify(Notification),
    ClickSubscription,
}

fn observed(message: &zbus::Message) -> Option<Observed> {
    if message.message_type() != Type::MethodCall {
        return None;
    }
    let header = message.header();
    let interface = header.interface()?.as_str();
    let member = header.member()?.as_str();
    match (interface, member) {
        ("org.freedesktop.Notifications", "Notify") => {
            let (app_name, _replaces, _icon, summary, body, ..): NotifyCall =
                message.body().deserialize().ok()?;
            Some(Observed::Notify(Notification {
                app_name,
                summary,
                body,
            }))
        }
        ("org.freedesktop.DBus", "AddMatch") => {
            let rule: String = message.body().deserialize().ok()?;
            is_click_subscription(&rule).then_some(Observed::ClickSubscription)
        }
        _ => None,
    }
}

/// An `AddMatch` rule that subscribes to clicks.
fn is_click_subscription(rule: &str) -> bool {
    rule.contains("member='ActionInvoked'")
        && rule.contains("interface='org.freedesktop.Notifications'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(interface: &str, member: &str) -> zbus::message::Builder<'static> {
        zbus::Message::method_call("/org/freedesktop/Notifications", member.to_owned())
            .unwrap()
            .interface(interface.to_owned())
            .unwrap()
    }

    #[test]
    fn notify_calls_are_decoded_whole_multi_line_bodies_included() {
        let hints = HashMap::from([(
            "category".to_owned(),
            OwnedValue::try_from(zbus::zvariant::Value::from("transfer.complete")).unwrap(),
        )]);
        let args: NotifyCall = (
            "Merchant Desk".into(),
            0,
            "merchant-desk".into(),
            "新订单 ¥128.00".into(),
            "订单 SIM1\n14:05:09 \"到账\"".into(),
            vec!["default".into(), "open".into()],
            hints,
            -1,
        );
        let message = call("org.freedesktop.Notifications", "Notify")
            .build(&args)
            .unwrap();
        assert_eq!(
            observed(&message),
            Some(Observed::Notify(Notification {
                app_name: "Merchant Desk".into(),
                summary: "新订单 ¥128.00".into(),
                body: "订单 SIM1\n14:05:09 \"到账\"".into(),
            }))
        );
        let other = call("org.freedesktop.Notifications", "GetServerInformation")
            .build(&())
            .unwrap();
        assert_eq!(observed(&other), None);
    }

    #[test]
    fn click_subscriptions_are_recognised() {
        let rule = |member: &str| {
            call("org.freedesktop.DBus", "AddMatch")
                .build(&(format!(
                    "type='signal',interface='org.freedesktop.Notifications',member='{member}'"
                ),))
                .unwrap()
        };
        assert_eq!(
            observed(&rule("ActionInvoked")),
            Some(Observed::ClickSubscription)
        );
        assert_eq!(observed(&rule("NotificationClosed")), None);
    }
}
