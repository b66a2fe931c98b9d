//! What a server process (the desk, the relay) sets up before it writes anything or accepts a
//! connection: files private to the user whatever umask it was started with, and as many open
//! files as the system allows (a shell's usual soft limit of 1,024 is few for doors that
//! strangers can reach).

/// The open-file limit after [`prepare`]: what the connection caps are sized from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit now in force (`None`: unlimited or unknown).
    pub limit: Option<u64>,
    /// It was raised from this.
    pub raised_from: Option<u64>,
}

/// The soft open-file limit is raised this far at most: more than the caps need.
#[cfg(unix)]
const WANTED_OPEN_FILES: u64 = 65_536;

/// Sets the umask to 077 (new files 0600, new folders 0700) and raises the soft open-file limit
/// toward the hard one. Idempotent; every door calls it first.
pub fn prepare() -> OpenFiles {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        rustix::process::umask(Mode::from_raw_mode(0o077));
        let before = getrlimit(Resource::Nofile);
        let Some(current) = before.current else {
            return OpenFiles {
                limit: None,
                raised_from: None,
            };
        };
        let wanted = before
            .maximum
            .map_or(WANTED_OPEN_FILES, |hard| hard.min(WANTED_OPEN_FILES));
        if wanted > current
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(wanted),
                    maximum: before.maximum,
                },
            )
            .is_ok()
        {
            return OpenFiles {
                limit: Some(wanted),
                raised_from: Some(current),
            };
        }
        OpenFiles {
            limit: Some(current),
            raised_from: None,
        }
    }
    #[cfg(not(unix))]
    {
        OpenFiles {
            limit: None,
            raised_from: None,
        }
    }
}
