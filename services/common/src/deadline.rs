//! Deadlines between components: what remains of the caller's passed on, less a margin for
//! the answer to travel back.

use std::time::Duration;

use tonic::metadata::MetadataMap;

/// Longest a downstream call may take when the caller set no deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Time kept back from a deadline passed on, so that a call further along runs out first
/// and its DEADLINE_EXCEEDED reaches the caller before the caller's own deadline.
const REPLY_MARGIN: Duration = Duration::from_millis(20);

/// The deadline to pass on: what remains of the caller's (`grpc-timeout`), capped at
/// [`DEFAULT_DEADLINE`], less a margin for the answer to travel back (at most a tenth).
pub fn remaining_deadline(metadata: &MetadataMap) -> Duration {
    deadline_from(
        metadata
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok()),
    )
}

/// [`remaining_deadline`] from the value of a `grpc-timeout` header, if any.
pub fn deadline_from(grpc_timeout: Option<&str>) -> Duration {
    let remaining = grpc_timeout
        .and_then(parse_grpc_timeout)
        .map_or(DEFAULT_DEADLINE, |timeout| timeout.min(DEFAULT_DEADLINE));
    remaining.saturating_sub(REPLY_MARGIN.min(remaining / 10))
}

/// The caller's own deadline (`grpc-timeout`), uncapped: for a stream, which may run as long
/// as its caller wants; `None` when the caller set none (or an unreadable one).
pub fn caller_deadline(grpc_timeout: Option<&str>) -> Option<Duration> {
    grpc_timeout.and_then(parse_grpc_timeout)
}

/// A `grpc-timeout` header value for `timeout` (in milliseconds, rounded up).
pub fn grpc_timeout(timeout: Duration) -> String {
    let millis = timeout.as_micros().div_ceil(1000).clamp(1, 99_999_999);
    format!("{millis}m")
}

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use tonic::metadata::AsciiMetadataValue;

    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn timeouts_are_written_as_grpc_reads_them() {
        for ms in [1, 250, 9_980] {
            let written = grpc_timeout(Duration::from_millis(ms));
            assert_eq!(
                parse_grpc_timeout(&written),
                Some(Duration::from_millis(ms))
            );
        }
        assert_eq!(grpc_timeout(Duration::from_micros(1)), "1m");
    }

    #[test]
    fn remaining_deadline_is_capped() {
        let mut metadata = MetadataMap::new();
        let margin = Duration::from_millis(20);
        assert_eq!(remaining_deadline(&metadata), DEFAULT_DEADLINE - margin);
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("2S"));
        assert_eq!(
            remaining_deadline(&metadata),
            Duration::from_secs(2) - margin
        );
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("1H"));
        assert_eq!(remaining_deadline(&metadata), DEFAULT_DEADLINE - margin);
        metadata.insert("grpc-timeout", AsciiMetadataValue::from_static("100m"));
        assert_eq!(remaining_deadline(&metadata), Duration::from_millis(90));
    }
}
