//! The node tree: every node knows where it came from.

use std::fmt;

/// A position in the source: 1-based line and column, 0-based char offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A source range (start inclusive, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn new(start: Pos, end: Pos) -> Self {
        Span { start, end }
    }

    /// A span inside a single-line scalar, `from..to` chars after its start.
    /// Used to point into the text of an expression or a template.
    pub fn sub(&self, from: usize, to: usize) -> Span {
        let start = Pos { line: self.start.line, col: self.start.col + from };
        let end = Pos { line: self.start.line, col: self.start.col + to.max(from + 1) };
        Span { start, end }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start.line, self.start.col)
    }
}

/// How a scalar was written; plain scalars are subject to YAML 1.2 core-schema typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Scalar(String, ScalarStyle),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

impl Node {
    pub fn new(kind: NodeKind, span: Span) -> Self {
        Node { span, kind }
    }

    /// A human name for the node's type, used in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Scalar(_, ScalarStyle::Plain) => "a plain scalar",
            NodeKind::Scalar(..) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(pairs) => pairs.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Removes the mapping entry or list item whose key or value sits exactly at `span`,
    /// searching depth first. Used to keep deserializing after an error so that every
    /// error of a file is reported at once. Returns false when nothing could be removed.
    pub fn remove_at(&mut self, span: Span) -> bool {
        match &mut self.kind {
            NodeKind::Map(pairs) => {
                for pair in pairs.iter_mut() {
                    if pair.1.span != span && pair.1.remove_at(span) {
                        return true;
                    }
                }
                if let Some(i) = pairs.iter().position(|(k, v)| k.span == span || v.span == span) {
                    pairs.remove(i);
                    return true;
                }
                false
            }
            NodeKind::Seq(items) => {
                for item in items.iter_mut() {
                    if item.span != span && item.remove_at(span) {
                        return true;
                    }
                }
                if let Some(i) = items.iter().position(|v| v.span == span) {
                    items.remove(i);
                    return true;
                }
                false
            }
            _ => false,
        }
    }

    /// Calls `f` on every scalar in the tree with its span, depth first, keys excluded.
    pub fn visit_scalars<'a>(&'a self, f: &mut dyn FnMut(&'a str, ScalarStyle, Span)) {
        match &self.kind {
            NodeKind::Scalar(s, style) => f(s, *style, self.span),
            NodeKind::Seq(items) => items.iter().for_each(|n| n.visit_scalars(f)),
            NodeKind::Map(pairs) => pairs.iter().for_each(|(_, v)| v.visit_scalars(f)),
            NodeKind::Null => {}
        }
    }

    /// Rebuilds the tree with every scalar mapped through `f` (spans are kept, so errors
    /// found after interpolation still point at the source).
    pub fn try_map_scalars<E>(
        &self,
        f: &mut dyn FnMut(&str, ScalarStyle, Span) -> Result<String, E>,
    ) -> Result<Node, E> {
        let kind = match &self.kind {
            NodeKind::Scalar(s, style) => {
                let new = f(s, *style, self.span)?;
                // A plain scalar that changed through interpolation is now a string value.
                let style = if *style == ScalarStyle::Plain && new != *s { ScalarStyle::Quoted } else { *style };
                NodeKind::Scalar(new, style)
            }
            NodeKind::Seq(items) => {
                NodeKind::Seq(items.iter().map(|n| n.try_map_scalars(f)).collect::<Result<_, _>>()?)
            }
            NodeKind::Map(pairs) => NodeKind::Map(
                pairs.iter().map(|(k, v)| Ok((k.clone(), v.try_map_scalars(f)?))).collect::<Result<_, E>>()?,
            ),
            NodeKind::Null => NodeKind::Null,
        };
        Ok(Node { span: self.span, kind })
    }

    /// The node as JSON, plain scalars typed by the YAML 1.2 core schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Scalar(s, ScalarStyle::Plain) => match super::de::plain_scalar(s) {
                super::de::Plain::Null => Value::Null,
                super::de::Plain::Bool(b) => Value::Bool(b),
                super::de::Plain::Int(i) => Value::from(i),
                super::de::Plain::Float(f) => {
                    serde_json::Number::from_f64(f).map_or_else(|| Value::String(s.clone()), Value::Number)
                }
                super::de::Plain::Str => Value::String(s.clone()),
            },
            NodeKind::Scalar(s, _) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(pairs) => Value::Object(
                pairs.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.to_json())).collect(),
            ),
        }
    }
}
