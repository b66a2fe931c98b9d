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

const CDATA_START: &[u8; 9] = b"<![CDATA[";

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
    // XML forbids these anywhere in a document, so one pass over the body covers every value.
    if let Some(bad) = first_forbidden_char(text) {
        return Err(XmlError::Malformed {
            offset: start + bad,
            reason: "control character XML does not allow",
        });
    }
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
    encode_with_root(fields, "xml")
}

/// [`encode`] with another root element (`root` inside a refund notification's `req_info`).
pub fn encode_with_root(fields: &Fields<'_>, root: &str) -> Result<String, XmlError> {
    if !is_valid_name(root) {
        return Err(XmlError::Unencodable {
            name: root.to_owned(),
            reason: "not a valid element name",
        });
    }
    let mut out = String::with_capacity(
        64 + fields
            .iter()
            .map(|(k, v)| 2 * k.len() + v.len() + 17)
            .sum::<usize>(),
    );
    out.push('<');
    out.push_str(root);
    out.push('>');
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
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    Ok(out)
}

/// Writes `value` inside CDATA. Used for replies whose text comes from elsewhere. A `]]>` is
/// split across two sections, and a carriage return goes between sections as `&#13;` (XML would
/// turn a literal one into a line feed).
pub(crate) fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    let split = value.replace("]]>", "]]]]><![CDATA[>");
    out.push_str(&split.replace('\r', "]]>&#13;<![CDATA["));
    out.push_str("]]>");
}

/// Characters XML 1.0 cannot carry at all, even escaped.
fn unencodable_reason(value: &str) -> Option<&'static str> {
    first_forbidden_char(value).map(|_| "it contains a control character XML cannot carry")
}

/// Whether a character reference (`&#NN;`) names a character XML allows.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Position of the first character XML 1.0 forbids, in text already known to be UTF-8. In valid
/// UTF-8 those are C0 controls other than tab, LF and CR, and U+FFFE/U+FFFF (EF BF BE/BF), so a
/// byte scan finds them. A branch-free pass (which the compiler vectorises) rules most bodies out;
/// only a body with a suspicious byte is searched exactly.
fn first_forbidden_char(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let suspicious = bytes
        .iter()
        .fold(false, |seen, &b| seen | (b < 0x20) | (b == 0xEF));
    if !suspicious {
        return None;
    }
    (0..bytes.len()).find(|&i| {
        let b = bytes[i];
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (b == 0xEF
                && bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)))
    })
}

/// The pseudo-attributes of an XML declaration (what follows `<?xml`, up to `?>`): `version` of
/// the form `1.` and digits, then optionally `encoding` (a name of letters, digits, `.`, `_`, `-`
/// that starts with a letter) and `standalone` (`yes` or `no`), each after whitespace, in that
/// order, quoted with `"` or `'`.
fn well_formed_declaration(inner: &str) -> bool {
    let mut rest = inner;
    let mut seen = Vec::with_capacity(3);
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return false; // no whitespace before a pseudo-attribute
        }
        let Some((name, value, after)) = pseudo_attribute(trimmed) else {
            return false;
        };
        let ok = match (seen.len(), name) {
            (0, "version") => value.strip_prefix("1.").is_some_and(|minor| {
                !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit())
            }),
            (1, "encoding") => {
                value
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            }
            (1 | 2, "standalone") => matches!(value, "yes" | "no"),
            _ => false,
        };
        if !ok || seen.contains(&name) {
            return false;
        }
        seen.push(name);
        rest = after;
    }
    seen.first() == Some(&"version")
}

/// `name = "value"` at the start of `text`: the name, the value and what follows.
fn pseudo_attribute(text: &str) -> Option<(&str, &str, &str)> {
    let name_end = text.find(|c: char| !c.is_ascii_lowercase())?;
    let (name, rest) = text.split_at(name_end);
    let rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
    let rest = rest.strip_prefix('=')?;
    let rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
    let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let body = &rest[1..];
    let close = body.find(quote)?;
    Some((name, &body[..close], &body[close + 1..]))
}

