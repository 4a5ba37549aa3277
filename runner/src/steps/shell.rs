//! `run:` steps: a shell command (`sh -ec`) in its own process group.

use super::{BoxFuture, Step, StepContext, StepError};
use crate::exec::process::{ProcessEnd, ProcessSpec, run_process};

#[derive(Debug)]
pub struct Shell {
    pub command: String,
}

impl Shell {
    pub fn argv(&self) -> Vec<String> {
        vec!["sh".into(), "-ec".into(), self.command.clone()]
    }
}

impl Step for Shell {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move { vec![format!("run: sh -ec {}", shell_quote(self.command.trim_end()))] })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let mut argv = self.argv();
            let spec = ProcessSpec {
                program: argv.remove(0),
                args: argv,
                env: ctx.env.clone(),
                cwd: None,
                deadline: ctx.deadline,
                grace: ctx.grace,
            };
            let end = run_process(&spec, ctx.cancel.clone(), &mut *ctx.emit)
                .await
                .map_err(|e| StepError::Infrastructure(format!("could not start `sh`: {e}")))?;
            match end {
                ProcessEnd::Exited(0) => {
                    ctx.exit_code = Some(0);
                    Ok(())
                }
                ProcessEnd::Exited(code) => {
                    ctx.exit_code = Some(code);
                    Err(StepError::Failed(format!("exited with code {code}")))
                }
                ProcessEnd::Signaled(sig) => Err(StepError::Failed(format!("was killed by signal {sig}"))),
                ProcessEnd::TimedOut => Err(StepError::TimedOut(String::new())),
                ProcessEnd::Cancelled => Err(StepError::Cancelled),
            }
        })
    }
}

/// Quotes for display in a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
