//! The shop speaker: says paid amounts aloud on the default sound device. Phrases are rendered
//! by the desk's voice (espeak-ng, `desk_runtime::voice`) and played by rodio, one after another
//! on a thread of their own so a slow device never holds up alerts. No sound device or no
//! espeak-ng is a notice in the window, once, never a crash.

use std::num::NonZero;
use std::sync::mpsc;

use desk_runtime::speech::Phrase;
use desk_runtime::voice::{Sound, Voice};

/// What to say and how loud (0 to 100).
type Utterance = (Phrase, u8);

/// Phrases waiting beyond this are dropped (the summaries say them again): a speaker that
/// lags minutes behind the till helps nobody.
const BACKLOG: usize = 4;

#[derive(Debug, Clone)]
pub struct Speaker {
    queue: mpsc::SyncSender<Utterance>,
}

impl Speaker {
    /// Starts the speaker's thread; `notice` tells the window when the voice cannot be heard.
    pub fn start(notice: impl Fn(String) + Send + 'static) -> Speaker {
        let (queue, utterances) = mpsc::sync_channel::<Utterance>(BACKLOG);
        std::thread::Builder::new()
            .name("speaker".into())
            .spawn(move || speak_all(utterances, notice))
            .ok();
        Speaker { queue }
    }

    pub fn say(&self, phrase: Phrase, volume: u8) {
        // Full: a burst is under way and its summary will be said; this one is skipped.
        let _ = self.queue.try_send((phrase, volume));
    }
}

fn speak_all(utterances: mpsc::Receiver<Utterance>, notice: impl Fn(String)) {
    let voice = Voice::from_env();
    let mut device: Option<rodio::MixerDeviceSink> = None;
    let mut warned = false;
    for (phrase, volume) in utterances {
        let sound = match voice.render(&phrase) {
            Ok(sound) => sound,
            Err(error) => {
                if !std::mem::replace(&mut warned, true) {
                    notice(format!("spoken amounts are unavailable: {error}"));
                }
                continue;
            }
        };
        if device.is_none() {
            match rodio::DeviceSinkBuilder::open_default_sink() {
                Ok(mut opened) => {
                    opened.log_on_drop(false);
                    device = Some(opened);
                }
                Err(error) => {
                    if !std::mem::replace(&mut warned, true) {
                        notice(format!(
                            "spoken amounts are unavailable: no sound device ({error})"
                        ));
                    }
                    continue;
                }
            }
        }
        if let Some(device) = &device {
            play(device, &sound, volume);
        }
    }
}

fn play(device: &rodio::MixerDeviceSink, sound: &Sound, volume: u8) {
    let Some(rate) = NonZero::new(sound.sample_rate) else {
        return;
    };
    let samples: Vec<f32> = sound
        .samples
        .iter()
        .map(|&s| f32::from(s) / f32::from(i16::MAX))
        .collect();
    let player = rodio::Player::connect_new(device.mixer());
    player.set_volume(f32::from(volume.min(100)) / 100.0);
    player.append(rodio::buffer::SamplesBuffer::new(
        NonZero::<u16>::MIN,
        rate,
        samples,
    ));
    player.sleep_until_end();
}
