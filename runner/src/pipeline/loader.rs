//! Reading a pipeline file: YAML → nodes → raw structs → validated model.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::model::Pipeline;
use super::raw::RawPipeline;
use super::validate::{Damaged, validate};
use crate::diag::{Diagnostic, FileDiagnostics};
use crate::yaml::{NodeKind, Pos, Span, deserialize_all, parse_documents};

/// Loads and validates a pipeline. Warnings come back with the pipeline; any error
/// means no pipeline.
pub fn load_file(path: &Path) -> Result<(Pipeline, FileDiagnostics), FileDiagnostics> {
    let source = std::fs::read_to_string(path).map_err(|e| FileDiagnostics {
        path: path.to_path_buf(),
        source: Arc::from(""),
        items: vec![
            Diagnostic::error(Span::default(), format!("cannot read the pipeline file: {e}"))
                .with_help("check the path; pipelines usually live in `pipelines/`"),
        ],
    })?;
    load_str(path, &source)
}

pub fn load_str(path: &Path, source: &str) -> Result<(Pipeline, FileDiagnostics), FileDiagnostics> {
    let source: Arc<str> = Arc::from(source);
    let mut diags = FileDiagnostics { path: path.to_path_buf(), source: source.clone(), items: Vec::new() };
    let (docs, dups) = match parse_documents(&source) {
        Ok(v) => v,
        Err(e) => {
            diags.items.push(Diagnostic::error(e.span, e.message).with_help_opt(e.help));
            return Err(diags);
        }
    };
    for d in dups {
        diags.items.push(Diagnostic::error(d.span, d.message).with_help_opt(d.help));
    }
    let root = match docs.as_slice() {
        [] => {
            diags.items.push(
                Diagnostic::error(
                    Span::new(Pos { line: 1, col: 1 }, Pos { line: 1, col: 1 }),
                    "the pipeline file is empty",
                )
                .with_help("start with `version: 1` and a `steps:` mapping"),
            );
            return Err(diags);
        }
        [root] => root,
        [_, second, ..] => {
            diags.items.push(
                Diagnostic::error(second.span, "a pipeline file holds one YAML document")
                    .with_help("remove the `---` separator or split the file into one pipeline per file"),
            );
            return Err(diags);
        }
    };
    if !matches!(root.kind, crate::yaml::NodeKind::Map(_)) {
        diags.items.push(
            Diagnostic::error(root.span, format!("a pipeline is a mapping, found {}", root.type_name()))
                .with_help("start with `version: 1` and a `steps:` mapping"),
        );
        return Err(diags);
    }
    // Literal values of secrets are errors, and must not be shown in the snippets.
    diags.source = redact_secret_values(root, &source);
    let (raw, errors) = deserialize_all::<RawPipeline>(root);
    // Steps whose mapping held a type error: later checks must not pile on (a step whose
    // bad `run:` was dropped is not also "missing `run:`").
    let damaged: HashSet<String> = match root.get("steps").map(|s| &s.kind) {
        Some(NodeKind::Map(pairs)) => pairs
            .iter()
            .filter(|(_, v)| {
                errors.iter().any(|e| e.span.is_some_and(|s| s.start >= v.span.start && s.start <= v.span.end))
            })
            .filter_map(|(k, _)| k.as_str().map(str::to_owned))
            .collect(),
        _ => HashSet::new(),
    };
    // An unknown or mistyped top-level key explains a missing `version`/`steps`.
    let top_damaged = match &root.kind {
        NodeKind::Map(pairs) => errors.iter().any(|e| pairs.iter().any(|(k, _)| e.span == Some(k.span))),
        _ => false,
    };
    for e in errors {
        let help = e.help.or_else(|| Some("see schemas/pipeline.schema.json for the expected shape".into()));
        diags.items.push(Diagnostic::error(e.span.unwrap_or(root.span), e.message).with_help_opt(help));
    }
    let Some(raw) = raw else {
        diags.sort();
        return Err(diags);
    };
    let (pipeline, items) = validate(raw, path, source, root.span, &Damaged { steps: damaged, top_level: top_damaged });
    diags.items.extend(items);
    diags.sort();
    match pipeline {
        Some(p) if !diags.has_errors() => Ok((p, diags)),
        _ => Err(diags),
    }
}

