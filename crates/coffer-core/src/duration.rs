//! Go-style durations as Vault and OpenBao accept and print them.
//!
//! Input (what OpenBao's `parseutil.ParseDurationSecond` takes):
//! - a Go duration string: `"1h"`, `"1h30m"`, `"1.5h"`, `"500ms"`, `"-2m"`, units `ns us µs ms s m h`;
//! - a string of digits (optionally signed): seconds, `"3600"`;
//! - a whole number of days: `"7d"` (a parseutil extension);
//! - a JSON number holding an integer (`3600`, `3600.0`): seconds;
//! - the empty string: zero.
//!
//! Output: [`format_go`] renders whole seconds like Go's `time.Duration.String()`
//! (`"0s"`, `"45s"`, `"2m0s"`, `"1h30m0s"`).
//!
//! Sub-second parts are truncated when a value is converted to seconds, as OpenBao
//! does when it stores `int64(d.Seconds())`. Negative values are rejected by the
//! unsigned helpers and kept by [`parse_signed_secs`].

use std::fmt;

/// Nanoseconds per unit, indexed by the unit's spelling.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC greek mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Go's `time.Duration` is an i64 of nanoseconds: larger values are errors there too.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a duration could not be parsed. The message names the offending value in
/// Go's wording (`time: invalid duration "abc"`) so Vault clients see familiar text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit, other than a plain integer (`"1.5"`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know (`"5y"`).
    #[error("time: unknown unit {unit:?} in duration {value:?}")]
    UnknownUnit { unit: String, value: String },
    /// Larger than Go's `time.Duration` can hold (about 292 years).
    #[error("time: invalid duration {0:?}: out of range")]
    Overflow(String),
    /// A negative value where only non-negative durations make sense.
    #[error("invalid duration {0:?}: negative durations are not allowed")]
    Negative(String),
    /// A JSON value that is neither a string nor an integer number.
    #[error("could not parse duration from input {0}")]
    WrongType(String),
}

/// Parses a strict Go duration string (`time.ParseDuration`), returning signed nanoseconds.
pub fn parse_go_nanos(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after_int) = rest.split_at(int_len);
        // Fraction part.
        let (frac_digits, after_num) = match after_int.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or '.'.
        let unit_len = after_num
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after_num.len(), |(i, _)| i);
        let (unit, after_unit) = after_num.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, s)| *s)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
                value: input.to_owned(),
            })?;
        let overflow = || DurationError::Overflow(input.to_owned());
        let mut int_value: u128 = 0;
        for d in int_digits.bytes() {
            int_value = int_value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d - b'0')))
                .filter(|v| *v <= MAX_NANOS + 1)
                .ok_or_else(overflow)?;
        }
        let mut part = int_value.checked_mul(scale).ok_or_else(overflow)?;
        // Fraction: value = digits / 10^len, scaled; Go truncates the remainder.
        let mut frac_value: u128 = 0;
        let mut frac_scale: u128 = 1;
        for d in frac_digits.bytes() {
            if frac_scale > 1_000_000_000_000_000_000_000 {
                break; // further digits cannot change the nanosecond result
            }
            frac_value = frac_value * 10 + u128::from(d - b'0');
            frac_scale *= 10;
        }
        part += frac_value * scale / frac_scale;
        total = total.checked_add(part).ok_or_else(overflow)?;
        if total > MAX_NANOS + u128::from(negative) {
            return Err(overflow());
        }
        rest = after_unit;
    }
    let signed = if negative {
        // total <= 2^63 here, so the negation fits.
        -(i128::try_from(total).map_err(|_| invalid())?)
    } else {
        i128::try_from(total).map_err(|_| invalid())?
    };
    i64::try_from(signed).map_err(|_| DurationError::Overflow(input.to_owned()))
}

