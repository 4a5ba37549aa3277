//! A serde deserializer over [`Node`]. Every error carries the span of the innermost
//! node that produced it, and [`deserialize_all`] keeps going after an error so that a
//! file's mistakes are reported together.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::node::{Node, NodeKind, ScalarStyle, Span};
use crate::diag::suggest;

#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl DeError {
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { span: None, message: msg.to_string(), help: None }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            de::Unexpected::Unit => "null".to_owned(),
            de::Unexpected::Map => "a mapping".to_owned(),
            de::Unexpected::Seq => "a list".to_owned(),
            de::Unexpected::Str(s) => format!("`{s}`"),
            other => other.to_string(),
        };
        let expected = exp.to_string();
        let help = if expected.contains("list") || expected.contains("sequence") {
            "write a list: `[a, b]`, or one `- item` per line"
        } else if expected.contains("map") || expected.contains("struct") {
            "write `key: value` pairs, e.g. `{ attempts: 3, backoff: 2s }`"
        } else if expected.contains("bool") {
            "write `true` or `false`"
        } else if expected.contains("integer") || expected.contains("number") {
            "write a whole number, without quotes"
        } else {
            "quote the value to make it a string; see schemas/pipeline.schema.json for every key's type"
        };
        DeError {
            span: None,
            message: format!("wrong type: expected {expected}, found {found}"),
            help: Some(help.into()),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let help = match suggest::closest(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                format!("expected one of: {}", expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", "))
            }
        };
        DeError { span: None, message: format!("unknown key `{field}`"), help: Some(help) }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = match suggest::closest(variant, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", expected.join(", ")),
        };
        DeError { span: None, message: format!("unknown value `{variant}`"), help: Some(help) }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError { span: None, message: format!("missing key `{field}`"), help: Some(format!("add `{field}:` here")) }
    }
}

/// Deserializes `T` from `node`, collecting every error: after each error the offending
/// entry is removed and deserialization restarts, until it succeeds or the error cannot
/// be isolated. Returns the value read from what was left (so that later checks can
/// still run) together with the errors.
pub fn deserialize_all<T: de::DeserializeOwned>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let mut node = node.clone();
    let mut errors = Vec::new();
    for _ in 0..200 {
        match T::deserialize(NodeDe(&node)) {
            Ok(v) => return (Some(v), errors),
            Err(e) => {
                let span = e.span.unwrap_or(node.span);
                errors.push(e.at(span));
                if span == node.span || !node.remove_at(span) {
                    break;
                }
            }
        }
    }
    (None, errors)
}

/// The typing of a plain scalar under the YAML 1.2 core schema.
pub(crate) enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

pub(crate) fn plain_scalar(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".inf" | "+.inf" | ".Inf" | "+.Inf" => return Plain::Float(f64::INFINITY),
        "-.inf" | "-.Inf" => return Plain::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" => return Plain::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Plain::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Plain::Int(i);
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = s.parse::<i64>()
    {
        return Plain::Int(i);
    }
    let looks_float = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if looks_float && let Ok(f) = s.parse::<f64>() {
        return Plain::Float(f);
    }
    Plain::Str
}

thread_local! {
    static SPAN_SLOT: RefCell<Option<Span>> = const { RefCell::new(None) };
    static NODE_SLOT: RefCell<Option<Node>> = const { RefCell::new(None) };
}

pub(crate) const SPANNED: &str = "$__shipgate_spanned";
pub(crate) const RAW_NODE: &str = "$__shipgate_node";

pub(crate) fn take_span() -> Option<Span> {
    SPAN_SLOT.with(|s| s.borrow_mut().take())
}

pub(crate) fn take_node() -> Option<Node> {
    NODE_SLOT.with(|s| s.borrow_mut().take())
}

#[derive(Clone, Copy)]
pub(crate) struct NodeDe<'a>(pub &'a Node);

