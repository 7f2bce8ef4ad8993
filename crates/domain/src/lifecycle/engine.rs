//! The engine's commands: timers, relay reports, recovery (rules on
//! [`Command`](super::Command)). None is ever rejected; one that does not apply to the task's
//! state or current run changes nothing.

use super::{Effect, Step, Timer, retained_until};
use crate::event::{CallbackState, ItemEvent, ItemEventKind};
use crate::note::{RelayNote, Takeover};
use crate::task::{ExitReason, InvalidReason, LastError, TaskStatus};

impl Step<'_> {
    pub(super) fn start_time_reached(&mut self) {
        if self.task.runtime.status != TaskStatus::NotStarted {
            return;
        }
        let spec = &self.task.spec;
        if self.now < spec.start_time {
            // Early (the start time moved later): wait for the real one.
            let at = spec.start_time;
            self.schedule(at, Timer::Start);
        } else if self.now >= spec.end_time {
            self.exit(ExitReason::OverEndTime);
        } else {
            self.start_fresh();
        }
    }

    pub(super) fn end_time_reached(&mut self) {
        if self.task.runtime.status == TaskStatus::Exited {
            return;
        }
        let end = self.task.spec.end_time;
        if self.now < end {
            // Early (the end time moved later while stopped or not started).
            self.schedule(end, Timer::End);
        } else {
            self.exit(ExitReason::OverEndTime);
        }
    }

    pub(super) fn retry_due(&mut self, run: u64) {
        let rt = &self.task.runtime;
        let Some(due) = rt.next_retry_at else {
            return;
        };
        if rt.run != run || rt.status != TaskStatus::Abnormal {
            return;
        }
        if self.now >= self.task.spec.end_time {
            self.exit(ExitReason::OverEndTime);
        } else if self.now < due {
            self.schedule(due, Timer::Retry);
        } else {
            // The task stays 2 (retrying) until the new run reports it is up.
            self.start_relay();
        }
    }

    pub(super) fn source_back(&mut self, run: u64) {
        if self.task.watched_run() != Some(run) {
            return;
        }
        if self.now >= self.task.spec.end_time {
            self.exit(ExitReason::OverEndTime);
        } else {
            // The retry RelayFailed counted, now instead of at `next_retry_at` (its timer then
            // finds nothing due).
            self.start_relay();
        }
    }

    pub(super) fn relay_forwarding(&mut self, run: u64) {
        if !self.is_current_relay(run) {
            return;
        }
        self.relay_running(run);
        self.notify(CallbackState::Forwarding, None, None);
    }

    pub(super) fn relay_running(&mut self, run: u64) {
        if !self.is_current_relay(run) || self.task.runtime.status != TaskStatus::Abnormal {
            return;
        }
        let rt = self.rt();
        rt.status = TaskStatus::Running;
        rt.invalid_reason = None;
        rt.retries = 0;
        self.notify(CallbackState::Running, None, None);
    }

    pub(super) fn relay_recovering(
        &mut self,
        run: u64,
        reason: InvalidReason,
        error: Option<LastError>,
    ) {
        if !self.is_current_relay(run) {
            return;
        }
        self.record_error(error);
        let was = self.task.runtime.status;
        let rt = self.rt();
        rt.status = TaskStatus::Abnormal;
        rt.invalid_reason = Some(reason);
        if was == TaskStatus::Running {
            self.notify(CallbackState::Recovering, Some(reason), None);
        }
    }

    pub(super) fn relay_failed(
        &mut self,
        run: u64,
        reason: InvalidReason,
        error: Option<LastError>,
    ) {
        if !self.is_current_relay(run) {
            return;
        }
        self.record_error(error);
        let was = self.task.runtime.status;
        let (retry_count, interval) = (self.task.spec.retry_count, self.task.spec.retry_interval);
        let now = self.now;
        let rt = self.rt();
        rt.invalid_reason = Some(reason);
        if rt.retries < retry_count {
            let at = now.saturating_add(i64::from(interval));
            rt.status = TaskStatus::Abnormal;
            rt.retries += 1;
            rt.next_retry_at = Some(at);
            self.schedule(at, Timer::Retry);
            if was == TaskStatus::Running {
                self.notify(CallbackState::Recovering, Some(reason), None);
            }
        } else {
            // "3: Stopped (pull/push abnormal and retries failed ...)" (cloud-apis §2.4).
            rt.status = TaskStatus::Stopped;
            rt.next_retry_at = None;
            self.notify(CallbackState::Offline, Some(reason), None);
        }
    }

    pub(super) fn playlist_finished(&mut self, run: u64) {
        if !self.is_current_relay(run) {
            return;
        }
        let file_index = self.task.runtime.current_file_index;
        let source = self.source_of(file_index);
        let rt = self.rt();
        rt.status = TaskStatus::Stopped;
        rt.invalid_reason = None;
        // Every pass is done (a Continue, Command::Enable, starts the list over). The relay's
        // last progress report already counted the last pass (`loops` = passes completed);
        // counting it here again made a finished list of 2 passes read "pass 4 of 2".
        let total = u32::try_from(self.task.spec.repeat_number.saturating_add(1)).unwrap_or(1);
        let rt = self.rt();
        rt.current_loop = rt.current_loop.max(total);
        let item = ItemEvent {
            kind: ItemEventKind::PlaylistFinished,
            file_index,
            source,
            detail: None,
        };
        self.notify_item(CallbackState::Offline, None, None, Some(item));
    }

    pub(super) fn progress(&mut self, run: u64, file_index: u32, offset: u32, loops: u32) {
        if !self.is_current_relay(run) {
            return;
        }
        let rt = self.rt();
        rt.current_file_index = file_index;
        rt.current_offset = offset;
        rt.current_loop = loops;
    }

    pub(super) fn item(&mut self, run: u64, mut event: ItemEvent) {
        if !self.is_current_relay(run) {
            return;
        }
        if !event.kind.always_notified() && !self.task.spec.notifies_items() {
            return;
        }
        let state = match self.task.runtime.status {
            TaskStatus::Running => CallbackState::Running,
            TaskStatus::Abnormal => CallbackState::Recovering,
            _ => return,
        };
        if event.source.is_empty() {
            event.source = self.source_of(event.file_index);
        }
        self.notify_item(state, None, None, Some(event));
    }

    pub(super) fn relay_note(&mut self, run: u64, note: &RelayNote) {
        if !self.is_current_relay(run) {
            return;
        }
        self.notify_detail(note.state(), note.detail());
    }

    pub(super) fn taken_over(&mut self, takeover: &Takeover) {
        if self.task.runtime.status == TaskStatus::Exited {
            return;
        }
        self.notify_detail(CallbackState::TakenOver, takeover.detail());
    }

    /// The task's source number `index` as configured (URL, path or media ID).
    fn source_of(&self, index: u32) -> String {
        let urls = &self.task.spec.source_urls;
        urls.get(index as usize).cloned().unwrap_or_default()
    }

    pub(super) fn recover(&mut self) {
        self.relays_lost = true;
        let status = self.task.runtime.status;
        let (start, end) = (self.task.spec.start_time, self.task.spec.end_time);
        if status == TaskStatus::Exited {
            let exit_time = self.task.runtime.exit_time.unwrap_or(self.now);
            let at = retained_until(exit_time, self.policy);
            self.effects.push(Effect::Purge { at });
            return;
        }
        if self.now >= end {
            self.exit(ExitReason::OverEndTime);
            return;
        }
        match (status, self.task.runtime.next_retry_at) {
            (TaskStatus::NotStarted, _) => self.schedule(start, Timer::Start),
            (TaskStatus::Abnormal, Some(due)) => self.schedule(due, Timer::Retry),
            // The relay died with the process: a new run, same status (the relay reports
            // whether it is up).
            (TaskStatus::Running, _) | (TaskStatus::Abnormal, None) => self.start_relay(),
            (TaskStatus::Stopped | TaskStatus::Exited, _) => {}
        }
        self.schedule(end, Timer::End);
    }

    /// Keeps the current run's error as the task's last one. `None` (the relay did not say)
    /// keeps the previous one: the last error is what last went wrong, whatever happened since.
    fn record_error(&mut self, error: Option<LastError>) {
        if let Some(error) = error {
            self.rt().last_error = Some(error);
        }
    }

    /// Whether `run` is the task's current run and its relay is alive.
    fn is_current_relay(&self, run: u64) -> bool {
        self.task.runtime.run == run && self.task.relay_alive()
    }
}
