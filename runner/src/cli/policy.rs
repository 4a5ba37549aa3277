//! `shipgate policy test [PATH...]`: the `test_*` rules of Rego files, like `opa test`.

use std::io::Write;

use super::Global;
use super::args::{Format, PolicyCommand, PolicyTestArgs};
use super::check::print_policy_error;
use crate::exit::ExitCode;
use crate::policy::PolicyError;
use crate::policy::check::{data_files, policy_files};
use crate::policy::engine::PolicySet;

pub(crate) fn policy(g: &Global, c: PolicyCommand) -> ExitCode {
    match c {
        PolicyCommand::Test(a) => test(g, a),
    }
}

fn test(g: &Global, a: PolicyTestArgs) -> ExitCode {
    let loaded = (|| -> Result<_, PolicyError> {
        // The library is always loaded: user tests may build on `data.shipgate.*`.
        let mut files = crate::policy::builtin::files();
        let tests = if a.paths.is_empty() { crate::policy::builtin::tests() } else { policy_files(&a.paths, true)? };
        files.extend(tests.iter().cloned());
        let set = PolicySet::compile(&files, data_files(&a.data)?)?;
        Ok((set, tests))
    })();
    let (mut set, tests) = match loaded {
        Ok(x) => x,
        Err(e) => {
            print_policy_error(g, &e);
            return ExitCode::Usage;
        }
    };
    let mut results = set.run_tests(&tests);
    if let Some(filter) = &a.run {
        results.retain(|r| r.name.contains(filter.as_str()));
    }
    if results.is_empty() {
        super::error(g, "no `test_*` rules found", Some("name test rules `test_…` (in files named `*_test.rego`)"));
        return ExitCode::Usage;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let v = serde_json::json!({ "passed": results.len() - failed, "failed": failed, "tests": results });
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Human => {
            let (r0, r1) = g.style.red();
            let (g0, g1) = g.style.green();
            for r in &results {
                if r.passed {
                    if !g.quiet {
                        let _ = writeln!(out, "{g0}PASS{g1} {}: data.{}.{}", r.file, r.package, r.name);
                    }
                } else {
                    let why = r.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default();
                    let _ = writeln!(out, "{r0}FAIL{r1} {}: data.{}.{}{why}", r.file, r.package, r.name);
                }
            }
            let _ = writeln!(out, "{} passed, {failed} failed", results.len() - failed);
        }
    }
    if failed > 0 { ExitCode::Failure } else { ExitCode::Success }
}
