//! Waivers: an annotation on the resource (`shipgate.dev/waive: "<rule>: <reason>;
//! expires=YYYY-MM-DD"`, one per line) or a waiver file (`.shipgate-waivers.yaml`).
//! A waived finding is listed as waived, never hidden; an expired waiver stops
//! waiving and is reported itself. Every waiver needs a reason and an expiry date.

use std::path::Path;

use globset::GlobMatcher;
use serde::Deserialize;

use super::finding::Finding;
use super::input::InputError;
use crate::yaml::{Span, Spanned};

pub const ANNOTATION: &str = "shipgate.dev/waive";
pub const DEFAULT_FILE: &str = ".shipgate-waivers.yaml";

/// A calendar date, compared as (year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Date(pub i32, pub u32, pub u32);

impl Date {
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.trim().splitn(3, '-');
        let y: i32 = it.next()?.parse().ok()?;
        let m: u32 = it.next()?.parse().ok()?;
        let d: u32 = it.next()?.parse().ok()?;
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        ((1..=12).contains(&m) && d >= 1 && d <= days[(m - 1) as usize]).then_some(Date(y, m, d))
    }

    /// Today (UTC). `SHIPGATE_TODAY` (YYYY-MM-DD) can move it later, never earlier, so
    /// that a CI variable cannot bring an expired waiver back.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let real = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
        std::env::var("SHIPGATE_TODAY").ok().and_then(|s| Date::parse(&s)).filter(|d| *d > real).unwrap_or(real)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0, self.1, self.2)
    }
}

