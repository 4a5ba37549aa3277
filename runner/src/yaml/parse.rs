//! Builds the node tree from parser events. Also finds duplicate keys, which YAML
//! parsers accept silently and which hide typos in deploy pipelines.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle as YStyle, Span as YSpan};

use super::node::{Node, NodeKind, Pos, ScalarStyle, Span};

/// Aliases can expand a small file into a huge tree ("billion laughs"); refuse past this.
const MAX_NODES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    // saphyr-parser columns are 0-based; we report 1-based columns like compilers do.
    Pos { line: m.line(), col: m.col() + 1 }
}

fn span(s: YSpan) -> Span {
    Span::new(pos(s.start), pos(s.end))
}

enum Frame {
    Seq { start: Span, anchor: usize, items: Vec<Node> },
    Map { start: Span, anchor: usize, pairs: Vec<(Node, Node)>, key: Option<Node> },
}

/// Parses every document of `src`. A syntax error stops parsing; duplicate keys are
/// collected in the returned list and parsing goes on.
pub fn parse_documents(src: &str) -> Result<(Vec<Node>, Vec<ParseError>), ParseError> {
    let mut docs = Vec::new();
    let mut dups = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut count = 0usize;

    for event in Parser::new_from_str(src) {
        let (event, sp) = event.map_err(|e| ParseError {
            span: Span::new(pos(*e.marker()), pos(*e.marker())),
            message: format!("invalid YAML: {}", e.info()),
            help: Some("check indentation (spaces only, no tabs) and that quotes and brackets are closed".into()),
        })?;
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let kind = match style {
                    YStyle::Plain if !forced_str && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") => {
                        NodeKind::Null
                    }
                    YStyle::Plain if !forced_str => NodeKind::Scalar(text.into_owned(), ScalarStyle::Plain),
                    YStyle::Plain | YStyle::SingleQuoted | YStyle::DoubleQuoted => {
                        NodeKind::Scalar(text.into_owned(), ScalarStyle::Quoted)
                    }
                    YStyle::Literal | YStyle::Folded => NodeKind::Scalar(text.into_owned(), ScalarStyle::Block),
                };
                Some((Node::new(kind, span(sp)), anchor))
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| ParseError {
                    span: span(sp),
                    message: "alias refers to an unknown anchor".into(),
                    help: None,
                })?;
                // An alias stands for its anchor's whole tree: count all of it (the
                // subtree itself was counted once, where it was written).
                count = count.saturating_add(tree_size(&node, MAX_NODES + 1));
                Some((node, 0))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq { start: span(sp), anchor, items: Vec::new() });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map { start: span(sp), anchor, pairs: Vec::new(), key: None });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { start, anchor, items }) => {
                    let end = items.last().map_or(start.end, |n| n.span.end);
                    Some((Node::new(NodeKind::Seq(items), Span::new(start.start, end)), anchor))
                }
                _ => unreachable_frame(sp)?,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { start, anchor, pairs, .. }) => {
                    find_duplicates(&pairs, &mut dups);
                    let begin = pairs.first().map_or(start.start, |(k, _)| k.span.start);
                    let end = pairs.last().map_or(start.end, |(_, v)| v.span.end);
                    Some((Node::new(NodeKind::Map(pairs), Span::new(begin, end)), anchor))
                }
                _ => unreachable_frame(sp)?,
            },
        };
        let Some((node, anchor)) = done else { continue };
        count += node_count(&node);
        if count > MAX_NODES {
            return Err(ParseError {
                span: node.span,
                message: format!("document expands to more than {MAX_NODES} nodes"),
                help: Some("aliases are expanded when loading; avoid deeply nested aliases".into()),
            });
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
    Ok((docs, dups))
}

fn unreachable_frame(sp: YSpan) -> Result<Option<(Node, usize)>, ParseError> {
    Err(ParseError { span: span(sp), message: "invalid YAML: unbalanced collection".into(), help: None })
}

/// Nodes in a tree, counting stops past `limit`.
fn tree_size(node: &Node, limit: usize) -> usize {
    let mut n = 0usize;
    let mut stack = vec![node];
    while let Some(x) = stack.pop() {
        n += 1;
        if n > limit {
            break;
        }
        match &x.kind {
            NodeKind::Seq(items) => stack.extend(items.iter()),
            NodeKind::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                stack.push(k);
                stack.push(v);
            }),
            _ => {}
        }
    }
    n
}

fn node_count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.len(),
        NodeKind::Map(pairs) => 1 + 2 * pairs.len(),
        _ => 1,
    }
}

fn find_duplicates(pairs: &[(Node, Node)], out: &mut Vec<ParseError>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (k, _) in pairs {
        let Some(name) = k.as_str() else { continue };
        if let Some(first) = seen.get(name) {
            out.push(ParseError {
                span: k.span,
                message: format!("duplicate key `{name}`"),
                help: Some(format!("`{name}` is first defined at line {}; keep one of them", first.line())),
            });
        } else {
            seen.insert(name, k.span);
        }
    }
}

impl Span {
    fn line(&self) -> usize {
        self.start.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let (docs, _) = parse_documents("a: 1\nbb:\n  - x\n").expect("parses");
        let root = &docs[0];
        let NodeKind::Map(pairs) = &root.kind else { panic!("map expected") };
        assert_eq!(pairs[0].0.span.start, Pos { line: 1, col: 1 });
        assert_eq!(pairs[1].0.span.start, Pos { line: 2, col: 1 });
        let NodeKind::Seq(items) = &pairs[1].1.kind else { panic!("seq expected") };
        assert_eq!(items[0].span.start, Pos { line: 3, col: 5 });
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let (_, dups) = parse_documents("a: 1\nb: 2\na: 3\n").expect("parses");
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].span.start.line, 3);
        assert!(dups[0].help.as_deref().is_some_and(|h| h.contains("line 1")));
    }

    #[test]
    fn aliases_expand_and_quoted_scalars_stay_strings() {
        let (docs, _) = parse_documents("a: &x {k: v}\nb: *x\nc: '1'\nd: ~\n").expect("parses");
        let root = &docs[0];
        assert_eq!(root.get("b").and_then(|b| b.get("k")).and_then(Node::as_str), Some("v"));
        assert!(matches!(root.get("c").map(|n| &n.kind), Some(NodeKind::Scalar(s, ScalarStyle::Quoted)) if s == "1"));
        assert!(matches!(root.get("d").map(|n| &n.kind), Some(NodeKind::Null)));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").expect_err("unclosed flow sequence");
        assert!(err.span.start.line >= 1);
        assert!(err.message.starts_with("invalid YAML"));
    }
}
