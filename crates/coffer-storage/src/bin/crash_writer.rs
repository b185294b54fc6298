//! Test helper for `tests/crash.rs` (not part of coffer): opens a [`FileStorage`] in the
//! directory given as the first argument and runs concurrent writers until killed. Each
//! writer `w` puts `crash/w{w}/{i}` for i = 0, 1, 2, ... with the value [`value`] and prints
//! the key on stdout only after the put was acknowledged, so every printed key must
//! survive a SIGKILL at any moment.
//!
//! Usage: `crash_writer DIR [WRITERS]`

use std::io::Write;
use std::sync::Arc;

use coffer_storage::{FileStorage, Storage, TxnOp};

/// The value written under `crash/w{w}/{i}`; `tests/crash.rs` recomputes it. Sizes vary from
/// a few bytes to ~24 KiB so batches span several redb pages.
fn value(w: u64, i: u64) -> Vec<u8> {
    let len = ((w * 7919 + i * 104_729) % 24_000) as usize + 1;
    let seed = format!("{w}:{i}:");
    seed.bytes().cycle().take(len).collect()
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: crash_writer DIR [WRITERS]");
        return std::process::ExitCode::from(2);
    };
    let writers: u64 = args.next().and_then(|w| w.parse().ok()).unwrap_or(16);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let storage = match FileStorage::open(&dir) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("{e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..writers {
            let storage = Arc::clone(&storage);
            tasks.spawn(async move {
                for i in 0.. {
                    let key = format!("crash/w{w}/{i}");
                    // Every 5th write is a two-key transaction: both keys are printed after it.
                    let res = if i % 5 == 4 {
                        let twin = format!("crash/t{w}/{i}");
                        let ops = vec![
                            TxnOp::Put {
                                key: key.clone(),
                                value: value(w, i),
                            },
                            TxnOp::Put {
                                key: twin.clone(),
                                value: value(w + 1000, i),
                            },
                        ];
                        storage
                            .transaction(ops)
                            .await
                            .map(|()| format!("{key}\n{twin}\n"))
                    } else {
                        storage
                            .put(&key, value(w, i))
                            .await
                            .map(|()| format!("{key}\n"))
                    };
                    match res {
                        Ok(lines) => {
                            let mut out = std::io::stdout().lock();
                            if out
                                .write_all(lines.as_bytes())
                                .and_then(|()| out.flush())
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            eprintln!("put {key}: {e}");
                            return;
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        std::process::ExitCode::FAILURE
    })
}
