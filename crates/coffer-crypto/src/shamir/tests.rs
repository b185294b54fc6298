use proptest::prelude::*;

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn refs(shares: &[SecretBytes]) -> Vec<&[u8]> {
    shares.iter().map(SecretBytes::expose).collect()
}

/// Vectors from the independent Python implementation in `tests/vectors/shamir_vectors.py`.
#[test]
fn independent_vectors_split_and_combine() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/vectors/shamir.json")).expect("vector json");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 4);
    for case in cases {
        let secret = unhex(case["secret"].as_str().expect("secret"));
        let threshold = case["threshold"].as_u64().expect("threshold") as u8;
        let xs: Vec<u8> = case["xs"]
            .as_array()
            .expect("xs")
            .iter()
            .map(|x| x.as_u64().expect("x") as u8)
            .collect();
        let coefficients = unhex(case["coefficients"].as_str().expect("coefficients"));
        let want: Vec<Vec<u8>> = case["shares"]
            .as_array()
            .expect("shares")
            .iter()
            .map(|s| unhex(s.as_str().expect("share")))
            .collect();

        let ours = split_with(&secret, &xs, threshold, &coefficients);
        let ours: Vec<Vec<u8>> = ours.iter().map(|s| s.expose().to_vec()).collect();
        assert_eq!(
            ours, want,
            "split disagrees with the independent implementation"
        );

        let t = usize::from(threshold);
        // Every window of t consecutive shares (cyclically) recovers the secret.
        for start in 0..want.len() {
            let subset: Vec<&[u8]> = (0..t)
                .map(|k| want[(start + k) % want.len()].as_slice())
                .collect();
            assert!(combine(&subset).expect("combine").ct_eq(&secret));
        }
        if t > 2 {
            let short: Vec<&[u8]> = want[..t - 1].iter().map(Vec::as_slice).collect();
            assert!(
                !combine(&short).expect("combine").ct_eq(&secret),
                "t-1 shares must not reveal the secret"
            );
        }
    }
}

#[test]
fn layout_is_y_bytes_then_x() {
    let shares = split(b"0123456789abcdef", 5, 3).expect("split");
    assert_eq!(shares.len(), 5);
    let mut xs: Vec<u8> = shares.iter().map(|s| s.expose()[16]).collect();
    assert!(shares.iter().all(|s| s.len() == 17));
    assert!(xs.iter().all(|&x| x != 0));
    xs.sort_unstable();
    xs.dedup();
    assert_eq!(xs.len(), 5, "x coordinates are distinct");
}

#[test]
fn single_part_is_the_secret_itself() {
    let shares = split(b"key", 1, 1).expect("split");
    assert_eq!(shares.len(), 1);
    assert!(shares[0].ct_eq(b"key"));
}

#[test]
fn split_validation() {
    assert_eq!(split(b"", 3, 2).unwrap_err(), ShamirError::EmptySecret);
    assert_eq!(split(b"s", 0, 0).unwrap_err(), ShamirError::NoParts);
    assert_eq!(
        split(b"s", 3, 4).unwrap_err(),
        ShamirError::ThresholdAboveParts {
            parts: 3,
            threshold: 4
        }
    );
    assert_eq!(
        split(b"s", 3, 1).unwrap_err(),
        ShamirError::ThresholdTooLow {
            parts: 3,
            threshold: 1
        }
    );
    assert_eq!(
        split(b"s", 3, 0).unwrap_err(),
        ShamirError::ThresholdTooLow {
            parts: 3,
            threshold: 0
        }
    );
    assert_eq!(
        split(b"s", 1, 0).unwrap_err(),
        ShamirError::ThresholdTooLow {
            parts: 1,
            threshold: 0
        }
    );
    assert!(split(b"s", 255, 255).is_ok());
    let msg = split(b"s", 3, 4).unwrap_err().to_string();
    assert_eq!(msg, "threshold 4 must not exceed parts 3");
}

#[test]
fn combine_validation() {
    let shares = split(b"secret!", 3, 2).expect("split");
    let r = refs(&shares);
    assert_eq!(combine(&[]).unwrap_err(), ShamirError::TooFewShares(0));
    assert_eq!(combine(&r[..1]).unwrap_err(), ShamirError::TooFewShares(1));
    assert_eq!(
        combine(&[r[0], r[0]]).unwrap_err(),
        ShamirError::DuplicateShare { index: 1 }
    );
    assert_eq!(
        combine(&[r[0], &r[1][1..]]).unwrap_err(),
        ShamirError::LengthMismatch {
            index: 1,
            len: 7,
            expected: 8
        }
    );
    assert_eq!(
        combine(&[&[1], &[2]]).unwrap_err(),
        ShamirError::ShareTooShort { index: 0, len: 1 }
    );
    assert_eq!(
        combine(&[&[1, 0], &[2, 3]]).unwrap_err(),
        ShamirError::ZeroX { index: 0 }
    );
    let many: Vec<&[u8]> = vec![&[1, 1]; 256];
    assert_eq!(combine(&many).unwrap_err(), ShamirError::TooManyShares(256));
    // Errors never echo share bytes.
    assert!(
        !ShamirError::DuplicateShare { index: 1 }
            .to_string()
            .contains("0x")
    );
}

#[test]
fn share_bytes_look_uniform() {
    // Each y byte is secret + uniform terms, so over many splits of the same secret the first
    // share byte takes (nearly) every value: a constant or biased coefficient source fails this.
    let mut seen = [false; 256];
    for _ in 0..4000 {
        let shares = split(&[0x42], 2, 2).expect("split");
        seen[usize::from(shares[0].expose()[0])] = true;
    }
    assert!(seen.iter().filter(|s| **s).count() > 250);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_threshold_subset_recovers(
        secret in proptest::collection::vec(any::<u8>(), 1..48),
        parts in 2u8..12,
        t_seed in any::<u8>(),
        pick in any::<proptest::sample::Index>(),
        order_seed in any::<u64>(),
    ) {
        let threshold = 2 + t_seed % (parts - 1);
        let shares = split(&secret, parts, threshold).expect("split");
        // Choose `threshold` distinct shares in a pseudo-random order.
        let mut idx: Vec<usize> = (0..usize::from(parts)).collect();
        let mut s = order_seed | 1;
        for i in (1..idx.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            idx.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let start = pick.index(idx.len());
        idx.rotate_left(start);
        let subset: Vec<&[u8]> = idx[..usize::from(threshold)].iter().map(|&i| shares[i].expose()).collect();
        prop_assert!(combine(&subset).expect("combine").ct_eq(&secret));
        // More than threshold shares also work.
        let all = refs(&shares);
        prop_assert!(combine(&all).expect("combine").ct_eq(&secret));
    }

    #[test]
    fn fewer_than_threshold_do_not_reveal(
        secret in proptest::collection::vec(any::<u8>(), 16..40),
        parts in 3u8..10,
        t_seed in any::<u8>(),
    ) {
        let threshold = 3 + t_seed % (parts - 2);
        let shares = split(&secret, parts, threshold).expect("split");
        let r = refs(&shares);
        let short = &r[..usize::from(threshold) - 1];
        // Probability of an accidental match is 2^-128 for a 16-byte secret.
        prop_assert!(!combine(short).expect("combine").ct_eq(&secret));
    }
}
