//! Shamir secret sharing over GF(2^8) (AES polynomial 0x11B), with the
//! share layout of HashiCorp Vault's package that sops uses: the y bytes
//! followed by one x byte.

use zeroize::Zeroizing;

use crate::cipher::fill_random;

fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    p
}

fn inv(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8)
    let mut r = 1u8;
    let mut base = a;
    let mut e = 254u8;
    while e != 0 {
        if e & 1 != 0 {
            r = mul(r, base);
        }
        base = mul(base, base);
        e >>= 1;
    }
    r
}

/// Splits `secret` into `n` shares, any `k` of which recover it.
/// Share i (1-based) is evaluated at x = i.
pub fn split(secret: &[u8], n: usize, k: usize) -> Result<Vec<Zeroizing<Vec<u8>>>, String> {
    if !(2..=255).contains(&n) || k < 2 || k > n {
        return Err(format!(
            "invalid Shamir parameters: {k} of {n} (need 2 ≤ threshold ≤ groups ≤ 255)"
        ));
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..n)
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coeffs = Zeroizing::new(vec![0u8; k - 1]);
    for &s in secret {
        fill_random(&mut coeffs);
        for (i, share) in shares.iter_mut().enumerate() {
            let x = (i + 1) as u8;
            // Horner: ((c_{k-1} x + …) x + c_1) x + s
            let mut y = 0u8;
            for &c in coeffs.iter().rev() {
                y = mul(y, x) ^ c;
            }
            y = mul(y, x) ^ s;
            share.push(y);
        }
    }
    for (i, share) in shares.iter_mut().enumerate() {
        share.push((i + 1) as u8);
    }
    Ok(shares)
}

/// Recombines shares (Lagrange interpolation at 0).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, String> {
    if shares.len() < 2 {
        return Err("need at least two Shamir shares".into());
    }
    let len = shares[0].len();
    if len < 2 || shares.iter().any(|s| s.len() != len) {
        return Err("Shamir shares have different or too small lengths".into());
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if *x == 0 || xs[..i].contains(x) {
            return Err("duplicate or zero Shamir share x coordinate".into());
        }
    }
    let mut out = Zeroizing::new(vec![0u8; len - 1]);
    for (j, xj) in xs.iter().enumerate() {
        // basis_j(0) = prod_{m != j} x_m / (x_m - x_j)   (subtraction is xor)
        let mut basis = 1u8;
        for (m, xm) in xs.iter().enumerate() {
            if m != j {
                basis = mul(basis, mul(*xm, inv(xm ^ xj)));
            }
        }
        for (b, o) in out.iter_mut().enumerate() {
            *o ^= mul(shares[j][b], basis);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field() {
        assert_eq!(mul(0x57, 0x83), 0xc1);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1);
        }
    }

    #[test]
    fn split_combine_any_subset() {
        let secret: Vec<u8> = (0..32).collect();
        let shares = split(&secret, 3, 2).unwrap();
        assert_eq!(shares[0].len(), 33);
        assert_eq!(shares[1][32], 2);
        for (a, b) in [(0, 1), (0, 2), (2, 1)] {
            assert_eq!(
                &combine(&[&shares[a], &shares[b]]).unwrap()[..],
                &secret[..]
            );
        }
        let all: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
        assert_eq!(&combine(&all).unwrap()[..], &secret[..]);
        assert!(combine(&[&shares[0], &shares[0]]).is_err());
        assert!(split(&secret, 3, 4).is_err());
    }
}