/// Parses a Vault duration string into signed whole seconds (sub-seconds truncated).
///
/// Accepts `""` (zero), signed digit strings (seconds), `"<n>d"` (days) and Go
/// duration strings.
pub fn parse_signed_secs(input: &str) -> Result<i64, DurationError> {
    if input.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = input.parse::<i64>() {
        return Ok(secs);
    }
    if let Some(days) = input.strip_suffix('d') {
        return days
            .parse::<i64>()
            .ok()
            .and_then(|d| d.checked_mul(86_400))
            .ok_or_else(|| DurationError::Invalid(input.to_owned()));
    }
    let nanos = i128::from(parse_go_nanos(input)?);
    // Truncate toward zero like Go's int64(d.Seconds()).
    i64::try_from(nanos / NANOS_PER_SEC).map_err(|_| DurationError::Overflow(input.to_owned()))
}

/// Parses a Vault duration string into non-negative whole seconds.
pub fn parse_secs(input: &str) -> Result<u64, DurationError> {
    let secs = parse_signed_secs(input)?;
    u64::try_from(secs).map_err(|_| DurationError::Negative(input.to_owned()))
}

/// Parses a JSON value (string or integer-valued number) into non-negative seconds.
/// `null` is zero, as OpenBao treats a missing value.
pub fn parse_json_secs(value: &serde_json::Value) -> Result<u64, DurationError> {
    match value {
        serde_json::Value::Null => Ok(0),
        serde_json::Value::String(s) => parse_secs(s),
        serde_json::Value::Number(n) => number_secs(n),
        other => Err(DurationError::WrongType(other.to_string())),
    }
}

fn number_secs(n: &serde_json::Number) -> Result<u64, DurationError> {
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    if n.as_i64().is_some() {
        return Err(DurationError::Negative(n.to_string()));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => Ok(f as u64),
        Some(f) if f.fract() == 0.0 && f < 0.0 => Err(DurationError::Negative(n.to_string())),
        // A JSON number such as 1.5 reaches OpenBao as the string "1.5": no unit.
        _ => Err(DurationError::MissingUnit(n.to_string())),
    }
}

/// Formats whole seconds like Go's `time.Duration.String()`: `0s`, `45s`, `2m0s`, `1h30m0s`.
pub fn format_go(secs: u64) -> String {
    GoDuration(secs).to_string()
}

/// Display adapter for [`format_go`] that writes without an intermediate `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub u64);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h{m}m{s}s")
        } else if m > 0 {
            write!(f, "{m}m{s}s")
        } else {
            write!(f, "{s}s")
        }
    }
}

/// Serde `deserialize_with` helper: a required duration in seconds from a JSON
/// string (`"1h"`, `"3600"`) or number (`3600`).
///
/// `#[serde(deserialize_with = "coffer_core::duration::de_secs")] ttl: u64`
pub fn de_secs<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    deserializer.deserialize_any(SecsVisitor)
}

/// Serde `deserialize_with` helper for optional fields: absent (with
/// `#[serde(default)]`) or `null` is `None`; a string or number is `Some(seconds)`.
///
/// `#[serde(default, deserialize_with = "coffer_core::duration::de_opt_secs")] ttl: Option<u64>`
pub fn de_opt_secs<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    deserializer.deserialize_any(OptSecsVisitor)
}

struct SecsVisitor;

impl serde::de::Visitor<'_> for SecsVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration as a string (\"1h\", \"3600\") or a number of seconds")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(DurationError::Negative(v.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => number_secs(&n).map_err(E::custom),
            None => Err(E::custom(DurationError::Invalid(v.to_string()))),
        }
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
        parse_secs(v).map_err(E::custom)
    }
}

struct OptSecsVisitor;

