//! Adding and removing destinations of a running relay (the `Control` commands the loop
//! reads from its bounded channel).

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::dest::Dest;
use super::{Control, Runner};
use crate::destination::Destination;
use crate::error::{ErrorKind, RelayError, Side};
use crate::status::DestinationId;

impl Runner {
    pub(super) fn on_control(&mut self, command: Option<Control>) {
        match command {
            None => self.control = None,
            Some(Control::Add { name, url, reply }) => {
                let id = DestinationId(self.next_id);
                self.next_id += 1;
                info!(destination = %name, %id, "destination added");
                self.dests.push(Dest::new(id, name, url, &self.config));
                if self.last_frame_at.is_some() {
                    // The source is flowing: connect now (the session starts at the next
                    // keyframe its buffer sees).
                    self.start_dest_connect(self.dests.len() - 1);
                }
                let _ = reply.send(id);
                self.publish_status(Instant::now());
            }
            Some(Control::Remove { id, reply }) => {
                let _ = reply.send(self.remove_destination(id));
            }
        }
    }

    fn remove_destination(&mut self, id: DestinationId) -> Result<(), RelayError> {
        let Some(i) = self.dests.iter().position(|d| d.id == id) else {
            return Err(RelayError::new(
                Side::Destination,
                ErrorKind::NotFound,
                format!("the relay has no destination {id}"),
            ));
        };
        let others_left = self
            .dests
            .iter()
            .enumerate()
            .any(|(j, d)| j != i && !d.is_failed());
        if !others_left {
            return Err(RelayError::new(
                Side::Destination,
                ErrorKind::Refused,
                format!("destination {id} is the relay's last one: stop the relay instead"),
            ));
        }
        let mut d = self.dests.remove(i);
        info!(destination = %d.name, %id, "destination removed");
        if let Some(conn) = d.take_session() {
            close_in_background(conn, d.name.clone(), self.config.close_timeout);
        }
        self.removed.bytes_out += d.bytes_out();
        self.removed.frames_out += d.counters.frames_out;
        self.removed.frames_dropped += d.dropped();
        self.removed.sessions += d.counters.sessions;
        self.refresh_state();
        self.publish_status(Instant::now());
        Ok(())
    }
}

/// Ends a destination session cleanly on a task of its own, so the relay's other
/// destinations are not held up by its goodbye (at most `timeout`).
pub(super) fn close_in_background(conn: Destination, name: String, timeout: Duration) {
    tokio::spawn(async move {
        if let Err(e) = conn.close(timeout).await {
            warn!(destination = %name, error = %e, "destination did not close cleanly");
        }
    });
}
