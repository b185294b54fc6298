//! Shamir secret sharing over GF(2^8), byte for byte compatible with Vault/OpenBao's
//! `shamir` package: each share is the y values (one per secret byte) followed by one
//! trailing x coordinate byte; x coordinates are distinct and non-zero; polynomial
//! coefficients are uniform random bytes; the field uses the AES polynomial (0x11b).
//! Arithmetic is constant time (see `gf256`).
//!
//! `parts == 1` (with `threshold == 1`) is allowed and returns the secret itself as the only
//! share, which is what Vault hands out for a single unseal key. [`combine`] always needs
//! at least two shares; a server configured with one share uses it directly as the key.

use crate::gf256;
use crate::random::{random_bytes, uniform_below};
use crate::secret::SecretBytes;

/// Why a split or combine was refused. Messages never include share or secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    #[error("cannot split an empty secret")]
    EmptySecret,
    #[error("parts must be at least 1 (got 0)")]
    NoParts,
    #[error("threshold {threshold} must not exceed parts {parts}")]
    ThresholdAboveParts { parts: u8, threshold: u8 },
    #[error("threshold must be at least 2 when parts is {parts} (got {threshold})")]
    ThresholdTooLow { parts: u8, threshold: u8 },
    #[error("at least two shares are needed to reconstruct the secret (got {0})")]
    TooFewShares(usize),
    #[error("more than 255 shares given ({0})")]
    TooManyShares(usize),
    #[error("share {index} is {len} bytes; shares must be at least 2 bytes")]
    ShareTooShort { index: usize, len: usize },
    #[error(
        "share {index} is {len} bytes but share 0 is {expected}; all shares must be the same length"
    )]
    LengthMismatch {
        index: usize,
        len: usize,
        expected: usize,
    },
    #[error("share {index} has x coordinate 0, which is never valid")]
    ZeroX { index: usize },
    #[error("share {index} duplicates the x coordinate of an earlier share")]
    DuplicateShare { index: usize },
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
pub fn split(secret: &[u8], parts: u8, threshold: u8) -> Result<Vec<SecretBytes>, ShamirError> {
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    if parts == 0 {
        return Err(ShamirError::NoParts);
    }
    if threshold > parts {
        return Err(ShamirError::ThresholdAboveParts { parts, threshold });
    }
    if parts == 1 {
        // threshold is 0 or 1 here; Vault's single unseal key is the secret itself.
        if threshold == 0 {
            return Err(ShamirError::ThresholdTooLow { parts, threshold });
        }
        return Ok(vec![SecretBytes::from_slice(secret)]);
    }
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooLow { parts, threshold });
    }
    let xs = shuffled_x_coordinates();
    let coefficients = SecretBytes::new(random_bytes(secret.len() * usize::from(threshold - 1)));
    Ok(split_with(
        secret,
        &xs[..usize::from(parts)],
        threshold,
        coefficients.expose(),
    ))
}

/// Deterministic core of [`split`]: `coefficients` holds, for each secret byte in order,
/// the `threshold - 1` coefficients of x^1..x^(threshold-1).
pub(crate) fn split_with(
    secret: &[u8],
    xs: &[u8],
    threshold: u8,
    coefficients: &[u8],
) -> Vec<SecretBytes> {
    let degree = usize::from(threshold) - 1;
    debug_assert_eq!(coefficients.len(), secret.len() * degree);
    xs.iter()
        .map(|&x| {
            let mut share = Vec::with_capacity(secret.len() + 1);
            for (i, &intercept) in secret.iter().enumerate() {
                let coeffs = &coefficients[i * degree..(i + 1) * degree];
                // Horner: ((c_d x + c_{d-1}) x + ... + c_1) x + intercept.
                let mut y = 0u8;
                for &c in coeffs.iter().rev() {
                    y = gf256::add(gf256::mul(y, x), c);
                }
                share.push(gf256::add(gf256::mul(y, x), intercept));
            }
            share.push(x);
            SecretBytes::new(share)
        })
        .collect()
}

/// The 255 non-zero x coordinates in uniformly random order (Fisher–Yates).
fn shuffled_x_coordinates() -> [u8; 255] {
    let mut xs = [0u8; 255];
    for (i, x) in xs.iter_mut().enumerate() {
        *x = i as u8 + 1;
    }
    for i in (1..xs.len()).rev() {
        let j = usize::from(uniform_below(i as u16 + 1));
        xs.swap(i, j);
    }
    xs
}

/// Recovers the secret from at least two shares (in Vault's layout). With fewer shares than
/// the threshold the result is a wrong value, not an error: Shamir cannot tell.
pub fn combine(shares: &[&[u8]]) -> Result<SecretBytes, ShamirError> {
    if shares.len() < 2 {
        return Err(ShamirError::TooFewShares(shares.len()));
    }
    if shares.len() > 255 {
        return Err(ShamirError::TooManyShares(shares.len()));
    }
    let len = shares[0].len();
    let mut xs = Vec::with_capacity(shares.len());
    for (index, share) in shares.iter().enumerate() {
        if share.len() < 2 {
            return Err(ShamirError::ShareTooShort {
                index,
                len: share.len(),
            });
        }
        if share.len() != len {
            return Err(ShamirError::LengthMismatch {
                index,
                len: share.len(),
                expected: len,
            });
        }
        let x = share[len - 1];
        if x == 0 {
            return Err(ShamirError::ZeroX { index });
        }
        if xs.contains(&x) {
            return Err(ShamirError::DuplicateShare { index });
        }
        xs.push(x);
    }
    // Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_i - x_j); the same for every byte.
    let basis: Vec<u8> = (0..xs.len())
        .map(|i| {
            let mut l = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    l = gf256::mul(l, gf256::div(xj, gf256::add(xs[i], xj)));
                }
            }
            l
        })
        .collect();
    let secret = (0..len - 1)
        .map(|byte| {
            shares.iter().zip(&basis).fold(0u8, |acc, (share, &l)| {
                gf256::add(acc, gf256::mul(share[byte], l))
            })
        })
        .collect();
    Ok(SecretBytes::new(secret))
}

#[cfg(test)]
mod tests;
