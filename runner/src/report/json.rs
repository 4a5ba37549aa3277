//! `--report json=FILE`: the versioned run summary.

use std::io;
use std::path::PathBuf;

use super::{Reporter, write_atomic};
use crate::exec::events::RunSummary;
use crate::exec::mask::Masker;

#[derive(Debug)]
pub struct JsonReporter {
    pub path: PathBuf,
    pub masker: Masker,
}

impl Reporter for JsonReporter {
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let text = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
        write_atomic(&self.path, &self.masker.mask(&text))
    }
}
