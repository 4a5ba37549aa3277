//! Executor overhead: a generated 500-step pipeline of no-op `run: "true"` steps, in a
//! wide (all independent) and a deep (a chain) variant. Times `shipgate plan` and
//! `shipgate run`, and compares `run` with the same 500 commands run by a plain `sh`
//! script (the floor). Rounds alternate A B A B …; medians are reported.
//!
//!     cargo bench --bench executor            # STEPS=500 ROUNDS=7 by default

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn generate(n: usize, deep: bool) -> String {
    let mut s = format!("version: 1\nname: bench-{}\nsteps:\n", if deep { "deep" } else { "wide" });
    for i in 0..n {
        if deep && i > 0 {
            s.push_str(&format!("  s{i}: {{ run: \"true\", needs: [s{}] }}\n", i - 1));
        } else {
            s.push_str(&format!("  s{i}: {{ run: \"true\" }}\n"));
        }
    }
    s
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("command runs");
    let took = start.elapsed();
    assert!(status.success(), "{cmd:?} failed");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let steps = env_or("STEPS", 500);
    let rounds = env_or("ROUNDS", 7);
    let bin = env!("CARGO_BIN_EXE_shipgate");
    let dir = std::env::temp_dir().join(format!("shipgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let script = dir.join("floor.sh");
    std::fs::write(&script, "set -e\n".to_owned() + &"sh -ec true\n".repeat(steps)).expect("script");

    println!(
        "executor benchmark: {steps} steps, {rounds} rounds (medians), {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<6} {:>10} {:>12} {:>12} {:>12} {:>14} {:>10}",
        "shape", "plan ms", "run -j1 ms", "run -jN ms", "sh floor ms", "overhead/step", "run/floor"
    );
    for deep in [false, true] {
        let file = dir.join(if deep { "deep.yaml" } else { "wide.yaml" });
        std::fs::write(&file, generate(steps, deep)).expect("pipeline");
        let shipgate = |args: &[&str]| {
            let mut c = Command::new(bin);
            c.args(args).arg(&file).current_dir(&dir).env("NO_COLOR", "1");
            c
        };
        let (mut plan, mut run1, mut run_n, mut floor) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            plan.push(time(&mut shipgate(&["plan"])));
            run1.push(time(&mut shipgate(&["run", "--jobs", "1"])));
            floor.push(time(Command::new("sh").arg(&script)));
            run_n.push(time(&mut shipgate(&["run"])));
        }
        let (plan, run1, run_n, floor) = (median(plan), median(run1), median(run_n), median(floor));
        let overhead = (ms(run1) - ms(floor)) / steps as f64;
        println!(
            "{:<6} {:>10.1} {:>12.1} {:>12.1} {:>12.1} {:>11.3} ms {:>9.2}x",
            if deep { "deep" } else { "wide" },
            ms(plan),
            ms(run1),
            ms(run_n),
            ms(floor),
            overhead,
            ms(run1) / ms(floor)
        );
    }
    let _ = std::fs::remove_dir_all(Path::new(&dir));
    println!("targets: plan < 50 ms; overhead < 2 ms per step (run -j1 minus the sh floor, per step)");
}
