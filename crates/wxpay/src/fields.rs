//! The flat field map every v2 message is made of, and typed access to it.
//!
//! Signatures are computed over this map (every field, known or not), so it keeps each field
//! exactly as received. Typed messages are decoded from it only after the signature is checked.

use std::borrow::Cow;
use std::fmt;

use crate::ids::IdError;
use crate::money::{Fen, FenError};

/// The fields of one message, sorted by name in byte order, each name at most once.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// A field that a typed message needs is absent or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("field `{0}` is missing")]
    Missing(String),
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("field `{0}` appears twice")]
    Duplicate(String),
    #[error("field `{field}` says {found:?}, but the request sent {expected:?}")]
    Mismatch {
        field: String,
        expected: String,
        found: String,
    },
}

impl FieldError {
    pub(crate) fn invalid(field: &str, reason: impl fmt::Display) -> FieldError {
        FieldError::Invalid {
            field: field.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// The order fields are signed in (字典序): byte order of the names. The first byte usually
/// decides, so it is compared before the rest.
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// An echoed field must equal what we sent.
pub(crate) fn expect_same(field: &str, expected: &str, found: &str) -> Result<(), FieldError> {
    if expected == found {
        Ok(())
    } else {
        Err(FieldError::Mismatch {
            field: field.to_owned(),
            expected: expected.to_owned(),
            found: found.to_owned(),
        })
    }
}

/// Reads a value found by [`Fields::lookup`]; absent is an error.
pub fn parse_required<T: FromField>(name: &str, value: Option<&str>) -> Result<T, FieldError> {
    parse_optional(name, value)?.ok_or_else(|| FieldError::Missing(name.to_owned()))
}

/// Reads a value found by [`Fields::lookup`]; absent is `None`.
pub fn parse_optional<T: FromField>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<T>, FieldError> {
    value
        .map(|text| T::from_field(text).map_err(|reason| FieldError::invalid(name, reason)))
        .transpose()
}

/// A value type that can be read from one field.
pub trait FromField: Sized {
    fn from_field(text: &str) -> Result<Self, String>;
}

impl FromField for String {
    fn from_field(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl FromField for Fen {
    fn from_field(text: &str) -> Result<Self, String> {
        Fen::parse_wire(text).map_err(|e: FenError| e.to_string())
    }
}

impl FromField for u32 {
    fn from_field(text: &str) -> Result<Self, String> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected a non-negative whole number".into());
        }
        text.parse().map_err(|_| "number is too large".to_owned())
    }
}

macro_rules! from_field_via_new {
    ($($id:ty),*) => {$(
        impl FromField for $id {
            fn from_field(text: &str) -> Result<Self, String> {
                <$id>::new(text).map_err(|e: IdError| e.to_string())
            }
        }
    )*};
}
from_field_via_new!(
    crate::OutTradeNo,
    crate::OutRefundNo,
    crate::TransactionId,
    crate::RefundId,
    crate::AppId,
    crate::MchId
);

impl<'a> Fields<'a> {
    /// Builds a map from pairs in any order; a repeated name is an error.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, FieldError>
    where
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        let entries = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_entries(entries).map_err(|name| FieldError::Duplicate(name.into_owned()))
    }

    /// Sorts the entries; on a repeated name, returns that name.
    pub(crate) fn from_entries(
        mut entries: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    ) -> Result<Self, Cow<'a, str>> {
        // Byte order of the names is exactly the 字典序 WeChat signs in.
        entries.sort_unstable_by(|a, b| name_order(&a.0, &b.0));
        if let Some(i) = (1..entries.len()).find(|&i| entries[i - 1].0 == entries[i].0) {
            return Err(entries.swap_remove(i).0);
        }
        Ok(Fields { entries })
    }

    /// Adds a field in its sorted place; a name already present is an error.
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Result<(), FieldError> {
        let name = name.into();
        match self.entries.binary_search_by(|(k, _)| name_order(k, &name)) {
            Ok(_) => Err(FieldError::Duplicate(name.into_owned())),
            Err(at) => {
                self.entries.insert(at, (name, value.into()));
                Ok(())
            }
        }
    }

    /// Every field in name order, including empty ones.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The field's value as received, empty or not.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.entries
            .binary_search_by(|(k, _)| name_order(k, name))
            .ok()
            .map(|i| self.entries[i].1.as_ref())
    }

    /// The field's value, treating an empty value as absent (as signing does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }

    /// Values of several fields in one pass (a merge join: both lists are sorted), empty values
    /// read as absent. `names` must be in byte order; the hot notification path uses this
    /// instead of one search per field.
    pub fn lookup<const N: usize>(&self, names: &[&str; N]) -> [Option<&str>; N] {
        debug_assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "names must be sorted and distinct"
        );
        let mut found = [None; N];
        let mut entries = self.entries.iter().peekable();
        for (slot, name) in found.iter_mut().zip(names) {
            while let Some((key, value)) = entries.peek() {
                let order = name_order(key, name);
                match order {
                    std::cmp::Ordering::Less => {
                        entries.next();
                    }
                    std::cmp::Ordering::Equal => {
                        *slot = Some(value.as_ref()).filter(|v| !v.is_empty());
                        entries.next();
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
        }
        found
    }

    pub fn required<T: FromField>(&self, name: &str) -> Result<T, FieldError> {
        self.optional(name)?
            .ok_or_else(|| FieldError::Missing(name.to_owned()))
    }

    pub fn optional<T: FromField>(&self, name: &str) -> Result<Option<T>, FieldError> {
        parse_optional(name, self.get(name))
    }

    /// Detaches the map from the buffer it was parsed from.
    pub fn into_owned(self) -> Fields<'static> {
        Fields {
            entries: self
                .entries
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }
}

/// Shows names only: values may carry personal data (openid) or a `req_info` ciphertext.
impl fmt::Debug for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.entries.iter().map(|(k, _)| k))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_bytes_and_unique() {
        let fields = Fields::from_pairs([("b", "2"), ("B", "1"), ("a_", "3"), ("a", "4")]).unwrap();
        let names: Vec<_> = fields.iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            ["B", "a", "a_", "b"],
            "uppercase sorts before lowercase"
        );
        assert_eq!(
            Fields::from_pairs([("a", "1"), ("a", "2")]),
            Err(FieldError::Duplicate("a".into()))
        );
    }

    #[test]
    fn lookup_matches_get() {
        let fields = Fields::from_pairs([("b", "2"), ("d", ""), ("a", "1"), ("f", "6")]).unwrap();
        assert_eq!(
            fields.lookup(&["0", "a", "c", "d", "f", "z"]),
            [None, Some("1"), None, None, Some("6"), None]
        );
        assert_eq!(Fields::default().lookup(&["a"]), [None]);
    }

    #[test]
    fn empty_values_read_as_absent() {
        let fields = Fields::from_pairs([("attach", ""), ("total_fee", "100")]).unwrap();
        assert_eq!(fields.raw("attach"), Some(""));
        assert_eq!(fields.get("attach"), None);
        assert_eq!(fields.optional::<String>("attach"), Ok(None));
        assert_eq!(fields.required::<Fen>("total_fee"), Ok(Fen::new(100)));
        assert_eq!(
            fields.required::<Fen>("refund_fee"),
            Err(FieldError::Missing("refund_fee".into()))
        );
    }

    #[test]
    fn typed_errors_name_the_field() {
        let fields = Fields::from_pairs([("total_fee", "1.00")]).unwrap();
        let err = fields.required::<Fen>("total_fee").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `total_fee` is invalid: amount must be a whole number of fen written with digits only"
        );
    }
}
