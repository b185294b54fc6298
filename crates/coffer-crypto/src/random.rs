//! Randomness straight from the OS CSPRNG (the getrandom system call). Not
//! aws-lc's DRBG: its first use gathers a CPU-jitter seed for tens of
//! milliseconds, which would dominate the server's start-up.

fn fill(dest: &mut [u8]) {
    // getrandom only fails when the OS entropy source is unusable; continuing
    // without randomness would be far worse than stopping.
    #[allow(clippy::expect_used)]
    getrandom::fill(dest).expect("the operating system's random number generator failed");
}

/// `n` bytes from the OS CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    fill(&mut out);
    out
}

/// `N` bytes from the OS CSPRNG.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}

/// A uniform random index in `0..bound` (bound in `1..=256`), by rejection sampling.
pub(crate) fn uniform_below(bound: u16) -> u8 {
    debug_assert!((1..=256).contains(&bound));
    // Largest multiple of `bound` that fits in 0..256; bytes at or above it are rejected.
    let limit = 256 - (256 % bound);
    loop {
        let [b] = random_array::<1>();
        if u16::from(b) < limit {
            return (u16::from(b) % bound) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_variety() {
        assert_eq!(random_bytes(0).len(), 0);
        assert_eq!(random_bytes(100).len(), 100);
        assert_ne!(random_array::<32>(), random_array::<32>());
    }

    #[test]
    fn uniform_below_stays_in_range_and_covers_it() {
        let mut seen = [false; 7];
        for _ in 0..2000 {
            let v = uniform_below(7);
            seen[usize::from(v)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        for _ in 0..100 {
            assert_eq!(uniform_below(1), 0);
            let _ = uniform_below(256);
        }
    }
}