/// Whether text holds `]]>`, which XML allows only to end a CDATA section. A `>` in a value
/// is rare, so that is looked for first.
fn ends_cdata(text: &[u8]) -> bool {
    memchr::memchr(b'>', text).is_some() && memchr::memmem::find(text, b"]]>").is_some()
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.';
        b += 1;
    }
    table
};

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
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
        self.declaration()?;
        self.misc()?;
        let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(32);
        let root = match self.open_tag()? {
            Tag::SelfClosing(_) => None,
            Tag::Open(root) => Some(root),
        };
        if let Some(root) = root {
            loop {
                self.skip_whitespace();
                match (self.peek(0), self.peek(1)) {
                    (None, _) => return Err(self.truncated()),
                    (Some(b'<'), Some(b'/')) => {
                        self.close_tag(root)?;
                        break;
                    }
                    (Some(b'<'), Some(b'!')) if self.at(CDATA_START) => {
                        return Err(self.malformed("CDATA directly inside the root element"));
                    }
                    (Some(b'<'), Some(b'!' | b'?')) => self.skip_markup()?,
                    (Some(b'<'), _) if let Some((name, value)) = self.simple_field() => {
                        pairs.push((Cow::Borrowed(name), Cow::Borrowed(value)));
                    }
                    (Some(b'<'), _) => match self.open_tag()? {
                        Tag::SelfClosing(name) => {
                            pairs.push((Cow::Borrowed(name), Cow::Borrowed("")))
                        }
                        Tag::Open(name) => {
                            let value = self.content(name)?;
                            pairs.push((Cow::Borrowed(name), value));
                        }
                    },
                    _ => return Err(self.malformed("text directly inside the root element")),
                }
            }
        }
        self.misc()?;
        if !self.at_end() {
            return Err(self.malformed("content after the root element"));
        }
        Fields::from_entries(pairs).map_err(|name| XmlError::DuplicateField {
            name: name.into_owned(),
        })
    }

    /// The XML declaration, when the document starts with one (nothing before it, once):
    /// `<?xml version="1.x"` then optionally `encoding="NAME"` and `standalone="yes|no"`, in that
    /// order. The encoding is not acted on: the body must be UTF-8 whatever it says.
    fn declaration(&mut self) -> Result<(), XmlError> {
        if !self.rest().starts_with("<?xml ") {
            return Ok(());
        }
        let end = self.find("?>")?;
        let inner = &self.src[self.pos + "<?xml".len()..end];
        if !well_formed_declaration(inner) {
            return Err(self.malformed("malformed XML declaration"));
        }
        self.pos = end + 2;
        Ok(())
    }

    /// Whitespace and comments.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_whitespace();
            match (self.peek(0), self.peek(1)) {
                (Some(b'<'), Some(b'!' | b'?')) if !self.at(CDATA_START) => self.skip_markup()?,
                _ => return Ok(()),
            }
        }
    }

    /// At `<`: reads the shape WeChat sends, `<name>text</name>` or
    /// `<name><![CDATA[text]]></name>` with no entity, comment or whitespace, in a few compares.
    /// For anything else it moves nothing and returns `None`; the general path then reads the
    /// field and judges it, so both paths accept and refuse exactly the same documents.
    fn simple_field(&mut self) -> Option<(&'a str, &'a str)> {
        let bytes = self.src.as_bytes();
        let name_start = self.pos + 1;
        let name_len = bytes
            .get(name_start..)?
            .iter()
            .position(|&b| !is_name_byte(b))?;
        if name_len == 0 || name_len > MAX_NAME_LEN || !is_name_start(bytes[name_start]) {
            return None;
        }
        let name_end = name_start + name_len;
        if bytes[name_end] != b'>' {
            return None;
        }
        let content = name_end + 1;
        let (value_start, value_end, close) =
            if bytes.get(content..).and_then(<[u8]>::first_chunk) == Some(CDATA_START) {
                let value_start = content + CDATA_START.len();
                let end = value_start + find_cdata_end(&bytes[value_start..])?;
                if memchr::memchr(b'\r', &bytes[value_start..end]).is_some() {
                    return None;
                }
                (value_start, end, end + 3)
            } else {
                let end = content + memchr::memchr2(b'<', b'&', &bytes[content..])?;
                if ends_cdata(&bytes[content..end])
                    || memchr::memchr(b'\r', &bytes[content..end]).is_some()
                {
                    return None;
                }
                (content, end, end)
            };
        let tag = bytes.get(close..close + name_len + 3)?;
        if tag[..2] != *b"</"
            || tag[2..2 + name_len] != bytes[name_start..name_end]
            || tag[2 + name_len] != b'>'
        {
            return None;
        }
        self.pos = close + name_len + 3;
        // Every index above sits on an ASCII delimiter, so these are character boundaries.
        Some((
            &self.src[name_start..name_end],
            &self.src[value_start..value_end],
        ))
    }

    /// At `<!` or `<?`: skips a comment; refuses declarations and processing instructions.
    fn skip_markup(&mut self) -> Result<(), XmlError> {
        if self.rest().starts_with("<!--") {
            // The end is looked for after the opening `<!--` (`<!-->` is not a comment).
            let start = self.pos;
            self.pos += 4;
            let end = self.find("-->")?;
            // XML allows no `--` inside a comment, nor a `-` just before its end.
            let text = &self.src[self.pos..end];
            if text.contains("--") || text.ends_with('-') {
                self.pos = start;
                return Err(self.malformed("`--` inside a comment"));
            }
            self.pos = end + 3;
            Ok(())
        } else if self.peek(1) == Some(b'!') {
            Err(XmlError::Declaration {
                offset: self.offset(),
            })
        } else {
            Err(self.malformed("processing instructions are not allowed"))
        }
    }

    fn open_tag(&mut self) -> Result<Tag<'a>, XmlError> {
        match self.peek(0) {
            None => return Err(self.truncated()),
            Some(b'<') => self.pos += 1,
            Some(_) => return Err(self.malformed("expected an element")),
        }
        let name = self.name()?;
        if self.peek(0) != Some(b'>') {
            self.skip_whitespace();
        }
        match (self.peek(0), self.peek(1)) {
            (Some(b'>'), _) => {
                self.pos += 1;
                Ok(Tag::Open(name))
            }
            (Some(b'/'), Some(b'>')) => {
                self.pos += 2;
                Ok(Tag::SelfClosing(name))
            }
            (None, _) | (Some(b'/'), None) => Err(self.truncated()),
            _ => Err(self.malformed("attributes are not allowed")),
        }
    }

    /// At `</`: the closing tag of `expected`.
    fn close_tag(&mut self, expected: &str) -> Result<(), XmlError> {
        // Fast path: `</name>` exactly.
        let rest = &self.rest().as_bytes()[2..];
        if rest.len() > expected.len()
            && rest[expected.len()] == b'>'
            && rest[..expected.len()] == *expected.as_bytes()
        {
            self.pos += expected.len() + 3;
            return Ok(());
        }
        let at = self.offset();
        self.pos += 2;
        let found = self.name()?;
        self.skip_whitespace();
        match self.peek(0) {
            None => return Err(self.truncated()),
            Some(b'>') => self.pos += 1,
            Some(_) => return Err(self.malformed("expected `>` to end a closing tag")),
        }
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
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let end = start
            + bytes[start..]
                .iter()
                .position(|&b| !is_name_byte(b))
                .unwrap_or(bytes.len() - start);
        if end == start {
            return Err(if end == bytes.len() {
                self.truncated()
            } else {
                self.malformed("expected an element name")
            });
        }
        if !is_name_start(bytes[start]) || end - start > MAX_NAME_LEN {
            return Err(self.malformed("invalid element name"));
        }
        self.pos = end;
        Ok(&self.src[start..end])
    }

    /// The text of a field up to and including its closing tag. Borrows the input when the value
    /// is one plain run or one CDATA section, which is the common case.
    fn content(&mut self, element: &str) -> Result<Cow<'a, str>, XmlError> {
        let mut value: Cow<'a, str> = Cow::Borrowed("");
        loop {
            let rest = self.rest();
            if !matches!(rest.as_bytes().first(), Some(b'<' | b'&')) {
                let run = memchr::memchr2(b'<', b'&', rest.as_bytes()).unwrap_or(rest.len());
                if ends_cdata(&rest.as_bytes()[..run]) {
                    return Err(self.malformed("`]]>` in text (write ]]&gt;)"));
                }
                if let Some(cr) = memchr::memchr(b'\r', &rest.as_bytes()[..run]) {
                    self.pos += cr;
                    return Err(self.carriage_return());
                }
                append(&mut value, &rest[..run]);
                self.pos += run;
            }
            match (self.peek(0), self.peek(1)) {
                (None, _) => return Err(self.truncated()),
                (Some(b'&'), _) => {
                    let c = self.reference()?;
                    value.to_mut().push(c);
                }
                (Some(_), Some(b'/')) => {
                    self.close_tag(element)?;
                    return Ok(value);
                }
                (Some(_), Some(b'!')) if self.at(CDATA_START) => {
                    self.pos += CDATA_START.len();
                    let end = self.find("]]>")?;
                    if let Some(cr) = memchr::memchr(b'\r', &self.src.as_bytes()[self.pos..end]) {
                        self.pos += cr;
                        return Err(self.carriage_return());
                    }
                    append(&mut value, &self.src[self.pos..end]);
                    self.pos = end + 3;
                }
                (Some(_), Some(b'!' | b'?')) => self.skip_markup()?,
                (Some(_), None) => return Err(self.truncated()),
                (Some(_), Some(_)) => {
                    // A `<` that starts neither CDATA, a comment nor the closing tag: a child.
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

    /// Whether the input continues with `literal` (fixed size: compiled to a few compares).
    fn at<const N: usize>(&self, literal: &[u8; N]) -> bool {
        self.src
            .as_bytes()
            .get(self.pos..self.pos + N)
            .is_some_and(|bytes| bytes == literal)
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(0), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Position of `needle` at or after the cursor, or a truncation error.
    fn find(&self, needle: &str) -> Result<usize, XmlError> {
        // Needles are 2-3 bytes: scanning for the first byte beats building a substring searcher.
        let haystack = self.rest().as_bytes();
        let needle = needle.as_bytes();
        let mut from = 0;
        let found = loop {
            let Some(i) = memchr::memchr(needle[0], &haystack[from..]) else {
                break None;
            };
            let at = from + i;
            if haystack[at..].starts_with(needle) {
                break Some(at);
            }
            from = at + 1;
        };
        found.map(|i| self.pos + i).ok_or(XmlError::Truncated {
            offset: self.base + self.src.len(),
        })
    }

    /// XML turns a carriage return in text into a line feed, which changes the value WeChat
    /// signed; WeChat's values never carry one, so a value with one is refused rather than
    /// guessed at (`&#13;` stays a carriage return, as in XML).
    fn carriage_return(&self) -> XmlError {
        self.malformed("carriage return inside a field value")
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

/// Position of `]]>` in `bytes`.
fn find_cdata_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += memchr::memchr(b']', bytes.get(at..)?)?;
        if bytes.get(at + 1) == Some(&b']') && bytes.get(at + 2) == Some(&b'>') {
            return Some(at);
        }
        at += 1;
    }
}

fn append<'a>(value: &mut Cow<'a, str>, text: &'a str) {
    if value.is_empty() {
        *value = Cow::Borrowed(text);
    } else {
        value.to_mut().push_str(text);
    }
}
