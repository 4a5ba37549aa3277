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

/// YAML 1.2 core-schema typing of plain scalars (also used by code that writes YAML).
pub(crate) use de::{Plain, plain_scalar};
