//! Text rules the notification channels impose: SNS subjects, bounded fields, URL segments,
//! durations.

use std::time::Duration;

/// SNS rejects subjects of 100 characters or more.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// Used when nothing printable is left of a subject, because SNS rejects an empty subject.
pub const FALLBACK_SUBJECT: &str = "CodePipeline notification";
const ELLIPSIS: &str = "...";

/// Makes `raw` a subject SNS accepts: printable ASCII only (line breaks and tabs become spaces,
/// other characters `?`), runs of spaces collapsed, never empty, fewer than 100 characters
/// (cut with `...`).
pub fn subject(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(128));
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(if c.is_ascii_graphic() { c } else { '?' });
    }
    if out.is_empty() {
        return FALLBACK_SUBJECT.to_owned();
    }
    if out.len() > MAX_SUBJECT_CHARS {
        // Every character is ASCII here, so byte offsets are character offsets.
        out.truncate(MAX_SUBJECT_CHARS - ELLIPSIS.len());
        out.truncate(out.trim_end().len());
        out.push_str(ELLIPSIS);
    }
    out
}

/// True when SNS would accept `s` as a subject; the property the fuzz tests check.
pub fn is_valid_subject(s: &str) -> bool {
    !s.trim().is_empty()
        && s.len() <= MAX_SUBJECT_CHARS
        && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Cuts `s` to at most `max_chars` characters (on a character boundary), marking the cut.
pub fn bounded(s: &str, max_chars: usize) -> String {
    match s
        .char_indices()
        .nth(max_chars.saturating_sub(ELLIPSIS.len()))
    {
        Some((cut, _)) if s.chars().count() > max_chars => format!("{}{ELLIPSIS}", &s[..cut]),
        _ => s.to_owned(),
    }
}

/// The first line of a commit message, bounded: the part that fits a summary line.
pub fn first_line(s: &str, max_chars: usize) -> String {
    bounded(
        s.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
        max_chars,
    )
}

/// Percent-encodes everything except RFC 3986 unreserved characters, for one URL path segment.
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `1h 02m 03s`, `4m 05s`, `6s`: how long a run took, for people.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// Seconds from `start` to `end` (RFC 3339 both); `None` when either is unreadable or the
/// span is negative (AWS's sample events have start times after the event time).
pub fn elapsed(start: &str, end: &str) -> Option<Duration> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};
    let start = OffsetDateTime::parse(start, &Rfc3339).ok()?;
    let end = OffsetDateTime::parse(end, &Rfc3339).ok()?;
    let secs = (end - start).whole_seconds();
    u64::try_from(secs).ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_keeps_short_ascii_as_is() {
        assert_eq!(
            subject("[FAILED] pipeline-dev: Build failed"),
            "[FAILED] pipeline-dev: Build failed"
        );
    }

    #[test]
    fn subject_replaces_line_breaks_controls_and_non_ascii() {
        assert_eq!(
            subject("  [FAILED]\r\n pipe\tline\u{7}: caf\u{e9} \u{1F680} "),
            "[FAILED] pipe line : caf? ?"
        );
    }

    #[test]
    fn subject_is_never_empty() {
        assert_eq!(subject(""), FALLBACK_SUBJECT);
        assert_eq!(subject(" \n\t\u{0}"), FALLBACK_SUBJECT);
    }

    #[test]
    fn subject_at_the_limit_is_untouched_and_one_over_is_cut_with_dots() {
        let exact = "x".repeat(MAX_SUBJECT_CHARS);
        assert_eq!(subject(&exact), exact);
        let over = "y".repeat(MAX_SUBJECT_CHARS + 1);
        let cut = subject(&over);
        assert_eq!(cut.len(), MAX_SUBJECT_CHARS);
        assert!(cut.ends_with("yyy..."), "{cut}");
        assert!(is_valid_subject(&cut));
    }

    #[test]
    fn subject_cut_does_not_leave_a_space_before_the_dots() {
        let raw = format!("{} tail-that-is-cut-off", "a".repeat(95));
        let cut = subject(&raw);
        assert!(cut.ends_with("a..."), "{cut}");
        assert!(cut.len() < 100);
    }

    #[test]
    fn multibyte_input_is_cut_by_characters_not_bytes() {
        let cut = subject(&"\u{e9}".repeat(300));
        assert!(is_valid_subject(&cut), "{cut}");
        assert_eq!(bounded(&"\u{e9}".repeat(10), 5), "\u{e9}\u{e9}...");
        assert_eq!(bounded("short", 5), "short");
    }

    #[test]
    fn first_line_skips_blank_lines() {
        assert_eq!(first_line("\n  Fix build\n\nlong body", 80), "Fix build");
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url_segment("my pipe/line?x"), "my%20pipe%2Fline%3Fx");
        assert_eq!(url_segment("pipeline-dev_1.2"), "pipeline-dev_1.2");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(6)), "6s");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h 02m 03s");
    }

    #[test]
    fn elapsed_refuses_negative_and_unreadable_spans() {
        assert_eq!(
            elapsed("2024-05-01T10:00:00.500Z", "2024-05-01T10:04:05Z"),
            Some(Duration::from_secs(244))
        );
        assert_eq!(
            elapsed("2023-10-26T13:49:39.208Z", "2020-01-24T22:03:44Z"),
            None
        );
        assert_eq!(elapsed("yesterday", "2020-01-24T22:03:44Z"), None);
    }
}
