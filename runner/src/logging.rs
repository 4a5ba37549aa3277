//! Logging (tracing) to stderr, through the run's secret masker.

use std::io::{self, Write};
use std::sync::{OnceLock, RwLock};

use crate::exec::mask::Masker;

static MASKER: OnceLock<RwLock<Masker>> = OnceLock::new();

fn cell() -> &'static RwLock<Masker> {
    MASKER.get_or_init(|| RwLock::new(Masker::default()))
}

/// Makes `masker` apply to every log line and every error printed from now on.
pub fn set_masker(masker: Masker) {
    if let Ok(mut m) = cell().write() {
        *m = masker;
    }
}

/// Masks text with the process-wide masker (for errors printed by `main`).
pub fn mask(text: &str) -> String {
    cell().read().map(|m| m.mask(text).into_owned()).unwrap_or_else(|_| text.to_owned())
}

struct MaskedStderr;

impl Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(mask(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `verbosity`: 0 = warnings, 1 = debug, 2+ = trace; `quiet` = errors only.
pub fn init(verbosity: u8, quiet: bool, color: bool) {
    let level = match (quiet, verbosity) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .with_writer(|| MaskedStderr)
        .try_init();
}
