//! What a relay's status shows that the task's event log records as notes (issue 16): a
//! source switch, the slate on and off, and, for a task with several destinations, one of
//! them down and up again.
//!
//! The relay publishes its status on every such change ([`StatusCell::notable_changes`]);
//! [`NoteTracker`] compares each status with what it saw before and says which notes to
//! record, bounded so that a flapping side cannot write to the store unboundedly fast:
//!
//! * **Destinations:** at most one `DestinationDown` per destination every [`DOWN_EVERY`]
//!   (30 s), each followed by its `DestinationUp` when the destination forwards again. A
//!   destination that goes down again sooner is recorded when the 30 s are over if it is still
//!   down then (the note counts the down/up cycles not recorded since the last); one that came
//!   back meanwhile is only counted. So a destination bouncing every second writes at most two
//!   events per 30 s, and the log's last word on each destination is right within 30 s. Failing
//!   for good is recorded at once (it happens once per destination). With one destination
//!   the task's own `Recovering` / `Running` already say it: no notes.
//! * **Sources:** at most one `SourceSwitched` every [`SWITCH_EVERY`] (10 s); switches in
//!   between are recorded together when it is over (from the source left first to the one in
//!   use, with their count). Switches are already paced by the relay's failover time; the bound
//!   holds for sources that refuse at once too.
//! * **Slate:** at most one `SlateOn` every [`SLATE_EVERY`] (10 s), each followed by its
//!   `SlateOff` when a source delivers again. A slate that starts again sooner is recorded
//!   when the 10 s are over if it still plays then (the note counts the on/off cycles not
//!   recorded since the last, and says which start it is); one that ended meanwhile is only
//!   counted. So a source flapping around the slate's `after` writes at most one pair per
//!   10 s, and the log's last word on the slate is right within 10 s. Once the slate's hold
//!   ends the relay, the task's own `Recovering` says it: no `SlateOff`.
//!
//! Times are `tokio::time` instants, so the bounds are tested with paused time.
//!
//! [`StatusCell::notable_changes`]: baton_relay::StatusCell::notable_changes

use std::collections::HashMap;
use std::time::Duration;

use baton_domain::{NoteError, RelayNote};
use baton_relay::{DestinationState, ErrorRecord, RelayStatus};
use tokio::time::Instant;

use super::error_code::error_code;

/// At most one `DestinationDown` per destination this often (module docs).
pub const DOWN_EVERY: Duration = Duration::from_secs(30);

/// At most one `SourceSwitched` this often (module docs).
pub const SWITCH_EVERY: Duration = Duration::from_secs(10);

/// At most one `SlateOn` this often (module docs).
pub const SLATE_EVERY: Duration = Duration::from_secs(10);

/// What the log was told about one relay, and what is waiting to be told.
#[derive(Debug, Default)]
pub(super) struct NoteTracker {
    /// Source switches seen.
    switches: u64,
    /// The active source last seen.
    active: u32,
    /// The active source when the first switch not yet recorded happened (with `pending`).
    pending_from: u32,
    /// Switches seen, not yet recorded.
    pending: u64,
    last_switch_note: Option<Instant>,
    slate: SlateTrack,
    dests: HashMap<u32, DestTrack>,
}

/// What the log was told about the slate.
#[derive(Debug, Default)]
struct SlateTrack {
    /// The log's last word on it is `SlateOn`.
    recorded_on: bool,
    /// Playing, not recorded yet (too soon after the last recorded on).
    pending_on: bool,
    last_on_note: Option<Instant>,
    /// On/off cycles not recorded since the last recorded on.
    unrecorded: u64,
    /// Its starts last seen.
    starts: u64,
}

#[derive(Debug, Default)]
struct DestTrack {
    /// The log's last word on it is `DestinationDown`.
    recorded_down: bool,
    /// Down, not recorded yet (too soon after the last recorded down).
    pending_down: bool,
    failed_recorded: bool,
    last_down_note: Option<Instant>,
    /// Down/up cycles not recorded since the last recorded down.
    unrecorded: u32,
    sessions: u64,
}

