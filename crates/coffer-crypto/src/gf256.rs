//! Arithmetic in GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), in
//! constant time: no branches and no table lookups that depend on the operands.

/// Addition (and subtraction) is XOR.
#[inline]
pub(crate) fn add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Carry-less multiply with reduction, one bit of `b` per round, all masks, no branches.
#[inline]
pub(crate) fn mul(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    let mut i = 8;
    while i > 0 {
        i -= 1;
        // Shift the accumulator left (times x), reducing by 0x1b if the top bit fell off.
        let reduce = 0u8.wrapping_sub(acc >> 7) & 0x1b;
        acc = (acc << 1) ^ reduce;
        // Add `a` if bit i of `b` is set (Horner from the high bit down).
        let take = 0u8.wrapping_sub((b >> i) & 1);
        acc ^= a & take;
    }
    acc
}

/// Multiplicative inverse as a^254 (so inverse(0) = 0), by a fixed chain of squarings and
/// multiplications.
pub(crate) fn inverse(a: u8) -> u8 {
    let a2 = mul(a, a);
    let a3 = mul(a2, a);
    let a6 = mul(a3, a3);
    let a12 = mul(a6, a6);
    let a15 = mul(a12, a3);
    let a30 = mul(a15, a15);
    let a60 = mul(a30, a30);
    let a120 = mul(a60, a60);
    let a240 = mul(a120, a120);
    let a252 = mul(a240, a12);
    mul(a252, a2)
}

/// `a / b`; callers guarantee `b != 0` (distinct x coordinates).
#[inline]
pub(crate) fn div(a: u8, b: u8) -> u8 {
    mul(a, inverse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: schoolbook multiply with an explicit branchy reduction.
    fn slow_mul(mut a: u8, mut b: u8) -> u8 {
        let mut p = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                p ^= a;
            }
            let hi = a & 0x80 != 0;
            a <<= 1;
            if hi {
                a ^= 0x1b;
            }
            b >>= 1;
        }
        p
    }

    #[test]
    fn mul_matches_reference_on_all_pairs() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b), "{a} * {b}");
            }
        }
    }

    #[test]
    fn known_products() {
        // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
    }

    #[test]
    fn inverse_is_inverse() {
        assert_eq!(inverse(0), 0);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "inverse of {a}");
            assert_eq!(div(mul(a, 0x53), 0x53), a);
        }
        // FIPS-197 §4.2.1 example: {53}^-1 = {ca}.
        assert_eq!(inverse(0x53), 0xca);
    }
}
