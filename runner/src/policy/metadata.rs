//! `# METADATA` annotations (OPA's YAML-in-comments format), which regorus does not
//! read: shipgate reads them itself. The built-in rules carry their id, severity and
//! What / Why / How to fix / Example here; user policies may too.

use serde_json::Value;

/// The documentation of one rule.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RuleDoc {
    /// `custom.id`, else the rule's name.
    pub id: String,
    pub title: String,
    /// `custom.severity`: error or warning (else from the rule's name).
    pub severity: Option<String>,
    /// What the rule finds (`description`).
    pub what: String,
    pub why: String,
    pub fix: String,
    pub example: String,
    /// The rule it annotates, e.g. `deny`.
    pub rule: String,
    pub file: String,
    pub line: usize,
}

/// Reads every `# METADATA` block of a Rego file. Blocks that are not valid YAML are
/// reported as errors (line, message): a broken annotation must not lose a severity.
pub fn parse(file: &str, text: &str) -> Result<Vec<RuleDoc>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "# METADATA" {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut yaml = String::new();
        i += 1;
        while i < lines.len() && lines[i].trim_start().starts_with('#') {
            let l = lines[i].trim_start().trim_start_matches('#');
            yaml.push_str(l.strip_prefix(' ').unwrap_or(l));
            yaml.push('\n');
            i += 1;
        }
        // The annotated rule: the first identifier of the next code line.
        let rule = lines
            .get(i)
            .map(|l| l.trim_start().split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""))
            .unwrap_or("")
            .to_owned();
        let docs = crate::yaml::parse_documents(&yaml)
            // An error found at the end of the block is reported on its last line.
            .map_err(|e| {
                ((start + e.span.start.line).min(i), format!("the METADATA block is not valid YAML: {}", e.message))
            })?;
        let v = docs.0.first().map(crate::yaml::Node::to_json).unwrap_or(Value::Null);
        let s = |v: &Value| v.as_str().unwrap_or_default().trim().to_owned();
        let custom = &v["custom"];
        out.push(RuleDoc {
            id: custom["id"].as_str().map_or_else(|| rule.clone(), str::to_owned),
            title: s(&v["title"]),
            severity: custom["severity"].as_str().map(str::to_owned),
            what: s(&v["description"]),
            why: s(&custom["why"]),
            fix: s(&custom["fix"]),
            example: s(&custom["example"]),
            rule,
            file: file.to_owned(),
            line: start,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_read_with_the_rule_they_annotate() {
        let src = "package x\n\n# METADATA\n# title: No root\n# description: Runs as root.\n# custom:\n#   id: SG-1\n#   severity: warning\n#   fix: |\n#     Set runAsNonRoot.\ndeny contains msg if {\n  true\n}\n";
        let docs = parse("x.rego", src).expect("parses");
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!((d.id.as_str(), d.title.as_str(), d.rule.as_str(), d.line), ("SG-1", "No root", "deny", 3));
        assert_eq!(d.severity.as_deref(), Some("warning"));
        assert_eq!(d.fix, "Set runAsNonRoot.");
    }

    #[test]
    fn a_broken_block_is_an_error_with_its_line() {
        let err = parse("x.rego", "# METADATA\n# title: [unclosed\ndeny[msg] { true }\n").expect_err("broken");
        assert_eq!(err.0, 2, "{err:?}");
    }
}
