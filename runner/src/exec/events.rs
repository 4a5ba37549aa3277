//! What reporters see: events while the run goes, and the summary at the end.

use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde::Serialize;

use super::process::Stream;
use crate::ci::CiContext;

/// The version of the JSON run summary's shape.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Success,
    Failed,
    Skipped,
    Cancelled,
}

impl StepStatus {
    /// The name reports use (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Success => "success",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// Why a step failed: decides the exit code (1 for a step, 3 for infrastructure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureClass {
    Step,
    Timeout,
    Infrastructure,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub id: String,
    pub kind: String,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
    pub allow_failure: bool,
    #[serde(serialize_with = "ser_time_opt")]
    pub started_at: Option<SystemTime>,
    #[serde(rename = "duration_ms", serialize_with = "ser_ms")]
    pub duration: Duration,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    pub outputs: IndexMap<String, String>,
    /// The last lines of output (masked), for JUnit failures.
    #[serde(skip)]
    pub output_tail: Vec<String>,
}

impl StepRecord {
    pub fn not_run(id: &str, kind: &str, status: StepStatus, allow_failure: bool, message: String) -> Self {
        StepRecord {
            id: id.to_owned(),
            kind: kind.to_owned(),
            status,
            failure: None,
            allow_failure,
            started_at: None,
            duration: Duration::ZERO,
            attempts: 0,
            exit_code: None,
            message: Some(message),
            outputs: IndexMap::new(),
            output_tail: Vec::new(),
        }
    }

    /// A failure that fails the run.
    pub fn is_fatal(&self) -> bool {
        self.status == StepStatus::Failed && !self.allow_failure
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    Failed,
    Interrupted,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub schema_version: u32,
    pub shipgate_version: &'static str,
    pub pipeline: String,
    pub file: String,
    pub status: RunStatus,
    pub exit_code: i32,
    #[serde(serialize_with = "ser_time")]
    pub started_at: SystemTime,
    #[serde(rename = "duration_ms", serialize_with = "ser_ms")]
    pub duration: Duration,
    pub ci: CiContext,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    RunStarted { pipeline: String, steps: usize, jobs: usize },
    StepStarted { id: String, attempt: u32, attempts: u32 },
    Output { id: String, stream: Stream, line: String },
    Retrying { id: String, next_attempt: u32, delay: Duration, reason: String },
    StepFinished(StepRecord),
    Interrupted { signal: i32 },
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ser_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn ser_time_opt<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// The civil date (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// UTC RFC 3339 with milliseconds, e.g. `2026-11-21T10:04:05.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
