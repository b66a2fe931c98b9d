//! What can stop a benchmark.

use crate::load::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the desk: {0}")]
    Runtime(#[from] desk_runtime::RuntimeError),
    #[error("the data directory: {0}")]
    Files(#[from] desk_runtime::FileError),
    #[error("the desk's database: {0}")]
    Core(#[from] desk_core::CoreError),
    #[error("the desk database: {0}")]
    Store(#[from] desk_core::StoreError),
    #[error("seeding: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the load: {0}")]
    Load(#[from] LoadError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