/// Days since 1970-01-01 to a date.
fn civil_from_days(z: i64) -> Date {
    let (y, m, d) = crate::exec::events::civil_from_days(z);
    Date(i32::try_from(y).unwrap_or(0), u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

/// One waiver, from an annotation or the waiver file.
#[derive(Debug, Clone)]
pub struct Waiver {
    pub rule: String,
    pub reason: String,
    pub expires: Date,
    /// Where it was written: `file:line`.
    pub at: String,
    path: Option<GlobMatcher>,
    resource: Option<GlobMatcher>,
}

/// A path as waivers compare it: relative paths without a leading `./`.
fn normal_path(p: &str) -> &str {
    let mut p = p;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

/// A waiver that has expired: it no longer waives, and says so.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expired {
    pub rule: String,
    pub reason: String,
    pub expired: String,
    pub at: String,
}

impl Waiver {
    fn covers(&self, f: &Finding) -> bool {
        (self.rule == "*" || self.rule == f.rule)
            && self.path.as_ref().is_none_or(|g| g.is_match(normal_path(&f.file)))
            && self.resource.as_ref().is_none_or(|g| g.is_match(&f.resource))
    }

    /// Waives `f` if this waiver covers it and is in force; an expired one is noted.
    pub fn apply(&self, f: &mut Finding, today: Date, expired: &mut Vec<Expired>) {
        if f.waived.is_some() || !self.covers(f) {
            return;
        }
        if self.expires < today {
            expired.push(Expired {
                rule: f.rule.clone(),
                reason: self.reason.clone(),
                expired: self.expires.to_string(),
                at: self.at.clone(),
            });
        } else {
            f.waived = Some(format!("{} (until {}, {})", self.reason, self.expires, self.at));
        }
    }
}

/// Parses `<rule>: <reason>; expires=YYYY-MM-DD` lines of an annotation.
pub fn from_annotation(text: &str, file: &str, span: Span) -> Result<Vec<Waiver>, InputError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fail = |message: String| InputError {
            file: file.to_owned(),
            span: Some(span),
            message,
            help: Some(format!("write `{ANNOTATION}: \"SG-K8S-007: why it is acceptable; expires=2027-03-31\"`")),
        };
        let (rule, rest) = line.split_once(':').ok_or_else(|| fail(format!("waiver `{line}` names no rule")))?;
        let (reason, expires) = rest
            .rsplit_once(';')
            .and_then(|(r, e)| Some((r.trim(), e.trim().strip_prefix("expires=")?)))
            .ok_or_else(|| fail(format!("waiver `{line}` has no `; expires=YYYY-MM-DD`")))?;
        let expires =
            Date::parse(expires).ok_or_else(|| fail(format!("waiver `{line}`: `{expires}` is not a date")))?;
        if reason.is_empty() {
            return Err(fail(format!("waiver `{line}` gives no reason")));
        }
        out.push(Waiver {
            rule: rule.trim().to_owned(),
            reason: reason.to_owned(),
            expires,
            at: format!("{file}:{}", span.start.line),
            path: None,
            resource: None,
        });
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    waivers: Vec<Spanned<RawWaiver>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: String,
    /// A glob over the file path.
    #[serde(default)]
    path: Option<Spanned<String>>,
    /// A glob over the resource (`Deployment/shop/*`).
    #[serde(default)]
    resource: Option<Spanned<String>>,
    reason: String,
    expires: Spanned<String>,
}

/// Reads a waiver file; every mistake is an error with its position.
pub fn from_file(path: &Path) -> Result<Vec<Waiver>, Vec<InputError>> {
    let name = path.display().to_string();
    let src = super::input::read_source(path).map_err(|e| vec![e])?;
    let err = |span: Option<Span>, message: String, help: Option<String>| InputError {
        file: name.clone(),
        span,
        message,
        help,
    };
    let (docs, _) = crate::yaml::parse_documents(&src.text).map_err(|e| vec![err(Some(e.span), e.message, e.help)])?;
    if let Some(second) = docs.get(1) {
        return Err(vec![err(Some(second.span), "a waiver file holds one document".into(), None)]);
    }
    let Some(node) = docs.into_iter().next() else { return Ok(Vec::new()) };
    let (raw, errors) = crate::yaml::deserialize_all::<RawFile>(&node);
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|e| err(e.span, e.message, e.help)).collect());
    }
    let Some(raw) = raw else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let glob = |g: &Option<Spanned<String>>, errors: &mut Vec<InputError>| {
        // `*` stays within a folder (`**` crosses them); `./` is ignored on both sides.
        let build = |text: &str| globset::GlobBuilder::new(normal_path(text)).literal_separator(true).build();
        g.as_ref().and_then(|g| match build(&g.value) {
            Ok(m) => Some(m.compile_matcher()),
            Err(e) => {
                errors.push(err(Some(g.span), format!("`{}` is not a glob: {e}", g.value), None));
                None
            }
        })
    };
    for w in raw.waivers {
        let Some(expires) = Date::parse(&w.value.expires.value) else {
            errors.push(err(
                Some(w.value.expires.span),
                format!("`{}` is not a date", w.value.expires.value),
                Some("write the expiry as YYYY-MM-DD".into()),
            ));
            continue;
        };
        if w.value.reason.trim().is_empty() {
            errors.push(err(Some(w.span), "the waiver gives no reason".into(), None));
        }
        let (path, resource) = (glob(&w.value.path, &mut errors), glob(&w.value.resource, &mut errors));
        out.push(Waiver {
            rule: w.value.rule,
            reason: w.value.reason,
            expires,
            at: format!("{name}:{}", w.span.start.line),
            path,
            resource,
        });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_compare() {
        assert_eq!(Date::parse("2024-02-29"), Some(Date(2024, 2, 29)));
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2024-13-01"), None);
        assert!(Date(2026, 12, 1) < Date(2027, 1, 1));
        assert_eq!(civil_from_days(0), Date(1970, 1, 1));
        assert_eq!(civil_from_days(20_788), Date(2026, 12, 1));
    }

    #[test]
    fn annotations_need_a_rule_a_reason_and_an_expiry() {
        let span = Span::default();
        let w = from_annotation(
            "SG-K8S-007: legacy image; expires=2027-01-31\nSG-K8S-003: vendor image; expires=2026-06-30",
            "f",
            span,
        )
        .expect("parses");
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].rule.as_str(), w[0].reason.as_str(), w[0].expires),
            ("SG-K8S-007", "legacy image", Date(2027, 1, 31))
        );
        assert!(from_annotation("SG-K8S-007: legacy image", "f", span).is_err());
        assert!(from_annotation("SG-K8S-007: ; expires=2027-01-31", "f", span).is_err());
        assert!(from_annotation("SG-K8S-007: x; expires=someday", "f", span).is_err());
    }
}
