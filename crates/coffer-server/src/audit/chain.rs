//! The tamper-evident chain: each audit line carries `seq` (1, 2, ...) and
//! `prev_hash` (`sha256:<hex>` of the previous line's bytes, without its
//! newline; the first line points at [`GENESIS`]). `verify_file` finds the
//! first line that was changed, removed or inserted.

use std::io::BufRead;

use serde_json::Value;

pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

pub fn line_hash(line: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(coffer_crypto::digest::sha256(line))
    )
}

/// Outcome of verifying a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub lines: u64,
    /// The first bad line (1-based) and why, or `None` when the chain holds.
    pub first_error: Option<(u64, String)>,
}

/// Checks the chain of every line read from `reader`.
pub fn verify_file(reader: impl BufRead) -> std::io::Result<VerifyReport> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1u64;
    let mut lines = 0;
    for (idx, line) in reader.lines().enumerate() {
        let line = line?;
        let n = idx as u64 + 1;
        lines = n;
        let fail = |why: String| {
            Ok(VerifyReport {
                lines: n,
                first_error: Some((n, why)),
            })
        };
        let Some(start) = line.find('{') else {
            return fail("line is not a JSON object".into());
        };
        let Ok(v) = serde_json::from_str::<Value>(&line[start..]) else {
            return fail("line is not valid JSON".into());
        };
        let seq = v.get("seq").and_then(Value::as_u64);
        let got_prev = v.get("prev_hash").and_then(Value::as_str).unwrap_or("");
        match seq {
            Some(s) if s == expected_seq => {}
            Some(s) if s > expected_seq && expected_seq == 1 && got_prev != GENESIS => {
                // A log that starts mid-chain (rotated file): accept its first link.
                expected_seq = s;
                prev = got_prev.to_owned();
            }
            Some(s) => {
                return fail(format!(
                    "sequence {s} where {expected_seq} was expected: a line is missing or was inserted"
                ));
            }
            None => return fail("line has no sequence number".into()),
        }
        if got_prev != prev {
            return fail("prev_hash does not match the previous line: the previous line was altered or removed".into());
        }
        prev = line_hash(line.as_bytes());
        expected_seq += 1;
    }
    Ok(VerifyReport {
        lines,
        first_error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<String> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|i| {
                let line = format!(r#"{{"type":"request","seq":{i},"prev_hash":"{prev}"}}"#);
                prev = line_hash(line.as_bytes());
                line
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let text = chain(5).join("\n");
        let r = verify_file(text.as_bytes()).unwrap();
        assert_eq!(
            r,
            VerifyReport {
                lines: 5,
                first_error: None
            }
        );
    }

    #[test]
    fn altered_removed_and_inserted_lines_are_found() {
        let mut lines = chain(5);
        lines[1] = lines[1].replace("request", "response");
        let r = verify_file(lines.join("\n").as_bytes()).unwrap();
        assert_eq!(r.first_error.map(|e| e.0), Some(3));

        let mut lines = chain(5);
        lines.remove(2);
        let r = verify_file(lines.join("\n").as_bytes()).unwrap();
        assert_eq!(r.first_error.map(|e| e.0), Some(3));

        let mut lines = chain(5);
        lines.insert(2, lines[1].clone());
        let r = verify_file(lines.join("\n").as_bytes()).unwrap();
        assert_eq!(r.first_error.map(|e| e.0), Some(3));
    }
}
