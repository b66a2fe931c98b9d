//! Enumerations of wire strings that keep values this crate does not know.

/// Declares an enum of wire strings with an `Other(String)` catch-all, `from_wire`, `as_str`,
/// `Display`, serde as the wire string, and [`crate::FromField`].
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version does not know, kept as received.
            Other(String),
        }

        impl $name {
            pub fn from_wire(text: &str) -> $name {
                match text {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name::from_wire(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl $crate::fields::FromField for $name {
            fn from_field(text: &str) -> Result<Self, String> {
                Ok($name::from_wire(text))
            }
        }
    };
}

pub(crate) use wire_enum;
