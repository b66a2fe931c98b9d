//! What the shell holds while it runs: the data directory, the running desk (replaced when the
//! owner switches between sandbox and production), the owner's door and the alert policy.

use std::sync::{Arc, Mutex};

use desk_core::Store;
use desk_runtime::{Access, Alerter, Config, Language, Mode, RunningDesk};
use tokio::sync::RwLock;

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::launch::Launch;

pub struct AppState {
    pub launch: Launch,
    desk: RwLock<Result<RunningDesk, IpcError>>,
    /// Shared with blocking work (an approval checks the PIN and writes in one go).
    pub access: Arc<Access>,
    /// The alert policy, shared with the desk's alert delivery.
    pub alerter: Arc<Mutex<Alerter>>,
    pub speaker: crate::speaker::Speaker,
    pub on_screen: crate::notify::OnScreen,
    pub language: Mutex<Language>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.launch.data_dir.root())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Starts the desk; a desk that cannot start is kept as the error the window shows.
    pub async fn start(launch: Launch) -> AppState {
        let desk = RunningDesk::start(launch.start_options())
            .await
            .map_err(IpcError::from);
        let config = match &desk {
            Ok(desk) => desk.config().clone(),
            Err(_) => Config::load(&launch.data_dir.config())
                .ok()
                .flatten()
                .unwrap_or_default(),
        };
        let access = Arc::new(Access::of(&config, &launch.data_dir));
        AppState {
            launch,
            desk: RwLock::new(desk),
            access,
            alerter: Arc::new(Mutex::new(Alerter::new(
                config.alerts.clone(),
                config.language,
            ))),
            speaker: crate::speaker::Speaker::start(|notice| {
                eprintln!("merchant-desk: {notice}");
            }),
            on_screen: crate::notify::OnScreen::default(),
            language: Mutex::new(config.language),
        }
    }

    /// The running desk's store, or why there is none.
    pub async fn store(&self) -> IpcResult<Arc<Store>> {
        match &*self.desk.read().await {
            Ok(desk) => Ok(desk.store().clone()),
            Err(error) => Err(error.clone()),
        }
    }

    pub async fn desk(&self) -> tokio::sync::RwLockReadGuard<'_, Result<RunningDesk, IpcError>> {
        self.desk.read().await
    }

    /// Stops the desk and starts it again with the saved configuration (after a mode switch or
    /// new merchant settings).
    pub async fn restart(&self) -> IpcResult<Mode> {
        let mut slot = self.desk.write().await;
        let old = std::mem::replace(
            &mut *slot,
            Err(IpcError::new(ErrorCode::DeskUnavailable, "restarting")),
        );
        if let Ok(desk) = old {
            desk.shutdown().await;
        }
        *slot = RunningDesk::start(self.launch.start_options())
            .await
            .map_err(IpcError::from);
        match &*slot {
            Ok(desk) => Ok(desk.mode()),
            Err(error) => Err(error.clone()),
        }
    }

    /// Stops the desk cleanly (the app is closing).
    pub async fn shutdown(&self) {
        let mut slot = self.desk.write().await;
        let old = std::mem::replace(
            &mut *slot,
            Err(IpcError::new(
                ErrorCode::DeskUnavailable,
                "the app is closing",
            )),
        );
        if let Ok(desk) = old {
            desk.shutdown().await;
        }
    }

    /// Runs SQLite work off the async workers.
    pub async fn with_store<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<R, desk_core::CoreError> + Send + 'static,
    ) -> IpcResult<R> {
        let store = self.store().await?;
        tauri::async_runtime::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| IpcError::new(ErrorCode::Storage, e.to_string()))?
            .map_err(IpcError::from)
    }

    /// Reads, changes and saves `config.toml`.
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) -> IpcResult<Config> {
        let path = self.launch.data_dir.config();
        let mut config = Config::load(&path)
            .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))?
            .unwrap_or_default();
        change(&mut config);
        config
            .save(&path)
            .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))?;
        Ok(config)
    }

    pub fn config(&self) -> IpcResult<Config> {
        Config::load(&self.launch.data_dir.config())
            .map_err(|e| IpcError::new(ErrorCode::Setup, e.to_string()))
            .map(Option::unwrap_or_default)
    }

    pub fn language(&self) -> Language {
        *self.language.lock().unwrap_or_else(|p| p.into_inner())
    }
}
