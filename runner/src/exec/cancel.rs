//! Two ways a run stops early: *abort* (a step failed under `--fail-fast`) and
//! *interrupt* (SIGINT/SIGTERM). A second signal asks to kill at once.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelState {
    Running,
    Aborted,
    Interrupted { signal: i32, force: bool },
}

#[derive(Debug, Clone)]
pub struct Canceller {
    tx: watch::Sender<CancelState>,
}

#[derive(Debug, Clone)]
pub struct CancelToken {
    rx: watch::Receiver<CancelState>,
}

pub fn channel() -> (Canceller, CancelToken) {
    let (tx, rx) = watch::channel(CancelState::Running);
    (Canceller { tx }, CancelToken { rx })
}

impl Canceller {
    pub fn abort(&self) {
        self.tx.send_if_modified(|s| {
            let change = *s == CancelState::Running;
            if change {
                *s = CancelState::Aborted;
            }
            change
        });
    }

    /// First signal: interrupt; any further one: force (kill without grace).
    pub fn interrupt(&self, signal: i32) {
        self.tx.send_modify(|s| {
            *s = match *s {
                CancelState::Interrupted { signal: first, .. } => {
                    CancelState::Interrupted { signal: first, force: true }
                }
                _ => CancelState::Interrupted { signal, force: false },
            }
        });
    }

    pub fn token(&self) -> CancelToken {
        CancelToken { rx: self.tx.subscribe() }
    }
}

impl CancelToken {
    pub fn state(&self) -> CancelState {
        *self.rx.borrow()
    }

    pub fn is_cancelled(&self) -> bool {
        self.state() != CancelState::Running
    }

    /// Resolves when the state is no longer `Running` (at once if it already is not).
    pub async fn cancelled(&mut self) {
        let _ = self.rx.wait_for(|s| *s != CancelState::Running).await;
    }

    /// Resolves when a forced kill is requested.
    pub async fn forced(&mut self) {
        let _ = self.rx.wait_for(|s| matches!(s, CancelState::Interrupted { force: true, .. })).await;
    }
}