impl<'a> NodeDe<'a> {
    fn scalar(&self) -> Option<&'a str> {
        match &self.0.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    fn unexpected(&self) -> de::Unexpected<'a> {
        match &self.0.kind {
            NodeKind::Null => de::Unexpected::Unit,
            NodeKind::Scalar(s, _) => de::Unexpected::Str(s),
            NodeKind::Seq(_) => de::Unexpected::Seq,
            NodeKind::Map(_) => de::Unexpected::Map,
        }
    }

    fn err_type(&self, exp: &dyn de::Expected) -> DeError {
        <DeError as de::Error>::invalid_type(self.unexpected(), exp).at(self.0.span)
    }

    fn int<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match (&self.0.kind, self.scalar().map(plain_scalar)) {
            (NodeKind::Scalar(_, ScalarStyle::Plain), Some(Plain::Int(i))) => visitor.visit_i64(i),
            _ => return Err(self.err_type(&"an integer")),
        };
        r.map_err(|e: DeError| e.at(self.0.span))
    }
}

macro_rules! forward_int {
    ($($m:ident)*) => {$(
        fn $m<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> { self.int(visitor) }
    )*};
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        let r = match &self.0.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar(s, ScalarStyle::Plain) => match plain_scalar(s) {
                Plain::Null => visitor.visit_unit(),
                Plain::Bool(b) => visitor.visit_bool(b),
                Plain::Int(i) => visitor.visit_i64(i),
                Plain::Float(f) => visitor.visit_f64(f),
                Plain::Str => visitor.visit_str(s),
            },
            NodeKind::Scalar(s, _) => visitor.visit_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(Seq { iter: items.iter() }),
            NodeKind::Map(pairs) => visitor.visit_map(Map { iter: pairs.iter(), value: None }),
        };
        r.map_err(|e| e.at(span))
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match (&self.0.kind, self.scalar().map(plain_scalar)) {
            (NodeKind::Scalar(_, ScalarStyle::Plain), Some(Plain::Bool(b))) => {
                visitor.visit_bool(b).map_err(|e: DeError| e.at(self.0.span))
            }
            _ => {
                let mut e = self.err_type(&"a boolean (`true` or `false`)");
                if matches!(self.scalar(), Some("yes" | "no" | "on" | "off" | "y" | "n")) {
                    e.help = Some("YAML 1.2 booleans are only `true` and `false`".into());
                }
                Err(e)
            }
        }
    }

    forward_int! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 }

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar().map(plain_scalar) {
            Some(Plain::Int(i)) => visitor.visit_f64(i as f64),
            Some(Plain::Float(f)) => visitor.visit_f64(f),
            _ => Err(self.err_type(&"a number")),
        }
        .map_err(|e: DeError| e.at(self.0.span))
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Any scalar reads as text (`tag: 1.20` stays "1.20"); null and collections do not.
        match self.scalar() {
            Some(s) => visitor.visit_str(s).map_err(|e: DeError| e.at(self.0.span)),
            None => Err(self.err_type(&"a string")),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e: DeError| e.at(self.0.span))
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.kind {
            NodeKind::Null => visitor.visit_unit(),
            _ => Err(self.err_type(&"null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        if name == SPANNED {
            SPAN_SLOT.with(|s| *s.borrow_mut() = Some(self.0.span));
        } else if name == RAW_NODE {
            NODE_SLOT.with(|s| *s.borrow_mut() = Some(self.0.clone()));
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self).map_err(|e: DeError| e.at(self.0.span))
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Seq(items) => {
                visitor.visit_seq(Seq { iter: items.iter() }).map_err(|e: DeError| e.at(self.0.span))
            }
            _ => Err(self.err_type(&"a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _n: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.kind {
            NodeKind::Map(pairs) => {
                visitor.visit_map(Map { iter: pairs.iter(), value: None }).map_err(|e: DeError| e.at(self.0.span))
            }
            _ => Err(self.err_type(&"a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) => visitor.visit_enum(s.into_deserializer()).map_err(|e: DeError| e.at(self.0.span)),
            None => Err(self.err_type(&"one of the allowed values")),
        }
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct Seq<'a> {
    iter: std::slice::Iter<'a, Node>,
}

impl<'a> SeqAccess<'a> for Seq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed.deserialize(NodeDe(node)).map(Some).map_err(|e| e.at(node.span)),
            None => Ok(None),
        }
    }
}

struct Map<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'a> MapAccess<'a> for Map<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k)).map(Some).map_err(|e| e.at(k.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self.value.take().ok_or_else(|| <DeError as de::Error>::custom("value without a key"))?;
        seed.deserialize(NodeDe(node)).map_err(|e| e.at(node.span))
    }
}
