//! Desktop notifications as the session bus carries them: a notification daemon (dunst) and
//! `dbus-monitor` recording every `org.freedesktop.Notifications.Notify` call, and every
//! subscription to clicks (`AddMatch` for `ActionInvoked`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Records the `Notify` calls on the session bus from the moment it starts.
#[derive(Debug)]
pub struct NotificationMonitor {
    child: Child,
    seen: Arc<Mutex<Vec<Notification>>>,
    click_listeners: Arc<Mutex<usize>>,
}

impl NotificationMonitor {
    pub fn start() -> NotificationMonitor {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
                "type='method_call',interface='org.freedesktop.DBus',member='AddMatch'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dbus-monitor did not start ({e}): install dbus-bin"));
        let stdout = child.stdout.take().expect("dbus-monitor's output is piped");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let click_listeners = Arc::new(Mutex::new(0));
        let (sink, listeners) = (seen.clone(), click_listeners.clone());
        std::thread::spawn(move || {
            let mut parser = MonitorParser::default();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if is_click_subscription(&line) {
                    *listeners.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                }
                if let Some(notification) = parser.line(&line) {
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(notification);
                }
            }
        });
        // dbus-monitor prints the NameAcquired signal once it is listening.
        std::thread::sleep(Duration::from_millis(500));
        NotificationMonitor {
            child,
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

impl Drop for NotificationMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Turns dbus-monitor's text into `Notify` calls. A call is a header line
/// (`method call … member=Notify`) followed by indented arguments; the string arguments come in
/// the order app_name, app_icon, summary, body, then the actions and hints.
#[derive(Debug, Default)]
struct MonitorParser {
    strings: Option<Vec<String>>,
}

impl MonitorParser {
    fn line(&mut self, line: &str) -> Option<Notification> {
        if !line.starts_with(' ') {
            let finished = self.strings.take().and_then(finish);
            if line.starts_with("method call") && line.contains("member=Notify") {
                self.strings = Some(Vec::new());
            }
            return finished;
        }
        if let (Some(strings), Some(value)) = (&mut self.strings, string_argument(line)) {
            strings.push(value);
            // The body is the fourth string: report the call now and skip the rest of it.
            if strings.len() == 4 {
                return self.strings.take().and_then(finish);
            }
        }
        None
    }
}

fn finish(strings: Vec<String>) -> Option<Notification> {
    let mut strings = strings.into_iter();
    let app_name = strings.next()?;
    let _icon = strings.next()?;
    Some(Notification {
        app_name,
        summary: strings.next()?,
        body: strings.next()?,
    })
}

/// The match rule of an `AddMatch` call (its only argument) that subscribes to clicks.
fn is_click_subscription(line: &str) -> bool {
    string_argument(line).is_some_and(|rule| {
        rule.contains("member='ActionInvoked'")
            && rule.contains("interface='org.freedesktop.Notifications'")
    })
}

/// `   string "text"` → `text` (dbus-monitor prints strings raw between quotes).
fn string_argument(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("string \"")?;
    Some(rest.strip_suffix('"').unwrap_or(rest).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_calls_are_read_from_dbus_monitor_output() {
        let output = "\
signal time=1.0 sender=org.freedesktop.DBus -> destination=:1.7 serial=2 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=NameAcquired
   string \":1.7\"
method call time=2.0 sender=:1.5 -> destination=org.freedesktop.Notifications serial=9 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string \"Merchant Desk\"
   uint32 0
   string \"merchant-desk\"
   string \"新订单 ¥128.00\"
   string \"订单 SIM1 · 14:05:09\"
   array [
      string \"default\"
      string \"open\"
   ]
   array [
      dict entry(
         string \"category\"
         variant             string \"transfer.complete\"
      )
   ]
   int32 -1
method call time=3.0 sender=:1.5 -> destination=org.freedesktop.Notifications serial=10 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=GetServerInformation
";
        let mut parser = MonitorParser::default();
        let found: Vec<Notification> = output.lines().filter_map(|l| parser.line(l)).collect();
        assert_eq!(
            found,
            vec![Notification {
                app_name: "Merchant Desk".into(),
                summary: "新订单 ¥128.00".into(),
                body: "订单 SIM1 · 14:05:09".into(),
            }]
        );
    }

    #[test]
    fn click_subscriptions_are_recognised() {
        let output = "\
method call time=2.1 sender=:1.6 -> destination=org.freedesktop.DBus serial=3 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=AddMatch
   string \"type='signal',interface='org.freedesktop.Notifications',member='ActionInvoked'\"
method call time=2.2 sender=:1.6 -> destination=org.freedesktop.DBus serial=4 path=/org/freedesktop/DBus; interface=org.freedesktop.DBus; member=AddMatch
   string \"type='signal',interface='org.freedesktop.Notifications',member='NotificationClosed'\"
";
        let found = output.lines().filter(|l| is_click_subscription(l)).count();
        assert_eq!(found, 1);
    }
}
