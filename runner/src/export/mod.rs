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

fn key(k: &str) -> String {
    let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '.' || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    if plain { k.to_owned() } else { scalar(&Value::String(k.to_owned())) }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
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
            "yes": "no", "1x": { "k": null }
        });
        let text = to_yaml(&v);
        let (docs, errors) = crate::yaml::parse_documents(&text).expect("parses");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs[0].to_json(), v, "{text}");
        assert!(text.contains("job+x:\n  needs:\n    - job: \"a\"\n      artifacts: true\n"), "{text}");
    }
}
