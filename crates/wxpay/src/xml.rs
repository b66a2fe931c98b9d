//! The flat `<xml>` documents of API v2: a strict decoder and an encoder.
//!
//! WeChat's bodies are one root element with text-only children. The decoder accepts exactly that
//! (plus an XML declaration, comments and whitespace) and refuses everything else with a typed
//! error: any `<!DOCTYPE`/`<!ENTITY` (the XXE behind CVE-2018-13439), entity references other than
//! the five predefined ones and character references, nesting, attributes, invalid UTF-8,
//! truncation and bodies over [`MAX_BODY_BYTES`]. It never panics and never allocates more than
//! the input's size.

use std::borrow::Cow;

use crate::fields::Fields;

/// The largest body accepted. Documented v2 bodies are a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const MAX_NAME_LEN: usize = 64;

/// Why a body was refused. `offset` is a byte position in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("body is empty")]
    Empty,
    #[error("body is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("body is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("DOCTYPE and entity declarations are refused (at byte {offset})")]
    Declaration { offset: usize },
    #[error("unknown entity reference `&{name};` at byte {offset}")]
    UnknownEntity { name: String, offset: usize },
    #[error("element <{name}> is nested inside <{parent}> at byte {offset}; v2 messages are flat")]
    Nested {
        parent: String,
        name: String,
        offset: usize,
    },
    #[error("field <{name}> appears twice")]
    DuplicateField { name: String },
    #[error("body ends early: truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("closing tag </{found}> does not match <{expected}> at byte {offset}")]
    MismatchedTag {
        expected: String,
        found: String,
        offset: usize,
    },
    #[error("malformed XML at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("field <{name}> cannot be written as XML: {reason}")]
    Unencodable { name: String, reason: &'static str },
}

/// Decodes a v2 document into its fields. The root element's name is not checked: WeChat uses
/// `<xml>` for messages and `<root>` inside a decrypted refund notification.
pub fn decode(body: &[u8]) -> Result<Fields<'_>, XmlError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(XmlError::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| XmlError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let start = body.len() - text.len();
    Parser {
        src: text,
        pos: 0,
        base: start,
    }
    .document()
}

/// Encodes fields as `<xml>…</xml>`, in name order. Numbers are written bare and text in CDATA,
/// as WeChat does; a `]]>` inside a value is split across two CDATA sections.
pub fn encode(fields: &Fields<'_>) -> Result<String, XmlError> {
    let mut out = String::with_capacity(
        64 + fields
            .iter()
            .map(|(k, v)| 2 * k.len() + v.len() + 17)
            .sum::<usize>(),
    );
    out.push_str("<xml>");
    for (name, value) in fields.iter() {
        if !is_valid_name(name) {
            return Err(XmlError::Unencodable {
                name: name.to_owned(),
                reason: "not a valid element name",
            });
        }
        if let Some(reason) = unencodable_reason(value) {
            return Err(XmlError::Unencodable {
                name: name.to_owned(),
                reason,
            });
        }
        out.push('<');
        out.push_str(name);
        out.push('>');
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(value);
        } else {
            push_cdata(&mut out, value);
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    Ok(out)
}

/// Writes `value` inside CDATA. Used for replies whose text comes from elsewhere.
pub(crate) fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// Characters XML 1.0 cannot carry at all, even escaped.
fn unencodable_reason(value: &str) -> Option<&'static str> {
    value
        .chars()
        .any(|c| !is_xml_char(c))
        .then_some("it contains a control character XML cannot carry")
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && is_name_start(bytes[0])
        && bytes.iter().all(|&b| is_name_byte(b))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Bytes skipped before `src` (a BOM), so offsets refer to the original body.
    base: usize,
}

