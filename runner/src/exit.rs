//! Exit codes, as documented in the README.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything succeeded.
    Success,
    /// A step failed or the gate denied.
    Failure,
    /// Usage, pipeline or configuration error: nothing ran.
    Usage,
    /// Infrastructure error (a service unreachable after retries).
    Infrastructure,
    /// Interrupted by SIGINT.
    Interrupted,
    /// Terminated by SIGTERM.
    Terminated,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Infrastructure => 3,
            ExitCode::Interrupted => 130,
            ExitCode::Terminated => 143,
        }
    }
}