impl NoteTracker {
    /// The notes `status` calls for at `now`, in order.
    pub(super) fn observe(&mut self, status: &RelayStatus, now: Instant) -> Vec<RelayNote> {
        let mut notes = Vec::new();
        self.observe_sources(status, now, &mut notes);
        let why = status
            .sources
            .get(status.active_source)
            .and_then(|s| s.last_error.as_ref());
        self.slate.observe(
            status.slate_active,
            status.slate_starts,
            index(status.active_source),
            why,
            now,
            &mut notes,
        );
        // A destination removed (or down to one) is followed no more: nothing of it is due.
        let followed = status.destinations.len() > 1;
        self.dests
            .retain(|id, _| followed && status.destinations.iter().any(|d| d.id.0 == *id));
        if followed {
            for d in &status.destinations {
                let t = self.dests.entry(d.id.0).or_default();
                t.observe(
                    d.id.0,
                    d.state,
                    d.sessions,
                    d.last_error.as_ref(),
                    now,
                    &mut notes,
                );
            }
        }
        notes
    }

    /// When a note held back by the bounds may be recorded: look at the status again then.
    pub(super) fn due(&self) -> Option<Instant> {
        let switch = self
            .last_switch_note
            .filter(|_| self.pending > 0)
            .map(|t| t + SWITCH_EVERY);
        let dests = self
            .dests
            .values()
            .filter(|t| t.pending_down)
            .filter_map(|t| t.last_down_note.map(|at| at + DOWN_EVERY));
        let slate = self
            .slate
            .last_on_note
            .filter(|_| self.slate.pending_on)
            .map(|t| t + SLATE_EVERY);
        switch.into_iter().chain(slate).chain(dests).min()
    }

    fn observe_sources(&mut self, status: &RelayStatus, now: Instant, notes: &mut Vec<RelayNote>) {
        if status.source_switches > self.switches {
            if self.pending == 0 {
                self.pending_from = self.active;
            }
            self.pending += status.source_switches - self.switches;
            self.switches = status.source_switches;
        }
        self.active = index(status.active_source);
        let ready = self
            .last_switch_note
            .is_none_or(|at| now >= at + SWITCH_EVERY);
        if self.pending > 0 && ready {
            let from = self.pending_from;
            let why = status
                .sources
                .get(from as usize)
                .and_then(|s| s.last_error.as_ref())
                .map(note_error);
            notes.push(RelayNote::SourceSwitched {
                from,
                to: self.active,
                switches: self.pending,
                why,
            });
            self.pending = 0;
            self.last_switch_note = Some(now);
        }
    }
}

impl SlateTrack {
    /// The slate plays (`active`) or not, having started `starts` times; `source` is the
    /// source in use, `why` its last error.
    fn observe(
        &mut self,
        active: bool,
        starts: u64,
        source: u32,
        why: Option<&ErrorRecord>,
        now: Instant,
        notes: &mut Vec<RelayNote>,
    ) {
        // Starts since the last look (the status coalesces: on and off between two looks).
        let new = starts.saturating_sub(self.starts);
        self.starts = starts;
        let ready = self.last_on_note.is_none_or(|at| now >= at + SLATE_EVERY);
        let on = |unrecorded| RelayNote::SlateOn {
            starts,
            unrecorded,
            why: why.map(note_error),
        };
        if active {
            if self.recorded_on {
                // Off and on again between two looks: the log's word stays right; counted.
                self.unrecorded += new;
                return;
            }
            // Of the new starts, all but the one playing came and went unseen; one held back
            // that ended unseen too.
            let unseen = if self.pending_on {
                new
            } else {
                new.saturating_sub(1)
            };
            self.unrecorded += unseen;
            if ready {
                notes.push(on(self.unrecorded));
                self.recorded_on = true;
                self.pending_on = false;
                self.unrecorded = 0;
                self.last_on_note = Some(now);
            } else {
                self.pending_on = true;
            }
        } else if self.recorded_on {
            notes.push(RelayNote::SlateOff { source });
            self.recorded_on = false;
            // Any start since ended before this look.
            self.unrecorded += new;
        } else if self.pending_on {
            // On and off before its on could be recorded: counted only.
            self.pending_on = false;
            self.unrecorded += 1 + new;
        } else if new > 0 {
            // On and off between two looks.
            if ready {
                notes.push(on(self.unrecorded + new - 1));
                notes.push(RelayNote::SlateOff { source });
                self.unrecorded = 0;
                self.last_on_note = Some(now);
            } else {
                self.unrecorded += new;
            }
        }
    }
}

