//! The voice that reads amounts aloud: Debian's `espeak-ng` with its `cmn-latn-pinyin` voice,
//! fed tone-numbered pinyin (`speech.rs`). Its `cmn` voice reads Chinese characters with many
//! mispronounced; pre-recorded clips spliced together (what payment speakers do) would need
//! recordings we cannot license or make well. espeak-ng runs offline, says any amount, and is
//! one Debian package. The shell plays the WAV it renders; tests check the WAV itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::speech::Phrase;

/// The program, found on PATH unless `MERCHANT_DESK_ESPEAK` names another.
pub const ESPEAK_ENV: &str = "MERCHANT_DESK_ESPEAK";
const VOICE: &str = "cmn-latn-pinyin";
/// Words per minute: a little slower than espeak's 175, as a shop speaker talks.
const SPEED: &str = "150";

/// Why nothing could be said.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error(
        "spoken amounts need espeak-ng, which was not found ({program}): install it (Debian/Ubuntu: sudo apt install espeak-ng)"
    )]
    Missing { program: PathBuf },
    #[error("espeak-ng could not speak (exit status {status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("espeak-ng wrote a sound the desk cannot read: {0}")]
    Unreadable(String),
    #[error("could not prepare the sound: {0}")]
    Io(#[from] std::io::Error),
}

/// Mono 16-bit sound, as espeak-ng renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

impl Sound {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.sample_rate.max(1)))
    }

    /// The loudest sample, 0 for silence.
    pub fn peak(&self) -> u16 {
        self.samples
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0)
    }
}

/// The espeak-ng program to run.
#[derive(Debug, Clone)]
pub struct Voice {
    program: PathBuf,
}

impl Voice {
    /// `espeak-ng` on PATH, unless `MERCHANT_DESK_ESPEAK` names another program.
    pub fn from_env() -> Voice {
        Voice::with_program(
            std::env::var_os(ESPEAK_ENV).map_or_else(|| PathBuf::from("espeak-ng"), PathBuf::from),
        )
    }

    pub fn with_program(program: impl Into<PathBuf>) -> Voice {
        Voice {
            program: program.into(),
        }
    }

    /// Renders `phrase` into a WAV file at `path`.
    pub fn render_to(&self, phrase: &Phrase, path: &Path) -> Result<(), VoiceError> {
        let output = Command::new(&self.program)
            .args(["-v", VOICE, "-s", SPEED, "-w"])
            .arg(path)
            .arg("--")
            .arg(&phrase.pinyin)
            .output()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => VoiceError::Missing {
                    program: self.program.clone(),
                },
                _ => VoiceError::Io(error),
            })?;
        if !output.status.success() {
            return Err(VoiceError::Failed {
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(())
    }

    /// Renders `phrase` and reads the sound back.
    pub fn render(&self, phrase: &Phrase) -> Result<Sound, VoiceError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("phrase.wav");
        self.render_to(phrase, &path)?;
        read_wav(&path)
    }
}

/// A mono 16-bit WAV file's samples.
pub fn read_wav(path: &Path) -> Result<Sound, VoiceError> {
    let unreadable = |e: hound::Error| VoiceError::Unreadable(e.to_string());
    let mut reader = hound::WavReader::open(path).map_err(unreadable)?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(VoiceError::Unreadable(format!(
            "{} channels of {} bits, expected mono 16-bit",
            spec.channels, spec.bits_per_sample
        )));
    }
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    Ok(Sound {
        sample_rate: spec.sample_rate,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_espeak_ng_the_error_says_what_to_install() {
        let voice = Voice::with_program("/nonexistent/espeak-ng");
        let error = voice
            .render(&crate::speech::order_paid(wxpay::Fen::new(100)))
            .unwrap_err();
        assert!(matches!(error, VoiceError::Missing { .. }), "{error}");
        assert!(
            error.to_string().contains("apt install espeak-ng"),
            "{error}"
        );
    }
}
