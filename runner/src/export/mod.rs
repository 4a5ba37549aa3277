//! `shipgate export`: what shipgate knows, in other tools' formats: a pipeline as a
//! GitLab child pipeline, the Grafana dashboard of its metrics.

pub mod gitlab_ci;

use std::fmt::Write;

use serde_json::Value;

/// The Grafana dashboard (JSON) that reads `--metrics` files.
pub const GRAFANA_DASHBOARD: &str = include_str!("../report/grafana-dashboard.json");

/// Block-style YAML of a JSON value: keys plain where YAML allows, every string
/// double-quoted (JSON escapes are valid YAML), so no value changes type on reading.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

/// Keys YAML 1.1 readers (GitLab's among them) take for booleans or null when plain.
const YAML11_WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];

fn key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '.' || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
        && !YAML11_WORDS.contains(&k.to_ascii_lowercase().as_str());
    if plain { k.to_owned() } else { scalar(&Value::String(k.to_owned())) }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        // JSON's escapes, plus those YAML readers need: control characters JSON leaves
        // as they are (DEL, C1) and the characters YAML takes for line breaks.
        Value::String(_) => {
            let json = v.to_string();
            json.chars()
                .map(|c| match c {
                    '\u{7f}' | '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => format!("\\u{:04x}", c as u32),
                    c => c.to_string(),
                })
                .collect()
        }
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, v) in o {
                if is_block(v) {
                    let _ = writeln!(out, "{pad}{}:", key(k));
                    emit(v, indent + 2, out);
                } else {
                    let _ = writeln!(out, "{pad}{}: {}", key(k), scalar(v));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if is_block(item) {
                    // `- ` then the first line of the nested block on the same line.
                    let mut nested = String::new();
                    emit(item, indent + 2, &mut nested);
                    let _ = write!(out, "{pad}- {}", &nested[indent + 2..]);
                } else {
                    let _ = writeln!(out, "{pad}- {}", scalar(item));
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_back_as_the_same_value() {
        let v = serde_json::json!({
            "stages": ["a", "b"],
            "job+x": { "needs": [{ "job": "a", "artifacts": true }], "script": ["echo \"hi\" 'there' #1: x"], "n": [] },
            "yes": "no", "1x": { "k": null }, "On": "\u{85}\u{2028}\u{7f}", "NULL": []
        });
        let text = to_yaml(&v);
        let (docs, errors) = crate::yaml::parse_documents(&text).expect("parses");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs[0].to_json(), v, "{text}");
        assert!(text.contains("job+x:\n  needs:\n    - job: \"a\"\n      artifacts: true\n"), "{text}");
        // Words YAML 1.1 reads as booleans or null stay strings there too.
        assert!(
            text.contains("\"yes\": \"no\"") && text.contains("\"On\": ") && text.contains("\"NULL\": []"),
            "{text}"
        );
        assert!(text.contains("\\u0085\\u2028\\u007f"), "{text}");
    }
}