impl<'de> serde::de::Visitor<'de> for OptSecsVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SecsVisitor.expecting(f)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        de_secs(d).map(Some)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<u64>, E> {
        SecsVisitor.visit_u64(v).map(Some)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<u64>, E> {
        SecsVisitor.visit_i64(v).map(Some)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<u64>, E> {
        SecsVisitor.visit_f64(v).map(Some)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<u64>, E> {
        SecsVisitor.visit_str(v).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_strings() {
        let cases = [
            ("1h", 3600),
            ("1h30m", 5400),
            ("1.5h", 5400),
            ("10s", 10),
            ("768h", 2_764_800),
            ("500ms", 0),
            ("1m30.9s", 90),
            ("0", 0),
            ("0s", 0),
            ("+5s", 5),
            ("2h45m30s", 9930),
            ("1000000us", 1),
            ("1000000µs", 1),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_secs(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn nanos_precision() {
        assert_eq!(parse_go_nanos("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_nanos("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_nanos(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_nanos("1.s"), Ok(1_000_000_000));
        assert_eq!(parse_go_nanos("-1m"), Ok(-60_000_000_000));
        assert_eq!(parse_go_nanos("9223372036854775807ns"), Ok(i64::MAX));
        assert_eq!(parse_go_nanos("-9223372036854775808ns"), Ok(i64::MIN));
    }

    #[test]
    fn vault_extensions() {
        assert_eq!(parse_secs(""), Ok(0));
        assert_eq!(parse_secs("3600"), Ok(3600));
        assert_eq!(parse_secs("7d"), Ok(604_800));
        assert_eq!(parse_signed_secs("-30"), Ok(-30));
        assert_eq!(parse_signed_secs("-1m"), Ok(-60));
    }

    #[test]
    fn errors_name_the_value() {
        assert_eq!(
            parse_secs("abc").unwrap_err().to_string(),
            r#"time: invalid duration "abc""#
        );
        assert_eq!(
            parse_secs("1.5").unwrap_err().to_string(),
            r#"time: missing unit in duration "1.5""#
        );
        assert_eq!(
            parse_secs("5y").unwrap_err().to_string(),
            r#"time: unknown unit "y" in duration "5y""#
        );
        assert_eq!(
            parse_secs("-5s").unwrap_err().to_string(),
            r#"invalid duration "-5s": negative durations are not allowed"#
        );
        for bad in [
            "h",
            ".",
            "-",
            "1h-5m",
            "1..5s",
            "s5",
            "1 h",
            "9223372036854775808ns",
            "99999999999h",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad} should fail");
        }
        assert!(matches!(parse_secs("xd"), Err(DurationError::Invalid(_))));
    }

    #[test]
    fn json_values() {
        use serde_json::json;
        assert_eq!(parse_json_secs(&json!(3600)), Ok(3600));
        assert_eq!(parse_json_secs(&json!(3600.0)), Ok(3600));
        assert_eq!(parse_json_secs(&json!("1h")), Ok(3600));
        assert_eq!(parse_json_secs(&json!(null)), Ok(0));
        assert!(matches!(
            parse_json_secs(&json!(1.5)),
            Err(DurationError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_json_secs(&json!(-1)),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_json_secs(&json!(true)),
            Err(DurationError::WrongType(_))
        ));
        assert!(matches!(
            parse_json_secs(&json!([1])),
            Err(DurationError::WrongType(_))
        ));
    }

    #[test]
    fn format_like_go() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (60, "1m0s"),
            (120, "2m0s"),
            (3600, "1h0m0s"),
            (5400, "1h30m0s"),
            (3661, "1h1m1s"),
            (2_764_800, "768h0m0s"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_go(secs), text);
            assert_eq!(parse_secs(text), Ok(secs));
        }
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Fields {
        #[serde(default, deserialize_with = "de_opt_secs")]
        ttl: Option<u64>,
        #[serde(default, deserialize_with = "de_secs")]
        max: u64,
    }

    #[test]
    fn serde_helpers() {
        let f: Fields = serde_json::from_str(r#"{"ttl":"1h","max":90}"#).unwrap();
        assert_eq!(
            f,
            Fields {
                ttl: Some(3600),
                max: 90
            }
        );
        let f: Fields = serde_json::from_str(r#"{"ttl":3600.0,"max":"90"}"#).unwrap();
        assert_eq!(
            f,
            Fields {
                ttl: Some(3600),
                max: 90
            }
        );
        let f: Fields = serde_json::from_str(r#"{"ttl":null}"#).unwrap();
        assert_eq!(f, Fields { ttl: None, max: 0 });
        let f: Fields = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(f, Fields { ttl: None, max: 0 });
        let err = serde_json::from_str::<Fields>(r#"{"ttl":"forever"}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"time: invalid duration "forever""#),
            "{err}"
        );
        let err = serde_json::from_str::<Fields>(r#"{"ttl":-3}"#).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
        let err = serde_json::from_str::<Fields>(r#"{"ttl":[1]}"#).unwrap_err();
        assert!(err.to_string().contains("a duration"), "{err}");
    }
}