enum Tag<'a> {
    Open(&'a str),
    SelfClosing(&'a str),
}

impl<'a> Parser<'a> {
    fn document(mut self) -> Result<Fields<'a>, XmlError> {
        self.misc(true)?;
        let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(32);
        let root = match self.open_tag()? {
            Tag::SelfClosing(_) => None,
            Tag::Open(root) => Some(root),
        };
        if let Some(root) = root {
            loop {
                self.skip_whitespace();
                if self.rest().starts_with("</") {
                    self.close_tag(root)?;
                    break;
                }
                if self.skip_markup()? {
                    continue;
                }
                if self.at_end() {
                    return Err(self.truncated());
                }
                if !self.rest().starts_with('<') {
                    return Err(self.malformed("text directly inside the root element"));
                }
                if self.rest().starts_with("<![CDATA[") {
                    return Err(self.malformed("CDATA directly inside the root element"));
                }
                match self.open_tag()? {
                    Tag::SelfClosing(name) => pairs.push((Cow::Borrowed(name), Cow::Borrowed(""))),
                    Tag::Open(name) => {
                        let value = self.content(name)?;
                        pairs.push((Cow::Borrowed(name), value));
                    }
                }
            }
        }
        self.misc(false)?;
        if !self.at_end() {
            return Err(self.malformed("content after the root element"));
        }
        Fields::from_entries(pairs).map_err(|name| XmlError::DuplicateField {
            name: name.into_owned(),
        })
    }

    /// Whitespace, comments and (in the prolog) the XML declaration.
    fn misc(&mut self, prolog: bool) -> Result<(), XmlError> {
        loop {
            self.skip_whitespace();
            if prolog && self.rest().starts_with("<?xml") {
                let end = self.find("?>")?;
                self.pos = end + 2;
                continue;
            }
            if !self.skip_markup()? {
                return Ok(());
            }
        }
    }

    /// Skips a comment; refuses declarations and processing instructions. True if it skipped.
    fn skip_markup(&mut self) -> Result<bool, XmlError> {
        let rest = self.rest();
        if rest.starts_with("<!--") {
            let end = self.find("-->")?;
            self.pos = end + 3;
            Ok(true)
        } else if rest.starts_with("<!") && !rest.starts_with("<![CDATA[") {
            Err(XmlError::Declaration {
                offset: self.offset(),
            })
        } else if rest.starts_with("<?") {
            Err(self.malformed("processing instructions are not allowed"))
        } else {
            Ok(false)
        }
    }

    fn open_tag(&mut self) -> Result<Tag<'a>, XmlError> {
        if self.at_end() {
            return Err(self.truncated());
        }
        if !self.rest().starts_with('<') {
            return Err(self.malformed("expected an element"));
        }
        self.pos += 1;
        let name = self.name()?;
        self.skip_whitespace();
        let rest = self.rest();
        if rest.starts_with("/>") {
            self.pos += 2;
            Ok(Tag::SelfClosing(name))
        } else if rest.starts_with('>') {
            self.pos += 1;
            Ok(Tag::Open(name))
        } else if rest.is_empty() || rest == "/" {
            Err(self.truncated())
        } else {
            Err(self.malformed("attributes are not allowed"))
        }
    }

    fn close_tag(&mut self, expected: &str) -> Result<(), XmlError> {
        let at = self.offset();
        self.pos += 2;
        let found = self.name()?;
        self.skip_whitespace();
        if self.at_end() {
            return Err(self.truncated());
        }
        if !self.rest().starts_with('>') {
            return Err(self.malformed("expected `>` to end a closing tag"));
        }
        self.pos += 1;
        if found != expected {
            return Err(XmlError::MismatchedTag {
                expected: expected.to_owned(),
                found: found.to_owned(),
                offset: at,
            });
        }
        Ok(())
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let rest = self.rest().as_bytes();
        let len = rest.iter().take_while(|&&b| is_name_byte(b)).count();
        if len == 0 {
            return Err(if rest.is_empty() {
                self.truncated()
            } else {
                self.malformed("expected an element name")
            });
        }
        let name = &self.src[self.pos..self.pos + len];
        if !is_valid_name(name) {
            return Err(self.malformed("invalid element name"));
        }
        self.pos += len;
        Ok(name)
    }

    /// The text of a field up to and including its closing tag. Borrows the input when the value
    /// is one plain run or one CDATA section, which is the common case.
    fn content(&mut self, element: &str) -> Result<Cow<'a, str>, XmlError> {
        let mut value: Cow<'a, str> = Cow::Borrowed("");
        loop {
            let rest = self.rest();
            let run = rest.find(['<', '&']).unwrap_or(rest.len());
            if run > 0 {
                let text = &rest[..run];
                if let Some(bad) = text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
                    self.pos += bad.0;
                    return Err(self.malformed("control character in text"));
                }
                append(&mut value, text);
                self.pos += run;
            }
            let rest = self.rest();
            if rest.is_empty() {
                return Err(self.truncated());
            }
            if rest.starts_with('&') {
                let c = self.reference()?;
                value.to_mut().push(c);
            } else if rest.starts_with("<![CDATA[") {
                self.pos += "<![CDATA[".len();
                let end = self.find("]]>")?;
                let text = &self.src[self.pos..end];
                if text.chars().any(|c| !is_xml_char(c)) {
                    return Err(self.malformed("control character in CDATA"));
                }
                append(&mut value, text);
                self.pos = end + 3;
            } else if rest.starts_with("</") {
                self.close_tag(element)?;
                return Ok(value);
            } else if !self.skip_markup()? {
                // A `<` that starts neither CDATA, a comment nor the closing tag: a child element.
                let offset = self.offset();
                self.pos += 1;
                let name = self.name().unwrap_or("?");
                return Err(XmlError::Nested {
                    parent: element.to_owned(),
                    name: name.to_owned(),
                    offset,
                });
            }
        }
    }

    /// `&lt;` and friends and `&#NN;`/`&#xNN;`; anything else is an unknown (external) entity.
    fn reference(&mut self) -> Result<char, XmlError> {
        let offset = self.offset();
        let rest = &self.rest()[1..];
        let Some(len) = rest.bytes().take(12).position(|b| b == b';') else {
            return Err(if rest.len() < 12 && !rest.contains('<') {
                self.truncated()
            } else {
                self.malformed("`&` must start an entity reference (write &amp;)")
            });
        };
        let name = &rest[..len];
        let c = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => None,
        };
        let c = match (c, name.strip_prefix('#')) {
            (Some(c), _) => c,
            (None, Some(number)) => {
                let code = match number.strip_prefix('x') {
                    Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        u32::from_str_radix(hex, 16).ok()
                    }
                    None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                        number.parse().ok()
                    }
                    _ => None,
                };
                match code.and_then(char::from_u32).filter(|&c| is_xml_char(c)) {
                    Some(c) => c,
                    None => return Err(self.malformed("invalid character reference")),
                }
            }
            (None, None) => {
                return Err(XmlError::UnknownEntity {
                    name: name.to_owned(),
                    offset,
                });
            }
        };
        self.pos += len + 2;
        Ok(c)
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest().as_bytes();
        self.pos += rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
    }

    /// Position of `needle` at or after the cursor, or a truncation error.
    fn find(&self, needle: &str) -> Result<usize, XmlError> {
        self.rest()
            .find(needle)
            .map(|i| self.pos + i)
            .ok_or(XmlError::Truncated {
                offset: self.base + self.src.len(),
            })
    }

    fn truncated(&self) -> XmlError {
        XmlError::Truncated {
            offset: self.base + self.src.len(),
        }
    }

    fn malformed(&self, reason: &'static str) -> XmlError {
        XmlError::Malformed {
            offset: self.offset(),
            reason,
        }
    }
}

fn append<'a>(value: &mut Cow<'a, str>, text: &'a str) {
    if value.is_empty() {
        *value = Cow::Borrowed(text);
    } else {
        value.to_mut().push_str(text);
    }
}
