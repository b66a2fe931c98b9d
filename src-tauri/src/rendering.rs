//! How the window is drawn. WebKitGTK's accelerated compositing redraws the whole window for
//! every change; without a GPU (software GL, remote desktops, Xvfb) that took 70–90 ms a frame
//! for a change of the queue's tab, and its buffers about 140 MB. The desk is tables and forms:
//! WebKit draws just what changed without it (a tab's new rows in 6–14 ms). A shop that wants
//! compositing back starts the app with `MERCHANT_DESK_COMPOSITING=on`.
//!
//! Without compositing the window's own process draws with cairo and needs no GL, yet GTK and
//! WebKit load the GL driver into it all the same (on a machine without a GPU, Mesa's llvmpipe:
//! about 55 MB resident of the app's 168). [`keep_gl_out_of_window_process`] keeps it out;
//! WebKit's web process, which draws the page, still loads it.

pub const COMPOSITING_ENV: &str = "MERCHANT_DESK_COMPOSITING";

/// libglvnd's list of EGL drivers to load; empty means none.
// GTK's GL exists only on Linux; the decisions below stay testable everywhere.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const EGL_VENDORS_ENV: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";
/// GDK's GL switches: `disable` keeps GDK from opening GLX for the window.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const GDK_GL_ENV: &str = "GDK_GL";

/// Whether the window keeps WebKit's accelerated compositing (off unless asked for).
pub fn compositing_wanted(env: impl Fn(&str) -> Option<String>) -> bool {
    env(COMPOSITING_ENV).is_some_and(|value| matches!(value.trim(), "on" | "1" | "yes"))
}

/// Turns accelerated compositing off in the window's web view. Called while the app sets up;
/// WebKit leaves compositing mode for a page already loading.
#[cfg(target_os = "linux")]
pub fn draw_without_compositing(window: &tauri::WebviewWindow) {
    let applied = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(error) = applied {
        // Slower drawing, never a missing window.
        eprintln!("merchant-desk: accelerated compositing stays on: {error}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn draw_without_compositing(_window: &tauri::WebviewWindow) {}

/// What [`keep_gl_out_of_window_process`] changes, decided from the environment.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, PartialEq, Eq)]
pub struct GlFree {
    /// Set `GDK_GL=disable` (unless the user set `GDK_GL` already).
    pub disable_gdk_gl: bool,
}

/// Whether to keep the GL driver out of the window's process: when compositing is off, on
/// X11 (Wayland untried), and unless the user chose the EGL drivers themselves.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn gl_free(env: impl Fn(&str) -> Option<String>) -> Option<GlFree> {
    let set = |name: &str| env(name).is_some_and(|value| !value.is_empty());
    let x11 = env("GDK_BACKEND").is_some_and(|backend| backend.starts_with("x11"))
        || !set("WAYLAND_DISPLAY");
    if compositing_wanted(&env) || !x11 || env(EGL_VENDORS_ENV).is_some() {
        return None;
    }
    Some(GlFree {
        disable_gdk_gl: env(GDK_GL_ENV).is_none(),
    })
}

/// Keeps the GL driver out of this process when [`gl_free`] says so. Must run first in
/// `main`, before any thread starts: it changes the process's environment.
#[cfg(target_os = "linux")]
pub fn keep_gl_out_of_window_process() {
    if let Some(plan) = gl_free(|name| std::env::var(name).ok()) {
        environment::apply(&plan);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn keep_gl_out_of_window_process() {}

/// The only unsafe code of the app: changing the environment and one call into libEGL.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod environment {
    use super::{EGL_VENDORS_ENV, GDK_GL_ENV, GlFree};

    pub fn apply(plan: &GlFree) {
        // SAFETY (all three): called first in `main`, before any thread starts, so nothing
        // reads the environment while it changes.
        unsafe { std::env::set_var(EGL_VENDORS_ENV, "") };
        if plan.disable_gdk_gl {
            unsafe { std::env::set_var(GDK_GL_ENV, "disable") };
        }
        load_no_egl_drivers();
        // WebKit's web process, started later, inherits the environment and loads the driver.
        unsafe { std::env::remove_var(EGL_VENDORS_ENV) };
    }

    /// libglvnd reads its driver list once, at the first EGL call: make that call now, while
    /// the list is empty. A machine without libEGL has nothing to keep out.
    fn load_no_egl_drivers() {
        const EGL_EXTENSIONS: i32 = 0x3055;
        type QueryString =
            unsafe extern "C" fn(*mut std::ffi::c_void, i32) -> *const std::ffi::c_char;
        // SAFETY: libEGL.so.1 is the system's EGL (WebKit links it, so it is loaded already);
        // eglQueryString has this C signature, and EGL_NO_DISPLAY (null) asks for the client
        // extensions, which reads nothing we pass.
        unsafe {
            let Ok(egl) = libloading::Library::new("libEGL.so.1") else {
                return;
            };
            if let Ok(query) = egl.get::<QueryString>(b"eglQueryString\0") {
                query(std::ptr::null_mut(), EGL_EXTENSIONS);
            }
            // Stays loaded, as WebKit uses it: no dlclose.
            std::mem::forget(egl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositing_is_off_unless_asked_for() {
        let env = |value: Option<&'static str>| move |_: &str| value.map(str::to_owned);
        assert!(!compositing_wanted(env(None)));
        assert!(!compositing_wanted(env(Some("off"))));
        assert!(!compositing_wanted(env(Some(""))));
        assert!(compositing_wanted(env(Some("on"))));
        assert!(compositing_wanted(env(Some(" 1 "))));
    }

    fn environment(
        vars: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn gl_stays_out_of_an_x11_window_without_compositing() {
        let plan = gl_free(environment(&[("DISPLAY", ":0")]));
        assert_eq!(
            plan,
            Some(GlFree {
                disable_gdk_gl: true
            })
        );
        let forced_x11 = environment(&[("WAYLAND_DISPLAY", "wayland-0"), ("GDK_BACKEND", "x11")]);
        assert!(gl_free(forced_x11).is_some());
    }

    #[test]
    fn the_users_own_gl_settings_are_kept() {
        let gdk = gl_free(environment(&[("GDK_GL", "gles")]));
        assert_eq!(
            gdk,
            Some(GlFree {
                disable_gdk_gl: false
            })
        );
        let vendors = environment(&[(EGL_VENDORS_ENV, "/etc/my_egl.json")]);
        assert_eq!(gl_free(vendors), None);
        let compositing = environment(&[(COMPOSITING_ENV, "on")]);
        assert_eq!(gl_free(compositing), None);
    }

    #[test]
    fn wayland_keeps_its_gl() {
        let wayland = environment(&[("WAYLAND_DISPLAY", "wayland-0")]);
        assert_eq!(gl_free(wayland), None);
    }
}
