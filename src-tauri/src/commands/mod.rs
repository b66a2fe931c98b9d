//! The window's commands, one module per screen. Each takes the app state, checks who may do
//! it, calls one desk function and maps the error to `{code, message}`.

pub mod access;
pub mod alerts;
pub mod logs;
pub mod orders;
pub mod queue;
pub mod relay;
pub mod settings;
pub mod setup;
pub mod status;

/// Every command name (the permissions and the bindings are made from the same list).
pub const NAMES: &[&str] = include!("names.in");

/// Lists are capped so a year of orders never floods the window.
pub(crate) fn limit(asked: Option<u32>) -> usize {
    asked.unwrap_or(200).clamp(1, 1000) as usize
}
