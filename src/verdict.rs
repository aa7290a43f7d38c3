//! OK / WARN / CRIT: the verdict of a measurement against its thresholds.

use serde::{Deserialize, Serialize};

/// OK, WARN or CRIT against thresholds, or UNKNOWN when what it judges could not be read.
///
/// Ordered so that the worst of several is their maximum: CRIT > WARN > UNKNOWN > OK. A breach
/// that was seen outranks a check that could not be made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Verdict {
    #[default]
    Ok,
    Unknown,
    Warn,
    Crit,
}

impl Verdict {
    /// The verdict of `value` against warn and crit thresholds (counts, seconds, percentages).
    pub(crate) fn of<T: PartialOrd>(value: T, warn: T, crit: T) -> Verdict {
        if value >= crit {
            Verdict::Crit
        } else if value >= warn {
            Verdict::Warn
        } else {
            Verdict::Ok
        }
    }

    /// As printed: OK, UNKNOWN, WARN, CRIT.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Unknown => "UNKNOWN",
            Verdict::Warn => "WARN",
            Verdict::Crit => "CRIT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::of(99_999, 100_000, 1_000_000), Verdict::Ok);
        assert_eq!(Verdict::of(100_000, 100_000, 1_000_000), Verdict::Warn);
        assert_eq!(Verdict::of(2_000_000, 100_000, 1_000_000), Verdict::Crit);
    }

    #[test]
    fn worst_is_the_maximum() {
        assert_eq!(
            [Verdict::Ok, Verdict::Crit, Verdict::Warn]
                .into_iter()
                .max(),
            Some(Verdict::Crit)
        );
        assert_eq!(Verdict::of(95.0, 80.0, 95.0), Verdict::Crit);
        assert_eq!(
            [Verdict::Ok, Verdict::Unknown].into_iter().max(),
            Some(Verdict::Unknown)
        );
        assert_eq!(
            [Verdict::Unknown, Verdict::Warn].into_iter().max(),
            Some(Verdict::Warn)
        );
    }
}
