//! kill -9 durability: a child process (`crash_writer`) runs concurrent writers on a
//! FileStorage and prints each key only after its write was acknowledged. We SIGKILL it
//! mid-load, reopen the database, and demand that every acknowledged key is there with its
//! exact value and that redb's integrity check passes. Repeated on the same directory so
//! later rounds also recover from earlier crashes.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer_storage::{FileStorage, Storage};

/// Same rule as `src/bin/crash_writer.rs`.
fn expected_value(w: u64, i: u64) -> Vec<u8> {
    let len = ((w * 7919 + i * 104_729) % 24_000) as usize + 1;
    let seed = format!("{w}:{i}:");
    seed.bytes().cycle().take(len).collect()
}

fn parse(key: &str) -> (u64, u64) {
    let rest = key.strip_prefix("crash/").expect("crash/ prefix");
    let (who, i) = rest.split_once('/').expect("two parts");
    let i: u64 = i.parse().expect("index");
    if let Some(w) = who.strip_prefix('w') {
        (w.parse().expect("writer"), i)
    } else {
        let w: u64 = who
            .strip_prefix('t')
            .expect("t prefix")
            .parse()
            .expect("writer");
        (w + 1000, i)
    }
}

/// Runs the writer until at least `min_acks` acknowledgements, plus `extra`, then SIGKILLs it.
/// Returns every key whose line was completely printed.
fn run_and_kill(dir: &std::path::Path, min_acks: usize, extra: Duration) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(dir)
        .arg("24")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash_writer");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let lines = Arc::new(AtomicUsize::new(0));
    let reader = {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                all.extend_from_slice(&buf[..n]);
                lines.fetch_add(
                    buf[..n].iter().filter(|&&b| b == b'\n').count(),
                    Ordering::SeqCst,
                );
            }
            all
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines.load(Ordering::SeqCst) < min_acks {
        assert!(Instant::now() < deadline, "crash_writer made no progress");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("crash_writer exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(extra);
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on unix
    child.wait().expect("reap");
    let out = reader.join().expect("reader thread");
    let text = String::from_utf8(out).expect("utf-8 output");
    // A line cut by the kill has no newline: it was never fully acknowledged to us.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    for round in 0..4u64 {
        let acked = run_and_kill(dir.path(), 300, Duration::from_millis(37 * round + 11));
        assert!(
            acked.len() >= 300,
            "round {round}: only {} writes acknowledged before the kill",
            acked.len()
        );

        assert!(
            FileStorage::check_integrity(dir.path()).expect("database opens after SIGKILL"),
            "round {round}: integrity check failed"
        );
        let s = FileStorage::open(dir.path()).expect("reopen after SIGKILL");
        for key in &acked {
            let (w, i) = parse(key);
            let got = s.get(key).await.expect("get");
            assert!(
                got.as_deref() == Some(&expected_value(w, i)[..]),
                "round {round}: acknowledged key {key} lost or changed"
            );
        }
        // Nothing is corrupt: every key present (acknowledged or not) has its exact value,
        // and each two-key transaction landed whole or not at all.
        let dirs = s.list("crash/").await.expect("list");
        assert!(
            dirs.len() >= 24 && dirs.iter().all(|d| d.ends_with('/')),
            "{dirs:?}"
        );
        let mut present = 0;
        for d in &dirs {
            for leaf in s.list(&format!("crash/{d}")).await.expect("list") {
                let key = format!("crash/{d}{leaf}");
                let (w, i) = parse(&key);
                let got = s.get(&key).await.expect("get").expect("listed key exists");
                assert!(
                    got == expected_value(w, i),
                    "round {round}: {key} holds a torn or wrong value"
                );
                if let Some(writer) = d.strip_prefix('w') {
                    if i % 5 == 4 {
                        let twin = format!("crash/t{writer}{i}");
                        assert!(
                            s.get(&twin).await.expect("get").is_some(),
                            "round {round}: {key} without its transaction twin"
                        );
                    }
                } else {
                    let own = format!("crash/w{}{i}", d.trim_start_matches('t'));
                    assert!(
                        s.get(&own).await.expect("get").is_some(),
                        "round {round}: {key} without its transaction twin"
                    );
                }
                present += 1;
            }
        }
        assert!(present >= acked.len());
        drop(s);
        eprintln!(
            "round {round}: {} acknowledged writes verified",
            acked.len()
        );
    }
}
