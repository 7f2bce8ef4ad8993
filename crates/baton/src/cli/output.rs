//! Human output: aligned tables, key-value views, and number formats; and `--json`.
//!
//! Everything printed from the server (names, URLs, errors, events) is someone's input: it is
//! printed [escaped](escape), so that control characters cannot drive the terminal (ESC
//! sequences, BEL, a newline forging a field) and bidirectional formatting characters cannot
//! reorder what is shown. Tables and key-value views escape every cell and line themselves;
//! text composed elsewhere escapes the values it inserts.

use std::borrow::Cow;

use baton_domain::text::is_control_or_bidi;
use serde_json::Value;

/// `s` with control and bidi formatting characters written as escapes: `\n`, `\t`, `\r`,
/// `\u{1b}`, `\u{202e}` (a backslash itself stays as it is).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control_or_bidi) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_control_or_bidi(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A JSON document as text with the control and bidi characters that JSON leaves raw (C1
/// controls, bidi formatting) written as `\uXXXX` (they occur only inside strings, where the
/// escape means the same character).
pub fn json_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control_or_bidi) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control_or_bidi(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A table with a header row; columns are padded to their widest cell and separated by two
/// spaces; the last column is not padded.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells are [escaped](escape).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| escape(&c).into_owned()).collect());
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(w - width(cell) + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `Key:   value` lines with the values aligned; a value with several lines (the CLI's own
/// `\n` joins) continues under the first. Each line is [escaped](escape): a value inserted
/// from the server should be escaped before it is joined with others, so that its own
/// newlines cannot start a line that looks like another field.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| width(k) + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let mut lines = value.split('\n');
        let first = escape(lines.next().unwrap_or(""));
        let line = format!("{:<w$}  {first}", format!("{key}:"));
        out.push_str(line.trim_end());
        out.push('\n');
        for line in lines {
            out.push_str(&format!("{:<w$}  {}\n", "", escape(line)));
        }
    }
    out
}

/// Shortens `s` to `max` characters with `...` in the middle, keeping both ends (the host and
/// the stream name of a URL).
pub fn shorten(s: &str, max: usize) -> String {
    let n = width(s);
    if n <= max || max < 8 {
        return s.to_string();
    }
    let keep = max - 3;
    let head = keep / 2;
    let tail = keep - head;
    let chars: Vec<char> = s.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push_str("...");
    out.extend(&chars[n - tail..]);
    out
}

/// `2.50 Mb/s`.
pub fn bitrate(bps: f64) -> String {
    match bps {
        b if !b.is_finite() || b < 0.0 => "-".to_string(),
        b if b >= 1e6 => format!("{:.2} Mb/s", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kb/s", b / 1e3),
        b => format!("{b:.0} b/s"),
    }
}

/// `1.2 GB` (SI units, like bitrates).
pub fn bytes(n: f64) -> String {
    match n {
        n if !n.is_finite() || n < 0.0 => "-".to_string(),
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n:.0} B"),
    }
}

/// The value or `-`.
pub fn or_dash(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

/// `--json`: one pretty-printed document.
pub fn print_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    println!("{}", json_text(&text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi_only() {
        assert!(matches!(escape("plain 测试 🎥 a\\b"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}[2J\tb\nc\r\u{0}\u{7f}\u{85}\u{202e}d\u{2066}"),
            "a\\u{1b}[2J\\tb\\nc\\r\\u{0}\\u{7f}\\u{85}\\u{202e}d\\u{2066}"
        );
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x\u{1b}y".into(), "two\nlines".into()]);
        assert_eq!(t.render(), "A         B\nx\\u{1b}y  two\\nlines\n");
        assert_eq!(
            key_values(&[("K", "one\u{7}\ntwo".into())]),
            "K:  one\\u{7}\n    two\n"
        );
        // JSON: the characters serde_json leaves raw become \uXXXX escapes.
        let text = serde_json::json!({"n": "a\u{9b}b\u{202e}c\u{1b}"}).to_string();
        let safe = json_text(&text);
        assert_eq!(safe, r#"{"n":"a\u009bb\u202ec\u001b"}"#);
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["n"], "a\u{9b}b\u{202e}c\u{1b}");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["ID", "NAME", "STATE"]);
        t.row(vec!["a".into(), "long name".into(), "running".into()]);
        t.row(vec!["bbbb".into(), "".into(), "stopped".into()]);
        assert_eq!(
            t.render(),
            "ID    NAME       STATE\n\
             a     long name  running\n\
             bbbb             stopped\n"
        );
        assert_eq!(Table::new(&["A", "B"]).render(), "A  B\n");
    }

    #[test]
    fn key_values_align_and_continue() {
        let out = key_values(&[
            ("ID", "t1".into()),
            ("Source", "a\nb".into()),
            ("Reason", "".into()),
        ]);
        assert_eq!(out, "ID:      t1\nSource:  a\n         b\nReason:\n");
    }

    #[test]
    fn formats() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(
            shorten("rtmp://live.example.com/app/stream-name", 20),
            "rtmp://l...ream-name"
        );
        assert_eq!(
            width(&shorten("rtmp://live.example.com/app/stream-name", 20)),
            20
        );
        assert_eq!(bitrate(2_500_000.0), "2.50 Mb/s");
        assert_eq!(bitrate(96_000.0), "96.0 kb/s");
        assert_eq!(bitrate(12.0), "12 b/s");
        assert_eq!(bytes(1_234_567_890.0), "1.23 GB");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(or_dash(None), "-");
        assert_eq!(or_dash(Some("")), "-");
        assert_eq!(or_dash(Some("x")), "x");
    }
}
