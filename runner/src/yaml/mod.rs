//! YAML with source positions: a span-carrying node tree built from `saphyr-parser`
//! events, and a serde deserializer over it whose errors carry the span of the node
//! that caused them.

mod de;
mod node;
mod parse;
mod spanned;

pub use de::{DeError, deserialize_all};
pub use node::{Node, NodeKind, Pos, ScalarStyle, Span};
pub use parse::{ParseError, parse_documents};
pub use spanned::Spanned;

/// YAML 1.2 core-schema typing of plain scalars, for code that writes YAML.
#[doc(hidden)]
pub mod __plain_typing {
    /// Whether a plain scalar with this text reads as a string.
    pub fn is_string(s: &str) -> bool {
        matches!(super::de::plain_scalar(s), super::de::Plain::Str)
    }

    /// `Some(Ok(int))`, `Some(Err(bool))`, or `None` for anything else.
    pub fn typed(s: &str) -> Option<Result<i64, bool>> {
        match super::de::plain_scalar(s) {
            super::de::Plain::Int(i) => Some(Ok(i)),
            super::de::Plain::Bool(b) => Some(Err(b)),
            _ => None,
        }
    }
}
