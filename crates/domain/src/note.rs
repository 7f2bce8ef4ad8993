//! What a relay did, or what happened to a task's ownership, that the task's event log records
//! without the task's state changing (issue 16): a source switch, a destination down and up,
//! the slate on and off, a takeover by another node. Each becomes one log-only event ([`CallbackState::is_callback`]
//! false) whose `detail` is the text built here: bounded ([`MAX_DETAIL`]) and with any URL's
//! password masked, since the relay's error messages may quote a URL with its credentials.
//!
//! The engine decides *when* a note is made (and bounds how often, so a flapping destination
//! cannot write unboundedly fast); the lifecycle records it ([`Command::RelayNote`],
//! [`Command::TakenOver`]).
//!
//! [`CallbackState::is_callback`]: crate::CallbackState::is_callback
//! [`Command::RelayNote`]: crate::Command::RelayNote
//! [`Command::TakenOver`]: crate::Command::TakenOver

use crate::event::CallbackState;

/// The longest `detail` stored with an event, in bytes: a line for a person, not a dump (a
/// relay's error message can be long; what is cut ends with `…`).
pub const MAX_DETAIL: usize = 300;

/// A note from a task's relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayNote {
    /// The relay switched sources: it now uses source `to` (0 the primary, 1.. the backups in
    /// order), having left `from`. `switches` is how many switches the note stands for (more
    /// than one when several came too close together to be recorded one by one); `why` the
    /// last error of the source left, when it had one.
    SourceSwitched {
        from: u32,
        to: u32,
        switches: u64,
        why: Option<NoteError>,
    },
    /// Destination `index` (0 the task's first destination, 1.. the others in order) lost its
    /// session, or failed for good (`failed`: the relay goes on without it). `unrecorded`
    /// down/up cycles of it came before this one without being recorded (the engine's bound).
    DestinationDown {
        index: u32,
        error: Option<NoteError>,
        failed: bool,
        unrecorded: u32,
    },
    /// Destination `index`, recorded down, forwards again.
    DestinationUp { index: u32 },
    /// The slate started: no source delivers and every destination gets the slate. `starts`
    /// is how many times it has started in this run of the relay (this one included);
    /// `unrecorded` on/off cycles came before this one without being recorded (the engine's
    /// bound); `why` the last error of the source in use, when it had one (at the start, the
    /// relay's `no media from the source for …`).
    SlateOn {
        starts: u64,
        unrecorded: u64,
        why: Option<NoteError>,
    },
    /// The slate, recorded on, ended: source `source` (0 the primary, 1.. the backups)
    /// delivers again.
    SlateOff { source: u32 },
}

/// An error as a note carries it: the stable name of its kind, and the relay's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteError {
    pub code: String,
    pub message: String,
}

/// The previous owner of a task another node took over (from its lease).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Takeover {
    /// The previous owner's node ID.
    pub node: String,
    /// Its name (API address or host name), when the cluster knows it.
    pub name: Option<String>,
    /// The epoch of its lease (the new one is the next).
    pub epoch: u64,
}

impl RelayNote {
    /// The event state the note is recorded as.
    pub fn state(&self) -> CallbackState {
        match self {
            RelayNote::SourceSwitched { .. } => CallbackState::SourceSwitched,
            RelayNote::DestinationDown { .. } => CallbackState::DestinationDown,
            RelayNote::DestinationUp { .. } => CallbackState::DestinationUp,
            RelayNote::SlateOn { .. } => CallbackState::SlateOn,
            RelayNote::SlateOff { .. } => CallbackState::SlateOff,
        }
    }

    /// The event's detail: `source 0 -> 1: timeout: no media …`, `destination 1: refused: …`,
    /// `destination 1`, `slate on (start 2): Timeout: source: no media …`, `slate off: source
    /// 1 back`.
    pub fn detail(&self) -> String {
        let text = match self {
            RelayNote::SourceSwitched {
                from,
                to,
                switches,
                why,
            } => {
                let mut text = format!("source {from} -> {to}");
                if *switches > 1 {
                    text.push_str(&format!(" ({switches} switches)"));
                }
                if let Some(e) = why {
                    text.push_str(&format!(": {}: {}", e.code, e.message));
                }
                text
            }
            RelayNote::DestinationDown {
                index,
                error,
                failed,
                unrecorded,
            } => {
                let mut text = format!("destination {index}");
                if *failed {
                    text.push_str(" failed for good");
                }
                if let Some(e) = error {
                    text.push_str(&format!(": {}: {}", e.code, e.message));
                }
                if *unrecorded > 0 {
                    text.push_str(&format!(
                        " ({unrecorded} down/up before this not recorded: flapping)"
                    ));
                }
                text
            }
            RelayNote::DestinationUp { index } => format!("destination {index}"),
            RelayNote::SlateOn {
                starts,
                unrecorded,
                why,
            } => {
                let mut text = format!("slate on (start {starts})");
                if let Some(e) = why {
                    text.push_str(&format!(": {}: {}", e.code, e.message));
                }
                if *unrecorded > 0 {
                    text.push_str(&format!(
                        " ({unrecorded} on/off before this not recorded: flapping)"
                    ));
                }
                text
            }
            RelayNote::SlateOff { source } => format!("slate off: source {source} back"),
        };
        bounded_detail(&text)
    }
}

impl Takeover {
    /// The event's detail: `from node n1 (5f0c…), epoch 3`.
    pub fn detail(&self) -> String {
        let text = match &self.name {
            Some(name) if !name.is_empty() && *name != self.node => {
                format!("from node {name} ({}), epoch {}", self.node, self.epoch)
            }
            _ => format!("from node {}, epoch {}", self.node, self.epoch),
        };
        bounded_detail(&text)
    }
}

