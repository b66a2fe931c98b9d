//! The event stream's framing (the WHATWG `text/event-stream` format), read incrementally:
//! bytes arrive in chunks that split lines and characters anywhere.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    /// `message` when the event named none.
    pub event: String,
    pub data: String,
}

/// Bytes in, events out.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

/// An event larger than this is refused (a relay gone wrong, not a reason to use all memory).
pub const MAX_EVENT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("an event stream line is not UTF-8")]
    NotUtf8,
    #[error("an event is larger than {MAX_EVENT} bytes")]
    TooLarge,
}

impl Parser {
    /// Reads `chunk`, returning the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Event>, ParseError> {
        let mut events = Vec::new();
        for &byte in chunk {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    let line = String::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    self.line.push(byte);
                    let pending = self.data.as_ref().map_or(0, String::len);
                    if self.line.len() + pending > MAX_EVENT {
                        return Err(ParseError::TooLarge);
                    }
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(Event {
                id: self.id.clone(),
                event: self.event.take().unwrap_or_else(|| "message".to_owned()),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // `retry` and unknown fields: the desk keeps its own reconnection schedule.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const STREAM: &str = ": keep-alive\n\nevent: hello\ndata: {\"first_seq\":1}\n\nid: 7\r\nevent: entry\r\ndata: line one\r\ndata: 两行\r\n\r\nid: 8\rdata:x\r\r";

    fn expected() -> Vec<Event> {
        vec![
            Event {
                id: None,
                event: "hello".into(),
                data: "{\"first_seq\":1}".into(),
            },
            Event {
                id: Some("7".into()),
                event: "entry".into(),
                data: "line one\n两行".into(),
            },
            Event {
                id: Some("8".into()),
                event: "message".into(),
                data: "x".into(),
            },
        ]
    }

    #[test]
    fn events_come_out_whole_however_the_bytes_are_split() {
        let bytes = STREAM.as_bytes();
        for split in 0..bytes.len() {
            for second in split..bytes.len() {
                let mut parser = Parser::default();
                let mut events = parser.feed(&bytes[..split]).unwrap();
                events.extend(parser.feed(&bytes[split..second]).unwrap());
                events.extend(parser.feed(&bytes[second..]).unwrap());
                assert_eq!(events, expected(), "split at {split} and {second}");
            }
        }
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut parser = Parser::default();
        let line = vec![b'a'; MAX_EVENT + 1];
        assert_eq!(parser.feed(&line), Err(ParseError::TooLarge));
    }
}
