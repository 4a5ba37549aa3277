//! Secret masking. Every line of output, every report field and every error passes
//! through a [`Masker`] before anyone sees it.

use std::borrow::Cow;

pub const MASK: &str = "[MASKED]";

/// Shorter values would mask ordinary text everywhere (and give the value away by
/// its gaps); such secrets are warned about instead.
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so a secret containing another is masked whole.
    values: Vec<String>,
}

impl Masker {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for v in values {
            // Multi-line secrets (keys, certificates) are also masked line by line, since
            // output is handled a line at a time.
            let mut parts = vec![v.clone()];
            if v.contains('\n') {
                parts.extend(v.lines().map(|l| l.trim().to_owned()));
            }
            // JSON- and XML-escaped forms, as they appear in reports.
            for p in parts.clone() {
                let json = serde_json::to_string(&p).unwrap_or_default();
                parts.push(json.trim_matches('"').to_owned());
                parts.push(
                    p.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('"', "&quot;")
                        .replace('\'', "&apos;"),
                );
            }
            for p in parts {
                if p.chars().count() >= MIN_SECRET_LEN && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Masker { values: out }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.values.iter().any(|v| text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut s = text.to_owned();
        for v in &self.values {
            if s.contains(v.as_str()) {
                s = s.replace(v.as_str(), MASK);
            }
        }
        Cow::Owned(s)
    }

    pub fn mask_string(&self, text: String) -> String {
        match self.mask(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_escaped_and_multiline_forms() {
        let m = Masker::new([
            "hunter22".to_owned(),
            "line-one\nline-two".to_owned(),
            "abc".to_owned(),
            "a\"b<c>d".to_owned(),
        ]);
        assert_eq!(m.mask("pw=hunter22!"), "pw=[MASKED]!");
        assert_eq!(m.mask("got line-two here"), "got [MASKED] here");
        assert_eq!(m.mask("abc stays: too short to mask"), "abc stays: too short to mask");
        assert_eq!(m.mask(r#"{"v":"a\"b<c>d"}"#), r#"{"v":"[MASKED]"}"#);
        assert_eq!(m.mask("<x>a&quot;b&lt;c&gt;d</x>"), "<x>[MASKED]</x>");
    }
}
