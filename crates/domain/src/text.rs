//! Text a person reads: what a name may not contain.

/// Whether `c` must not appear in a name a person reads (task and group names): control
/// characters (C0 and C1: NUL, BEL, ESC, newline, ...), which drive terminals, and the Unicode
/// bidirectional formatting characters (ALM, LRM, RLM, the embeddings, overrides and isolates
/// U+202A–U+202E, U+2066–U+2069), which reorder what is displayed (CVE-2021-42574).
pub fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}