/// `text` as stored: every URL's password masked, control characters (a message could carry
/// a newline or an escape) replaced by spaces, cut to at most [`MAX_DETAIL`] bytes on a
/// character boundary (ending with `…` when cut).
pub fn bounded_detail(text: &str) -> String {
    let masked: String = mask_passwords(text)
        .chars()
        .map(|c| {
            if crate::text::is_control_or_bidi(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if masked.len() <= MAX_DETAIL {
        return masked;
    }
    const ELLIPSIS: &str = "…";
    let mut end = MAX_DETAIL - ELLIPSIS.len();
    while !masked.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &masked[..end])
}

/// `text` with the password of every `scheme://user:password@host` in it replaced by `***`
/// (the user name is kept: it tells which account, not how to log in as it), and every SRT
/// `passphrase=` value too (an SRT URL's secret is in its query).
pub fn mask_passwords(text: &str) -> String {
    mask_passphrases(&mask_userinfo(text))
}

fn mask_passphrases(text: &str) -> String {
    const KEY: &str = "passphrase=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        out.push_str(&rest[..at + KEY.len()]);
        let tail = &rest[at + KEY.len()..];
        let end = tail
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str("***");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn mask_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the path, query, fragment, or the end of the word.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> Option<NoteError> {
        Some(NoteError {
            code: code.into(),
            message: message.into(),
        })
    }

    #[test]
    fn a_switch_says_from_which_source_to_which_and_why() {
        let note = RelayNote::SourceSwitched {
            from: 0,
            to: 1,
            switches: 1,
            why: error("timeout", "no media from the source within 5s"),
        };
        assert_eq!(note.state(), CallbackState::SourceSwitched);
        assert_eq!(
            note.detail(),
            "source 0 -> 1: timeout: no media from the source within 5s"
        );
        let note = RelayNote::SourceSwitched {
            from: 2,
            to: 0,
            switches: 3,
            why: None,
        };
        assert_eq!(note.detail(), "source 2 -> 0 (3 switches)");
    }

    #[test]
    fn a_destination_note_names_it_and_its_masked_error() {
        let note = RelayNote::DestinationDown {
            index: 1,
            error: error(
                "connection-refused",
                "rtmp://live:s3cret@a.example/app/key: connection refused",
            ),
            failed: false,
            unrecorded: 0,
        };
        assert_eq!(note.state(), CallbackState::DestinationDown);
        assert_eq!(
            note.detail(),
            "destination 1: connection-refused: rtmp://live:***@a.example/app/key: connection refused"
        );
        let note = RelayNote::DestinationDown {
            index: 2,
            error: None,
            failed: true,
            unrecorded: 4,
        };
        assert_eq!(
            note.detail(),
            "destination 2 failed for good (4 down/up before this not recorded: flapping)"
        );
        let up = RelayNote::DestinationUp { index: 1 };
        assert_eq!(up.state(), CallbackState::DestinationUp);
        assert_eq!(up.detail(), "destination 1");
    }

    #[test]
    fn a_slate_note_says_which_start_why_and_which_source_ended_it() {
        let on = RelayNote::SlateOn {
            starts: 3,
            unrecorded: 0,
            why: error("Timeout", "source: no media from the source for 1s"),
        };
        assert_eq!(on.state(), CallbackState::SlateOn);
        assert!(!on.state().is_callback());
        assert_eq!(
            on.detail(),
            "slate on (start 3): Timeout: source: no media from the source for 1s"
        );
        let flapping = RelayNote::SlateOn {
            starts: 9,
            unrecorded: 5,
            why: None,
        };
        assert_eq!(
            flapping.detail(),
            "slate on (start 9) (5 on/off before this not recorded: flapping)"
        );
        let off = RelayNote::SlateOff { source: 1 };
        assert_eq!(off.state(), CallbackState::SlateOff);
        assert!(!off.state().is_callback());
        assert_eq!(off.detail(), "slate off: source 1 back");
    }

    #[test]
    fn a_takeover_names_the_previous_owner_and_epoch() {
        let mut t = Takeover {
            node: "5f0c".into(),
            name: Some("node-a:8080".into()),
            epoch: 3,
        };
        assert_eq!(t.detail(), "from node node-a:8080 (5f0c), epoch 3");
        t.name = None;
        assert_eq!(t.detail(), "from node 5f0c, epoch 3");
    }

    #[test]
    fn details_are_bounded_on_a_character_boundary_and_one_line() {
        let long = "é".repeat(400);
        let d = bounded_detail(&long);
        assert!(d.len() <= MAX_DETAIL, "{}", d.len());
        assert!(d.ends_with('…'));
        assert_eq!(bounded_detail("a\nb\u{1b}[2Jc"), "a b [2Jc");
        assert_eq!(bounded_detail("short"), "short");
    }

    #[test]
    fn passwords_are_masked_in_every_url() {
        assert_eq!(
            mask_passwords("a rtmp://u:p@h/x and srt://h:9000?passphrase=x b https://k:v@h"),
            "a rtmp://u:***@h/x and srt://h:9000?passphrase=*** b https://k:***@h"
        );
        assert_eq!(
            mask_passwords("srt://h:1?streamid=a&passphrase=abcdefghij&latency=1"),
            "srt://h:1?streamid=a&passphrase=***&latency=1"
        );
        assert_eq!(mask_passwords("rtsp://user@cam/x"), "rtsp://user@cam/x");
        assert_eq!(mask_passwords("no url"), "no url");
        assert_eq!(mask_passwords("ends with ://"), "ends with ://");
    }
}
