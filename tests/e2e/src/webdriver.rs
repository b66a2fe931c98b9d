//! A small W3C WebDriver client (JSON over HTTP) for tauri-driver, which starts the app and
//! forwards to WebKitWebDriver. Elements are found by CSS selector, usually `[data-testid=…]`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::eventually;

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for something in the window lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// One app window under tauri-driver; the app and the driver stop when this is dropped.
#[derive(Debug)]
pub struct Window {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    /// Where a failed wait leaves a screenshot of the window.
    failures: PathBuf,
}

impl Window {
    /// Starts tauri-driver on free ports and opens `application` with `args` in a new session.
    pub fn open(application: &Path, args: &[String]) -> Window {
        Window::open_with_env(application, args, &[])
    }

    /// Like [`Window::open`], the app (started by the driver) seeing `env` too.
    pub fn open_with_env(application: &Path, args: &[String], env: &[(&str, String)]) -> Window {
        assert!(
            application.is_file(),
            "no app at {}: build it with `cargo build -p merchant-desk` (scripts/e2e.sh does)",
            application.display()
        );
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no display: run the end-to-end tests with scripts/e2e.sh (Xvfb and a session bus)"
        );
        let (port, native_port) = (free_port(), free_port());
        let driver = Command::new(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("tauri-driver did not start ({e}): `cargo install tauri-driver --locked`")
            });
        // tauri-driver forwards to WebKitWebDriver, which it starts: both must listen.
        eventually("tauri-driver and WebKitWebDriver to listen", WAIT, || {
            TcpStream::connect(("127.0.0.1", port)).ok()?;
            TcpStream::connect(("127.0.0.1", native_port)).ok()
        });
        let http = crate::http_client(Duration::from_secs(60));
        let base = format!("http://127.0.0.1:{port}");
        let mut window = Window {
            driver,
            base,
            session: String::new(),
            http,
            failures: crate::workspace_root().join("target/e2e-failures"),
        };
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": application, "args": args },
        }}});
        // A driver that has only just started may drop the first connection (nothing was
        // opened then); a WebDriver error is an answer and fails the test.
        let created = eventually("WebDriver to open a session", WAIT, || {
            window
                .send("POST", "/session", Some(capabilities.clone()))
                .ok()
        });
        let created = created.unwrap_or_else(|error| panic!("WebDriver POST /session: {error}"));
        window.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("tauri-driver opened no session: {created}"))
            .to_owned();
        window
    }

    /// One WebDriver command; a WebDriver error fails the test with its message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body) {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {method} {path}: {error}"),
        }
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.send(method, path, body)?
    }

    /// The outer error is the transport's (no answer); the inner one is WebDriver's answer.
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Result<Value, String>, String> {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let request = match (method, body) {
            ("GET", _) => self.http.get(&url),
            ("DELETE", _) => self.http.delete(&url),
            (_, body) => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request.send().map_err(|e| e.to_string())?;
        let status = response.status();
        let answer: Value = response.json().map_err(|e| e.to_string())?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        Ok(if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{} {}", value["error"], value["message"]))
        })
    }

    /// The element matching `css` now, if there is one.
    fn find(&self, css: &str) -> Option<String> {
        let found = self
            .try_call(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .ok()?;
        found[ELEMENT_KEY].as_str().map(str::to_owned)
    }

    fn displayed(&self, element: &str) -> bool {
        self.try_call("GET", &format!("/element/{element}/displayed"), None)
            .is_ok_and(|shown| shown == Value::Bool(true))
    }

    fn enabled(&self, element: &str) -> bool {
        self.try_call("GET", &format!("/element/{element}/enabled"), None)
            .is_ok_and(|enabled| enabled == Value::Bool(true))
    }

    /// Waits until nothing in the window moves (dialogs, drawers and tabs animate in; spinners,
    /// which turn forever, do not count), so a click lands where it aims and a screenshot shows
    /// the screen as a user sees it.
    pub fn settle(&self) {
        self.eventually("the window's animations to finish", WAIT, || {
            let running = self.execute(
                "return document.getAnimations().filter(a => a.playState === 'running'
                   && a.effect && a.effect.getComputedTiming().iterations !== Infinity).length",
            );
            (running == json!(0)).then_some(())
        });
    }

    /// Waits until an element matching `css` is shown and returns it.
    pub fn wait(&self, css: &str) -> String {
        self.wait_for(css, WAIT)
    }

    pub fn wait_for(&self, css: &str, timeout: Duration) -> String {
        self.eventually(&format!("`{css}` to be shown"), timeout, || {
            self.find(css).filter(|e| self.displayed(e))
        })
    }

    /// Whether an element matching `css` is shown now.
    pub fn is_shown(&self, css: &str) -> bool {
        self.find(css).is_some_and(|e| self.displayed(&e))
    }

    /// Waits for `css` and for the window to stop moving, then clicks it. A click that lands on
    /// something else (a dialog still fading out, a row re-rendering) is tried again until the
    /// wait runs out.
    pub fn click(&self, css: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            // A dialog that is still scaling in moves its buttons under the pointer.
            self.settle();
            // A disabled button takes the click and does nothing: wait until it can act.
            let element = self.eventually(&format!("`{css}` to be enabled"), WAIT, || {
                self.find(css)
                    .filter(|e| self.displayed(e) && self.enabled(e))
            });
            match self.try_call("POST", &format!("/element/{element}/click"), None) {
                Ok(_) => return,
                Err(error) if std::time::Instant::now() > deadline => {
                    let shot = self.save_failure(css);
                    panic!("clicking `{css}` failed: {error}; the window is in {shot}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Polls `probe` like [`crate::eventually`], leaving a screenshot when it times out.
    pub fn eventually<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if std::time::Instant::now() > deadline {
                let shot = self.save_failure(what);
                panic!("timed out after {timeout:?} waiting for {what}; the window is in {shot}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks `css` if it is there; whether the click landed (a second click on a button that
    /// has just closed its dialog does not).
    pub fn try_click(&self, css: &str) -> bool {
        self.find(css).is_some_and(|element| {
            self.try_call("POST", &format!("/element/{element}/click"), None)
                .is_ok()
        })
    }

    /// Waits for `css` and returns its visible text.
    pub fn text(&self, css: &str) -> String {
        let element = self.wait(css);
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the text of `css` contains `expected`.
    pub fn wait_for_text(&self, css: &str, expected: &str) -> String {
        self.eventually(&format!("`{css}` to say {expected:?}"), WAIT, || {
            Some(self.text(css)).filter(|text| text.contains(expected))
        })
    }

    /// Types `text` into the input inside (or at) `css`, replacing what was there.
    pub fn type_into(&self, css: &str, text: &str) {
        let input = self.wait(&format!(
            "{css} input, {css} textarea, input{css}, textarea{css}"
        ));
        // Select all and delete with the keyboard, then type: WebDriver's clear bypasses the
        // input events a Vue v-model listens to. Each call releases its modifier keys at the end.
        // (U+E009 Control, U+E003 Backspace.)
        for keys in ["\u{e009}a", "\u{e003}", text] {
            self.call(
                "POST",
                &format!("/element/{input}/value"),
                Some(json!({ "text": keys })),
            );
        }
    }

    /// Chooses `file` in the file input at `css`, as the file dialog would: WebDriver's keys to a
    /// file input are the chosen path.
    pub fn choose_file(&self, css: &str, file: &Path) {
        let input = self.wait(&format!("{css} input[type=file], input[type=file]{css}"));
        self.call(
            "POST",
            &format!("/element/{input}/value"),
            Some(json!({ "text": file.display().to_string() })),
        );
    }

    /// Runs `script` (a function body) in the window and returns its value.
    pub fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Runs `script` (a function body whose last argument is the callback to call with the
    /// result) and waits for its answer: how a test awaits a promise in the window.
    pub fn execute_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Resizes the window (screenshots are taken at one size).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// A PNG of the window's content.
    pub fn screenshot(&self) -> Vec<u8> {
        // WebKit takes the picture after its next drawing of the page, and without accelerated
        // compositing (the app's default, see src-tauri/src/rendering.rs) a page that does not
        // change is not drawn again: an invisible pixel changes every frame meanwhile.
        self.execute(
            "const dot = document.createElement('div'); dot.id = '__screenshot_tick'; \
             dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none'; \
             document.body.append(dot); let on = false; \
             const tick = () => { if (!dot.isConnected) return; on = !on; \
               dot.style.opacity = on ? '0.01' : '0.02'; requestAnimationFrame(tick); }; \
             requestAnimationFrame(tick);",
        );
        let encoded = self.call("GET", "/screenshot", None);
        self.execute("document.getElementById('__screenshot_tick')?.remove();");
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("WebDriver sends screenshots as base64")
    }

    fn save_failure(&self, what: &str) -> String {
        let name: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = self.failures.join(format!("{name}.png"));
        let saved = std::fs::create_dir_all(&self.failures)
            .and_then(|()| std::fs::write(&path, self.screenshot()));
        match saved {
            Ok(()) => path.display().to_string(),
            Err(error) => format!("no screenshot ({error})"),
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // Closing the session closes the app; then tauri-driver stops its WebKitWebDriver on
        // SIGTERM (a SIGKILL would leave it behind).
        let _ = self.try_call("DELETE", "", None);
        let _ = Command::new("kill")
            .args(["-TERM", &self.driver.id().to_string()])
            .status();
        let stopped = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            matches!(self.driver.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.driver.kill();
            let _ = self.driver.wait();
        }
    }
}

fn tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return path.into();
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"));
    cargo_bin
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "tauri-driver".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback has a free port")
}
