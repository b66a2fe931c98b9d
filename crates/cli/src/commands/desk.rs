//! What every desk command shares: which data directory, and whether to answer in JSON.

use std::path::PathBuf;

use clap::Args;
use desk_core::Store;
use desk_runtime::{
    Books, Config, DATA_DIR_ENV, DataDir, DeskLock, Mode, RuntimeError, adopt_legacy_database,
};
use serde::Serialize;

use super::CliError;

#[derive(Debug, Clone, Args)]
pub struct DeskArgs {
    /// The desk's data directory (database, config.toml). Default: the platform data
    /// directory, e.g. ~/.local/share/merchant-desk.
    #[arg(long, env = DATA_DIR_ENV, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON for scripts (errors too, on standard error).
    #[arg(long, global = true)]
    pub json: bool,
    /// The sandbox (the built-in simulator, no real money) instead of the mode config.toml
    /// names: `serve` runs it, the other commands read its books.
    #[arg(long, global = true)]
    pub sandbox: bool,
}

impl DeskArgs {
    pub fn dir(&self) -> Result<DataDir, CliError> {
        Ok(DataDir::resolve(self.data_dir.clone()).map_err(desk_runtime::RuntimeError::from)?)
    }

    /// The books of the mode asked for (the configured one, or the sandbox with `--sandbox`)
    /// of a desk that has run at least once; nothing is created by asking.
    pub fn existing_store(&self) -> Result<Store, CliError> {
        let dir = self.dir()?;
        let config = Config::load(&dir.config())
            .map_err(RuntimeError::from)?
            .ok_or_else(|| CliError::NoDesk(dir.root().to_owned()))?;
        let mode = if self.sandbox {
            Mode::Sandbox
        } else {
            config.mode
        };
        if dir.root().join("desk.sqlite3").exists() {
            // Books from before the modes were kept apart: moved once, under the desk's lock.
            let _lock = DeskLock::acquire(&dir.lock(), dir.root()).map_err(RuntimeError::from)?;
            adopt_legacy_database(&dir, &config).map_err(RuntimeError::from)?;
        }
        let path = Books::of(&config, mode, &dir)?.database(&dir);
        if !path.exists() {
            return Err(CliError::NoDesk(dir.root().to_owned()));
        }
        Ok(Store::open(&path).map_err(RuntimeError::from)?)
    }

    /// `value` as JSON, or the human text.
    pub fn render<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<String, CliError> {
        if self.json {
            serde_json::to_string_pretty(value).map_err(|e| CliError::Output(e.into()))
        } else {
            Ok(human(value))
        }
    }
}
