//! Cleanup that survives shipgate's own death. A small `sh` process, in a process
//! group of its own, reads `+PGID` / `-PGID` lines from a pipe as step process groups
//! start and end. When the pipe closes — shipgate exited, or was killed with SIGKILL so
//! that none of its own cleanup ran — it kills every group still registered. Without
//! it, a step's background processes would outlive a killed shipgate (the kernel's
//! parent-death signal reaches only the direct child).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// POSIX sh: keeps a space-separated set of groups; signals cannot stop it (it must
/// outlive shipgate), only end-of-input does.
const SCRIPT: &str = r#"trap '' INT TERM HUP
groups=" "
while IFS= read -r line; do
  p=${line#?}
  case "$line" in
    +*) groups="$groups$p " ;;
    -*) case "$groups" in *" $p "*) groups="${groups%% $p *} ${groups#* $p }" ;; esac ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
"#;

static PIPE: OnceLock<Option<Mutex<ChildStdin>>> = OnceLock::new();

fn pipe() -> Option<&'static Mutex<ChildStdin>> {
    PIPE.get_or_init(|| {
        let child = Command::new("sh")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match child {
            Ok(mut c) => c.stdin.take().map(Mutex::new),
            Err(e) => {
                tracing::warn!(
                    "cannot start the cleanup watchdog ({e}); if shipgate is killed, step processes may survive it"
                );
                None
            }
        }
    })
    .as_ref()
}

fn send(line: &str) {
    if let Some(p) = pipe()
        && let Ok(mut w) = p.lock()
    {
        let _ = w.write_all(line.as_bytes());
    }
}

/// A step's process group started.
pub fn register(pgid: u32) {
    send(&format!("+{pgid}\n"));
}

/// A step's process group ended (it must not be killed later: its id may be reused).
pub fn unregister(pgid: u32) {
    send(&format!("-{pgid}\n"));
}
