//! The user's commands: Update, Stop, Restart, Delete (rules on [`Command`](super::Command)).

use super::{Effect, Step, Timer};
use crate::event::CallbackState;
use crate::request::{Field, Rejection, TaskPatch};
use crate::task::{ExitReason, TaskStatus};

impl Step<'_> {
    pub(super) fn update(&mut self, patch: &TaskPatch) -> Result<(), Rejection> {
        let status = self.task.runtime.status;
        let changes = patch.changes(&self.task.spec);
        match status {
            TaskStatus::Exited => return Err(Rejection::Exited),
            TaskStatus::NotStarted => {}
            TaskStatus::Running | TaskStatus::Abnormal => {
                // "While a task is running [...] you can update only the CallbackUrl and
                // RepeatTime parameters" (seed 003). The extra destinations, which only the
                // native API sets, may change too: the live relay adds and removes them
                // without disturbing the others (the first destination stays: the dialects'
                // rule).
                if let Some(&field) = changes.iter().find(|f| {
                    !matches!(
                        f,
                        Field::CallbackUrl | Field::RepeatNumber | Field::ExtraDstUrls
                    )
                }) {
                    return Err(Rejection::TaskHasStarted(field));
                }
            }
            TaskStatus::Stopped => {
                // "If a task is stopped, you can update all parameters except for Region."
                if changes.contains(&Field::Region) {
                    return Err(Rejection::TaskHasStarted(Field::Region));
                }
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let spec = patch.apply_to(&self.task.spec);
        spec.validate_fields()?;
        let times_changed =
            changes.contains(&Field::StartTime) || changes.contains(&Field::EndTime);
        // Unchanged times were valid when set; an end time that has passed since only matters
        // to the End timer, which is about to fire.
        spec.check_duration(times_changed.then_some(self.now))?;
        self.task.spec = spec;

        let (start, end) = (self.task.spec.start_time, self.task.spec.end_time);
        if status == TaskStatus::NotStarted && changes.contains(&Field::StartTime) {
            self.schedule(start, Timer::Start);
        }
        if changes.contains(&Field::EndTime) {
            self.schedule(end, Timer::End);
        }
        let reaches_relay =
            changes.contains(&Field::RepeatNumber) || changes.contains(&Field::ExtraDstUrls);
        if reaches_relay && self.task.relay_alive() {
            let run = self.task.runtime.run;
            self.effects.push(Effect::UpdateRelay { run });
        }
        Ok(())
    }

    pub(super) fn stop(&mut self) -> Result<(), Rejection> {
        if !self.task.runtime.status.is_running() {
            return Err(Rejection::TaskHasStopped);
        }
        self.stop_relay();
        let rt = self.rt();
        rt.status = TaskStatus::Stopped;
        rt.invalid_reason = None;
        rt.next_retry_at = None;
        self.notify(CallbackState::Offline, None, None);
        Ok(())
    }

    pub(super) fn restart(&mut self) -> Result<(), Rejection> {
        let spec = &self.task.spec;
        if self.task.runtime.status == TaskStatus::Exited {
            return Err(Rejection::Exited);
        }
        if self.now < spec.start_time {
            return Err(Rejection::NotStartedYet);
        }
        if self.now >= spec.end_time {
            return Err(Rejection::IllegalDuration);
        }
        self.start_fresh();
        Ok(())
    }

    pub(super) fn disable(&mut self) -> Result<(), Rejection> {
        match self.task.runtime.status {
            TaskStatus::Exited => Err(Rejection::Exited),
            TaskStatus::Stopped => Err(Rejection::TaskHasStopped),
            TaskStatus::NotStarted => {
                let rt = self.rt();
                rt.status = TaskStatus::Stopped;
                rt.invalid_reason = None;
                rt.next_retry_at = None;
                // Stopped by the API, as a running task would be: `Offline`.
                self.notify(CallbackState::Offline, None, None);
                Ok(())
            }
            TaskStatus::Running | TaskStatus::Abnormal => self.stop(),
        }
    }

    pub(super) fn enable(&mut self, from_start: bool) -> Result<(), Rejection> {
        match self.task.runtime.status {
            TaskStatus::Exited => return Err(Rejection::Exited),
            TaskStatus::Stopped => {}
            TaskStatus::NotStarted | TaskStatus::Running | TaskStatus::Abnormal => {
                return Err(Rejection::NotStopped);
            }
        }
        let (start, end) = (self.task.spec.start_time, self.task.spec.end_time);
        if self.now >= end {
            return Err(Rejection::IllegalDuration);
        }
        let finished = self.task.spec.repeat_number >= 0
            && i64::from(self.task.runtime.current_loop) > i64::from(self.task.spec.repeat_number);
        if from_start || finished {
            let (file_index, offset) = (self.task.spec.file_index, self.task.spec.offset);
            let rt = self.rt();
            rt.current_file_index = file_index;
            rt.current_offset = offset;
            rt.current_loop = 0;
        }
        let rt = self.rt();
        rt.invalid_reason = None;
        rt.retries = 0;
        rt.next_retry_at = None;
        if self.now < start {
            self.rt().status = TaskStatus::NotStarted;
            self.schedule(start, Timer::Start);
            return Ok(());
        }
        self.start_relay();
        self.rt().status = TaskStatus::Running;
        self.notify(CallbackState::Running, None, None);
        Ok(())
    }

    pub(super) fn delete(&mut self) {
        if self.task.runtime.status == TaskStatus::Exited {
            // Already exited (at its EndTime): only the record is left to go.
            let now = self.now;
            self.effects.push(Effect::Purge { at: now });
        } else {
            self.exit(ExitReason::TriggerByUser);
        }
    }
}