impl DestTrack {
    /// Destination `index` is in `state` with `sessions` opened so far.
    fn observe(
        &mut self,
        index: u32,
        state: DestinationState,
        sessions: u64,
        error: Option<&ErrorRecord>,
        now: Instant,
        notes: &mut Vec<RelayNote>,
    ) {
        // Dropped and back on a new session between two looks (the status coalesces).
        let bounced = state == DestinationState::Forwarding
            && self.sessions > 0
            && sessions > self.sessions
            && !self.recorded_down
            && !self.pending_down;
        self.sessions = sessions;
        let ready = self.last_down_note.is_none_or(|at| now >= at + DOWN_EVERY);
        let down = |failed, unrecorded| RelayNote::DestinationDown {
            index,
            error: error.map(note_error),
            failed,
            unrecorded,
        };
        match state {
            DestinationState::Failed if !self.failed_recorded => {
                // For good, once per destination: recorded at once.
                notes.push(down(true, self.unrecorded));
                self.failed_recorded = true;
                self.recorded_down = true;
                self.pending_down = false;
                self.unrecorded = 0;
                self.last_down_note = Some(now);
            }
            DestinationState::Failed => {}
            DestinationState::Reconnecting if !self.recorded_down => {
                if ready {
                    notes.push(down(false, self.unrecorded));
                    self.recorded_down = true;
                    self.pending_down = false;
                    self.unrecorded = 0;
                    self.last_down_note = Some(now);
                } else {
                    self.pending_down = true;
                }
            }
            DestinationState::Reconnecting => {}
            DestinationState::Forwarding if self.recorded_down => {
                notes.push(RelayNote::DestinationUp { index });
                self.recorded_down = false;
            }
            DestinationState::Forwarding if self.pending_down => {
                // Down and back before its down could be recorded: counted only.
                self.pending_down = false;
                self.unrecorded += 1;
            }
            DestinationState::Forwarding if bounced => {
                if ready {
                    notes.push(down(false, self.unrecorded));
                    notes.push(RelayNote::DestinationUp { index });
                    self.unrecorded = 0;
                    self.last_down_note = Some(now);
                } else {
                    self.unrecorded += 1;
                }
            }
            // Connecting: the first session, or a new one waiting for media (still down if it
            // was).
            DestinationState::Forwarding | DestinationState::Connecting => {}
        }
        if self.pending_down && ready && state != DestinationState::Forwarding {
            // Held back, still down, and the wait is over.
            notes.push(down(false, self.unrecorded));
            self.recorded_down = true;
            self.pending_down = false;
            self.unrecorded = 0;
            self.last_down_note = Some(now);
        }
    }
}

