//! The scheduler: walks the DAG, starts ready nodes while fewer than `jobs` run, and
//! decides what is blocked. It knows nothing about what a node does.

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use tokio::task::JoinSet;

use super::cancel::{CancelToken, Canceller};

/// How a node that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `fatal: false` for an allowed failure: dependents still run.
    Failed {
        fatal: bool,
    },
    /// The node decided not to run (its condition was false).
    Skipped,
    /// The node stopped because the run was cancelled.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeResult {
    Ran(Outcome),
    /// Not run because the need `by` did not succeed.
    Blocked {
        by: usize,
    },
    /// Not run because the run was cancelled first.
    NotStarted,
}

impl Outcome {
    fn unblocks(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Failed { fatal: false })
    }
}

/// Runs every node of the DAG (`deps[i]` = what `i` needs; must be acyclic) through
/// `start`, at most `jobs` at once. A node starts only when all its needs succeeded
/// (or failed with `fatal: false`); otherwise it and its dependents are blocked. When
/// `cancel` fires, nothing new starts and running nodes are awaited (they see the same
/// token). With `abort`, the first fatal failure cancels the run (fail fast).
/// `on_blocked(node, by)` is called as soon as a node is known to be blocked.
pub async fn schedule<F, Fut>(
    deps: &[Vec<usize>],
    jobs: usize,
    mut cancel: CancelToken,
    abort: Option<&Canceller>,
    mut start: F,
    mut on_blocked: impl FnMut(usize, usize),
) -> Vec<NodeResult>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let n = deps.len();
    let jobs = jobs.max(1);
    let mut results: Vec<Option<NodeResult>> = vec![None; n];
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut blocked_by: Vec<Option<usize>> = vec![None; n];
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut ids: HashMap<tokio::task::Id, usize> = HashMap::new();

    loop {
        while running.len() < jobs && !cancel.is_cancelled() {
            let Some(i) = ready.pop_front() else { break };
            let handle = running.spawn(start(i));
            ids.insert(handle.id(), i);
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            joined = running.join_next_with_id() => joined,
            _ = cancel.cancelled(), if !cancel.is_cancelled() => continue,
        };
        let Some(joined) = joined else { break };
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            // A panicking step is a failed step, not a crashed run.
            Err(e) => (e.id(), Outcome::Failed { fatal: true }),
        };
        let Some(node) = ids.remove(&id) else { continue };
        results[node] = Some(NodeResult::Ran(outcome));
        if outcome == (Outcome::Failed { fatal: true })
            && let Some(abort) = abort
        {
            abort.abort();
        }
        // Release or block the dependents; blocking spreads transitively.
        let mut done = vec![(node, outcome.unblocks())];
        while let Some((finished, ok)) = done.pop() {
            for &d in &dependents[finished] {
                if !ok && blocked_by[d].is_none() {
                    blocked_by[d] = Some(finished);
                }
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    match blocked_by[d] {
                        None => ready.push_back(d),
                        Some(by) => {
                            results[d] = Some(NodeResult::Blocked { by });
                            on_blocked(d, by);
                            done.push((d, false));
                        }
                    }
                }
            }
        }
    }
    results.into_iter().map(|r| r.unwrap_or(NodeResult::NotStarted)).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::exec::cancel;

    /// A random DAG: node i may need any of the nodes before it.
    fn dag() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<bool>, usize)> {
        (1usize..24).prop_flat_map(|n| {
            let deps = (0..n)
                .map(|i| {
                    proptest::collection::vec(0..i.max(1), 0..=i.min(3)).prop_map(move |v| {
                        let mut v: Vec<usize> = v.into_iter().filter(|&d| d < i).collect();
                        v.sort_unstable();
                        v.dedup();
                        v
                    })
                })
                .collect::<Vec<_>>();
            (deps, proptest::collection::vec(proptest::bool::weighted(0.15), n), 1usize..5)
        })
    }

    fn transitive_dependents(deps: &[Vec<usize>], of: usize) -> Vec<usize> {
        let mut out = vec![false; deps.len()];
        for i in 0..deps.len() {
            if deps[i].iter().any(|&d| d == of || out[d]) {
                out[i] = true;
            }
        }
        (0..deps.len()).filter(|&i| out[i]).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn runs_each_ready_node_once_in_order_within_jobs((deps, fails, jobs) in dag()) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            let log: Arc<Mutex<Vec<(usize, bool)>>> = Arc::default();
            let live = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let (_c, token) = cancel::channel();
            let results = rt.block_on(schedule(&deps, jobs, token, None, |i| {
                let (log, live, peak, fail) = (log.clone(), live.clone(), peak.clone(), fails[i]);
                async move {
                    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    log.lock().expect("lock").push((i, true));
                    tokio::time::sleep(Duration::from_micros(200 + (i as u64 * 37) % 500)).await;
                    log.lock().expect("lock").push((i, false));
                    live.fetch_sub(1, Ordering::SeqCst);
                    if fail { Outcome::Failed { fatal: true } } else { Outcome::Success }
                }
            }, |_, _| {}));
            let log = log.lock().expect("lock").clone();
            prop_assert!(peak.load(Ordering::SeqCst) <= jobs);
            // Exactly the nodes not downstream of a failure ran, each once.
            let mut doomed = vec![false; deps.len()];
            for (i, _) in fails.iter().enumerate().filter(|(_, f)| **f) {
                for d in transitive_dependents(&deps, i) { doomed[d] = true; }
            }
            for i in 0..deps.len() {
                let starts = log.iter().filter(|(n, s)| *n == i && *s).count();
                prop_assert_eq!(starts, usize::from(!doomed[i]), "node {} started {} times", i, starts);
                match results[i] {
                    NodeResult::Ran(_) => prop_assert!(!doomed[i]),
                    NodeResult::Blocked { by } => {
                        prop_assert!(doomed[i]);
                        prop_assert!(deps[i].contains(&by));
                    }
                    NodeResult::NotStarted => prop_assert!(false, "nothing was cancelled"),
                }
                // Every need finished before the node started.
                if let Some(start) = log.iter().position(|&(n, s)| n == i && s) {
                    for &d in &deps[i] {
                        let end = log.iter().position(|&(n, s)| n == d && !s);
                        prop_assert!(end.is_some_and(|e| e < start), "{} started before its need {} ended", i, d);
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn allowed_failures_do_not_block_and_cancel_stops_new_starts() {
        let deps = vec![vec![], vec![0], vec![1]];
        let (_c, token) = cancel::channel();
        let r = schedule(
            &deps,
            2,
            token,
            None,
            |i| async move { if i == 0 { Outcome::Failed { fatal: false } } else { Outcome::Success } },
            |_, _| {},
        )
        .await;
        assert_eq!(
            r,
            vec![
                NodeResult::Ran(Outcome::Failed { fatal: false }),
                NodeResult::Ran(Outcome::Success),
                NodeResult::Ran(Outcome::Success)
            ]
        );

        let (c, token) = cancel::channel();
        let r = schedule(
            &deps,
            1,
            token,
            Some(&c),
            |i| async move { if i == 0 { Outcome::Failed { fatal: true } } else { Outcome::Success } },
            |_, _| {},
        )
        .await;
        assert_eq!(r[0], NodeResult::Ran(Outcome::Failed { fatal: true }));
        assert_eq!(r[1], NodeResult::Blocked { by: 0 });

        let deps = vec![vec![], vec![], vec![]];
        let (c, token) = cancel::channel();
        let r = schedule(
            &deps,
            1,
            token,
            Some(&c),
            |i| async move { if i == 0 { Outcome::Failed { fatal: true } } else { Outcome::Success } },
            |_, _| {},
        )
        .await;
        assert_eq!(
            r,
            vec![NodeResult::Ran(Outcome::Failed { fatal: true }), NodeResult::NotStarted, NodeResult::NotStarted]
        );
    }
}