/// The source with the literal values of secret variables in `env:` (declared under
/// `secrets:` or named like one) replaced by `*`, positions kept.
fn redact_secret_values(root: &crate::yaml::Node, source: &Arc<str>) -> Arc<str> {
    let declared: Vec<&str> = match root.get("secrets").map(|s| &s.kind) {
        Some(NodeKind::Seq(items)) => items
            .iter()
            .filter_map(|i| match &i.kind {
                NodeKind::Scalar(n, _) => Some(n.as_str()),
                NodeKind::Map(pairs) => pairs.first().and_then(|(k, _)| k.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut spans = Vec::new();
    let mut env_maps: Vec<&crate::yaml::Node> = root.get("env").into_iter().collect();
    if let Some(NodeKind::Map(steps)) = root.get("steps").map(|s| &s.kind) {
        env_maps.extend(steps.iter().filter_map(|(_, st)| st.get("env")));
    }
    for env in env_maps {
        let NodeKind::Map(pairs) = &env.kind else { continue };
        for (k, v) in pairs {
            let (Some(name), NodeKind::Scalar(value, _)) = (k.as_str(), &v.kind) else { continue };
            if (declared.contains(&name) || super::validate::is_secret_name(name)) && !value.contains("${") {
                spans.push(v.span);
            }
        }
    }
    if spans.is_empty() {
        return source.clone();
    }
    let mut out = String::with_capacity(source.len());
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let n = i + 1;
        for (j, c) in line.chars().enumerate() {
            let col = j + 1;
            let hidden = !matches!(c, '\n' | '\r')
                && spans.iter().any(|s| {
                    let after_start = n > s.start.line || (n == s.start.line && col >= s.start.col);
                    let before_end = n < s.end.line || (n == s.end.line && col < s.end.col);
                    after_start && before_end
                });
            out.push(if hidden { '*' } else { c });
        }
    }
    Arc::from(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// YAML-ish fragments that hit the loader's branches (keys, flow and block
    /// collections, templates, expressions, anchors, odd scalars).
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("version: 1\n".to_owned()),
            Just("steps:\n".to_owned()),
            Just("  a: { run: x, needs: [b] }\n".to_owned()),
            Just("  b:\n    run: echo ${{ steps.a.outputs.o }}\n".to_owned()),
            Just("    outputs: [o]\n".to_owned()),
            Just("    if: ci.branch == 'main' && !$X\n".to_owned()),
            Just("    timeout: 5m\n    retry: { attempts: 2 }\n".to_owned()),
            Just("env: { A: ${B:-c}, D: \"${{ ci.tag }}\" }\n".to_owned()),
            Just("  c: &x { uses: k, with: *x }\n".to_owned()),
            Just("---\n".to_owned()),
            Just("secrets: [A]\n".to_owned()),
            "[ -~\n]{0,20}",
            "[:{}\\[\\],&*!|>'\"#$ \n-]{0,10}",
        ]
    }

    #[test]
    fn names_that_make_one_ci_variable_are_refused() {
        let src = "version: 1\nsteps:\n  build: { run: x, outputs: [image_digest] }\n  build_image: { run: x, outputs: [digest] }\n  shop-api: { run: x }\n  shop_api: { run: x }\n";
        let d = load_str(Path::new("p.yaml"), src).expect_err("collisions");
        let messages: Vec<&str> = d.items.iter().map(|i| i.message.as_str()).collect();
        assert!(
            messages.contains(&"output `digest` of `build_image` and output `image_digest` of `build` would both be passed on as SHIPGATE_BUILD_IMAGE_DIGEST"),
            "{messages:?}"
        );
        assert!(messages.iter().any(|m| m.contains("SHIPGATE_SHOP_API__STATUS")), "{messages:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn loading_never_panics_and_errors_have_positions(parts in proptest::collection::vec(fragment(), 0..12)) {
            let src = parts.concat();
            if let Err(d) = load_str(Path::new("p.yaml"), &src) {
                prop_assert!(d.has_errors());
                for item in &d.items {
                    prop_assert!(item.span.start.line >= 1);
                    let rendered = crate::diag::render_human(&d, crate::style::Style::plain());
                    prop_assert!(rendered.contains("--> p.yaml:"));
                }
            }
        }
    }
}