/// An index of a relay's list as the domain numbers it.
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn note_error(r: &ErrorRecord) -> NoteError {
    NoteError {
        code: error_code(r.error.kind).to_string(),
        message: r.error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DestinationState::{Connecting, Failed, Forwarding, Reconnecting};
    use baton_relay::{ErrorKind, RelayError, Side};

    /// One destination followed through `steps` (seconds since the start, state, sessions):
    /// the notes of each, as `down` / `up` (with the unrecorded count of a down, `fail` for
    /// good).
    fn follow(steps: &[(u64, DestinationState, u64)]) -> Vec<(u64, String)> {
        let start = Instant::now();
        let error = ErrorRecord {
            error: RelayError::new(Side::Destination, ErrorKind::Disconnected, "reset"),
            at: std::time::SystemTime::UNIX_EPOCH,
        };
        let mut t = DestTrack::default();
        let mut out = Vec::new();
        for &(at, state, sessions) in steps {
            let mut notes = Vec::new();
            let now = start + Duration::from_secs(at);
            t.observe(1, state, sessions, Some(&error), now, &mut notes);
            for n in notes {
                let word = match n {
                    RelayNote::DestinationDown {
                        index: 1,
                        failed,
                        unrecorded,
                        error: Some(e),
                    } => {
                        assert_eq!(e.code, "Disconnected");
                        format!("{}{unrecorded}", if failed { "fail" } else { "down" })
                    }
                    RelayNote::DestinationUp { index: 1 } => "up".into(),
                    other => panic!("{other:?}"),
                };
                out.push((at, word));
            }
        }
        out
    }

    fn words(notes: &[(u64, &str)]) -> Vec<(u64, String)> {
        notes.iter().map(|(t, w)| (*t, w.to_string())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_destination_down_then_up_is_one_pair() {
        let got = follow(&[
            (0, Connecting, 1),
            (1, Forwarding, 1),
            (5, Reconnecting, 1),
            (6, Connecting, 2),
            (7, Forwarding, 2),
        ]);
        assert_eq!(got, words(&[(5, "down0"), (7, "up")]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flapping_destination_writes_at_most_a_pair_per_window() {
        // Down and up every 2 s for a minute.
        let mut steps = vec![(0, Forwarding, 1)];
        for i in 0..30 {
            steps.push((2 * i + 1, Reconnecting, i + 1));
            steps.push((2 * i + 2, Forwarding, i + 2));
        }
        let got = follow(&steps);
        let downs: Vec<&(u64, String)> = got.iter().filter(|(_, w)| w != "up").collect();
        assert_eq!(downs.len(), 2, "{got:?}");
        // The first at once; the next when 30 s are over, counting those between.
        assert_eq!(got[..2], words(&[(1, "down0"), (2, "up")]));
        assert_eq!(got[2..], words(&[(31, "down14"), (32, "up")]));
    }

    #[tokio::test(start_paused = true)]
    async fn one_still_down_after_the_window_is_recorded_then() {
        let got = follow(&[
            (0, Forwarding, 1),
            (1, Reconnecting, 1),
            (2, Forwarding, 2),
            (3, Reconnecting, 2),
            (20, Connecting, 3),
            // The window is over and it is still down: recorded now (a status of every
            // second, or the tracker's due time, brings this look).
            (31, Connecting, 3),
            (40, Forwarding, 3),
        ]);
        assert_eq!(
            got,
            words(&[(1, "down0"), (2, "up"), (31, "down0"), (40, "up")])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounce_between_two_looks_is_a_pair_and_failing_for_good_is_recorded_at_once() {
        let got = follow(&[
            (0, Forwarding, 1),
            (10, Forwarding, 2),
            (11, Reconnecting, 2),
            (12, Failed, 2),
        ]);
        assert_eq!(got, words(&[(10, "down0"), (10, "up"), (12, "fail0")]));
    }

    /// A relay's status with `dests` (id, state, sessions), `switches` source switches and
    /// source `active` in use (source 0 with an error).
    fn status(dests: &[(u32, DestinationState, u64)], switches: u64, active: usize) -> RelayStatus {
        let error = |kind, m: &str| ErrorRecord {
            error: RelayError::new(Side::Source, kind, m),
            at: std::time::SystemTime::UNIX_EPOCH,
        };
        RelayStatus {
            state: baton_relay::RelayState::Forwarding,
            uptime: Duration::ZERO,
            bytes_in: 0,
            bytes_out: 0,
            bitrate_out: 0,
            bitrate_in: 0,
            fps: 0.0,
            frames_in: 0,
            frames_out: 0,
            frames_dropped: 0,
            frames_deduplicated: 0,
            destination_sessions: 0,
            source_connections: 0,
            first_forwarded: None,
            timeline: Default::default(),
            srt: None,
            source_transport: None,
            destination_transport: None,
            destination_srt: None,
            last_error: None,
            active_source: active,
            source_switches: switches,
            slate_active: false,
            slate_starts: 0,
            sources: vec![
                baton_relay::SourceStatus {
                    url: "rtmp://p/live/s".into(),
                    last_error: Some(error(ErrorKind::Timeout, "no media")),
                },
                baton_relay::SourceStatus {
                    url: "rtmp://b/live/s".into(),
                    last_error: None,
                },
            ],
            destinations: dests
                .iter()
                .map(|&(id, state, sessions)| baton_relay::DestinationStatus {
                    id: baton_relay::DestinationId(id),
                    url: format!("rtmp://d{id}/live/s"),
                    state,
                    bytes_out: 0,
                    bitrate_out: 0,
                    frames_out: 0,
                    frames_dropped: 0,
                    sessions,
                    transport: None,
                    srt: None,
                    last_error: None,
                })
                .collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn switches_are_recorded_at_most_every_window_with_their_count() {
        let mut tracker = NoteTracker::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let two = [(0, Forwarding, 1), (1, Forwarding, 1)];
        assert!(tracker.observe(&status(&two, 0, 0), at(0)).is_empty());
        let first = tracker.observe(&status(&two, 1, 1), at(1));
        assert_eq!(
            first,
            [RelayNote::SourceSwitched {
                from: 0,
                to: 1,
                switches: 1,
                why: Some(NoteError {
                    code: "Timeout".into(),
                    message: "source: no media".into()
                }),
            }]
        );
        // Back and forth twice within the window: held back, due when it is over.
        assert!(tracker.observe(&status(&two, 2, 0), at(3)).is_empty());
        assert!(tracker.observe(&status(&two, 3, 1), at(5)).is_empty());
        assert_eq!(tracker.due(), Some(at(11)));
        let later = tracker.observe(&status(&two, 3, 1), at(11));
        assert!(
            matches!(
                later[..],
                [RelayNote::SourceSwitched {
                    from: 1,
                    to: 1,
                    switches: 2,
                    ..
                }]
            ),
            "{later:?}"
        );
        assert_eq!(tracker.due(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_destination_is_due_no_more_and_one_destination_makes_no_notes() {
        let mut tracker = NoteTracker::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let dests = |b| [(0, Forwarding, 1), (1, b, 1)];
        tracker.observe(&status(&dests(Forwarding), 0, 0), at(0));
        assert_eq!(
            tracker
                .observe(&status(&dests(Reconnecting), 0, 0), at(1))
                .len(),
            1
        );
        tracker.observe(&status(&dests(Forwarding), 0, 0), at(2));
        // Down again within the window: held back, due at 31 s.
        assert!(
            tracker
                .observe(&status(&dests(Reconnecting), 0, 0), at(3))
                .is_empty()
        );
        assert_eq!(tracker.due(), Some(at(31)));
        // Removed: nothing of it is due (the watcher would otherwise wake at once forever).
        tracker.observe(&status(&[(0, Forwarding, 1)], 0, 0), at(4));
        assert_eq!(tracker.due(), None);
        // One destination: its own down is the task's Recovering, no note.
        let one = |s| [(0, s, 1)];
        assert!(
            tracker
                .observe(&status(&one(Reconnecting), 0, 0), at(40))
                .is_empty()
        );
    }

    /// What the tracker records of the slate through `steps` (seconds since now, the slate
    /// on, its starts), as `on<starts>/<unrecorded>` and `off` (time is paused: "now" is the
    /// same for every call).
    fn follow_slate(tracker: &mut NoteTracker, steps: &[(u64, bool, u64)]) -> Vec<(u64, String)> {
        let start = Instant::now();
        let mut out = Vec::new();
        for &(at, on, starts) in steps {
            let mut s = status(&[(0, Forwarding, 1)], 0, 0);
            s.slate_active = on;
            s.slate_starts = starts;
            for n in tracker.observe(&s, start + Duration::from_secs(at)) {
                let word = match n {
                    RelayNote::SlateOn {
                        starts,
                        unrecorded,
                        why: Some(e),
                    } => {
                        assert_eq!(
                            (e.code.as_str(), e.message.as_str()),
                            ("Timeout", "source: no media")
                        );
                        format!("on{starts}/{unrecorded}")
                    }
                    RelayNote::SlateOff { source: 0 } => "off".into(),
                    other => panic!("{other:?}"),
                };
                out.push((at, word));
            }
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn the_slate_on_then_off_is_one_pair_and_a_flapping_one_at_most_a_pair_per_window() {
        let mut tracker = NoteTracker::default();
        let got = follow_slate(&mut tracker, &[(0, false, 0), (1, true, 1), (2, false, 1)]);
        assert_eq!(got, words(&[(1, "on1/0"), (2, "off")]));
        // On and off every second for a minute (starts 2..=31).
        let mut steps = Vec::new();
        for i in 0..30 {
            steps.push((2 * i + 3, true, i + 2));
            steps.push((2 * i + 4, false, i + 2));
        }
        let mut got = Vec::new();
        for step in steps {
            got.extend(follow_slate(&mut tracker, &[step]));
            if tracker.slate.pending_on {
                // The watcher looks again when the window is over.
                assert_eq!(
                    tracker.due(),
                    tracker.slate.last_on_note.map(|t| t + SLATE_EVERY)
                );
            }
        }
        // The first start within the window after the last on is held back; one still
        // playing when the window is over is recorded then, counting those between.
        assert_eq!(
            got,
            words(&[
                (11, "on6/4"),
                (12, "off"),
                (21, "on11/4"),
                (22, "off"),
                (31, "on16/4"),
                (32, "off"),
                (41, "on21/4"),
                (42, "off"),
                (51, "on26/4"),
                (52, "off"),
                (61, "on31/4"),
                (62, "off"),
            ])
        );
        // On and off between two looks: a pair, or only counted within the window.
        let got = follow_slate(&mut tracker, &[(63, false, 32), (80, false, 33)]);
        assert_eq!(got, words(&[(80, "on33/1"), (80, "off")]));
        assert_eq!(tracker.due(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_tracker_says_when_to_look_again() {
        let mut tracker = NoteTracker::default();
        let start = Instant::now();
        tracker.dests.insert(
            0,
            DestTrack {
                pending_down: true,
                last_down_note: Some(start),
                ..DestTrack::default()
            },
        );
        assert_eq!(tracker.due(), Some(start + DOWN_EVERY));
        tracker.pending = 2;
        tracker.last_switch_note = Some(start);
        assert_eq!(tracker.due(), Some(start + SWITCH_EVERY));
    }
}
