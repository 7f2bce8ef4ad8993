//! How a server session reacts to what the client sends: media, the NetConnection and
//! NetStream commands (RTMP spec 1.0 section 7.2), and the replies they call for.

use super::*;

impl super::ServerSession {
    pub(super) fn on_message(
        &mut self,
        raw: Received,
        message: Message,
    ) -> Result<(), SessionError> {
        match message {
            Message::Command(command) => self.on_command(raw.stream_id, command),
            Message::Audio(p) => self.on_media(raw.stream_id, MediaKind::Audio, raw.timestamp, p),
            Message::Video(p) => self.on_media(raw.stream_id, MediaKind::Video, raw.timestamp, p),
            Message::Data(p) => self.on_media(raw.stream_id, MediaKind::Data, raw.timestamp, p),
            Message::Aggregate(payload) => {
                for sub in split_aggregate(&raw.with_payload(payload)) {
                    let sub = sub?;
                    if let Some((kind, payload)) = media_of(sub.type_id, sub.payload) {
                        self.on_media(sub.stream_id, kind, sub.timestamp, payload)?;
                    }
                }
                Ok(())
            }
            // Set Buffer Length, Ping Response, shared objects...: nothing to do.
            _ => Ok(()),
        }
    }

    pub(super) fn on_media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    ) -> Result<(), SessionError> {
        let publishing = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.state == StreamState::Publishing);
        if !publishing {
            self.dropped_media += 1;
            return Ok(());
        }
        let payload = match kind {
            MediaKind::Data => strip_set_data_frame(payload),
            _ => payload,
        };
        self.events.push_back(ServerEvent::Media {
            stream_id,
            kind,
            timestamp,
            payload,
        });
        Ok(())
    }

    pub(super) fn on_command(
        &mut self,
        stream_id: u32,
        command: Command,
    ) -> Result<(), SessionError> {
        let txn = command.transaction_id;
        let name = command.name.as_str();
        if name == "connect" {
            self.on_connect(command);
            return Ok(());
        }
        if self.connection != Connection::Accepted {
            return Err(SessionError::NotConnected {
                command: command.name,
            });
        }
        let first_arg = || command.arg(0).and_then(Amf0Value::as_str).unwrap_or("");
        match name {
            "createStream" => self.on_create_stream(stream_id, txn),
            "publish" | "play" => self.on_stream_request(stream_id, &command),
            "deleteStream" => {
                let target = command.arg(0).and_then(Amf0Value::as_f64).unwrap_or(-1.0);
                if target >= 1.0 && target <= f64::from(u32::MAX) {
                    self.finish(target as u32);
                    self.streams.remove(&(target as u32));
                }
            }
            "closeStream" => self.finish(stream_id),
            "FCPublish" => {
                let info = Amf0Value::object([
                    ("code", "NetStream.Publish.Start".into()),
                    ("description", first_arg().into()),
                ]);
                self.core.command(
                    stream_id,
                    Command::new("onFCPublish", 0.0, Amf0Value::Null, vec![info]),
                );
                self.result_reply(stream_id, txn, vec![]);
            }
            "FCUnpublish" => {
                let (target, _) = split_name(first_arg());
                let publishing = self
                    .streams
                    .iter()
                    .find(|(_, s)| s.state == StreamState::Publishing && s.name == target)
                    .map(|(&id, _)| id);
                if let Some(id) = publishing {
                    self.finish(id);
                }
                let info = Amf0Value::object([
                    ("code", "NetStream.Unpublish.Success".into()),
                    ("description", first_arg().into()),
                ]);
                self.core.command(
                    stream_id,
                    Command::new("onFCUnpublish", 0.0, Amf0Value::Null, vec![info]),
                );
                self.result_reply(stream_id, txn, vec![]);
            }
            "receiveAudio" | "receiveVideo" => {
                let on = command.arg(0).and_then(Amf0Value::as_bool).unwrap_or(true);
                if let Some(s) = self.streams.get_mut(&stream_id) {
                    if name == "receiveAudio" {
                        s.receive_audio = on;
                    } else {
                        s.receive_video = on;
                    }
                }
            }
            "getStreamLength" => self.result_reply(stream_id, txn, vec![0.0.into()]),
            "releaseStream" | "checkbw" | "_checkbw" | "FCSubscribe" | "FCUnsubscribe" => {
                self.result_reply(stream_id, txn, vec![])
            }
            // Answers and notifications from the client, and pause on live: nothing to do.
            "_result" | "_error" | "onStatus" | "onBWDone" | "pause" | "seek" => {}
            _ => {
                if txn != 0.0 {
                    let description = format!("unknown command {name}");
                    self.error_reply(stream_id, txn, "NetConnection.Call.Failed", &description);
                }
            }
        }
        Ok(())
    }

    pub(super) fn on_connect(&mut self, command: Command) {
        let txn = command.transaction_id;
        if self.connection != Connection::AwaitingConnect {
            self.error_reply(0, txn, "NetConnection.Call.Failed", "already connected");
            return;
        }
        let object = &command.command_object;
        let text = |key| object.get(key).and_then(Amf0Value::as_str);
        let app = text("app").unwrap_or("").trim_end_matches('/').to_owned();
        let tc_url = text("tcUrl").map(str::to_owned);
        let fourcc = object.get("fourCcList").cloned();
        let fourcc_list = fourcc
            .as_ref()
            .and_then(Amf0Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Amf0Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let request_id = self.new_request(Request::Connect {
            transaction_id: txn,
            object_encoding: object
                .get("objectEncoding")
                .and_then(Amf0Value::as_f64)
                .unwrap_or(0.0),
            fourcc_list: fourcc,
        });
        self.connection = Connection::Pending;
        self.app = app.clone();
        self.tc_url = tc_url.clone();
        self.events.push_back(ServerEvent::ConnectRequested {
            request_id,
            app,
            tc_url,
            fourcc_list,
            properties: command.command_object,
        });
    }

    pub(super) fn on_create_stream(&mut self, stream_id: u32, txn: f64) {
        if self.streams.len() >= MAX_STREAMS {
            self.error_reply(
                stream_id,
                txn,
                "NetConnection.Call.Failed",
                "too many streams",
            );
            return;
        }
        while self.streams.contains_key(&self.next_stream_id) || self.next_stream_id == 0 {
            self.next_stream_id = self.next_stream_id.wrapping_add(1);
        }
        let id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1);
        self.streams.insert(id, Stream::new());
        self.result_reply(stream_id, txn, vec![f64::from(id).into()]);
    }

    /// `publish(name, type)` or `play(name, start, ...)` on a message stream.
    pub(super) fn on_stream_request(&mut self, stream_id: u32, command: &Command) {
        let publish = command.name == "publish";
        let (busy_code, bad_code) = if publish {
            (
                "NetStream.Publish.BadConnection",
                "NetStream.Publish.BadName",
            )
        } else {
            ("NetStream.Play.Failed", "NetStream.Play.Failed")
        };
        if stream_id == 0 {
            let what = format!("{} needs a stream from createStream", command.name);
            self.core.status(0, "error", bad_code, &what);
            return;
        }
        // A client may skip createStream and use a stream id of its own: allow it.
        if !self.streams.contains_key(&stream_id) && self.streams.len() < MAX_STREAMS {
            self.streams.insert(stream_id, Stream::new());
        }
        let Some(stream) = self.streams.get(&stream_id) else {
            self.core
                .status(stream_id, "error", bad_code, "too many streams");
            return;
        };
        if stream.state != StreamState::Idle {
            let what = format!("stream {stream_id} is busy");
            self.core.status(stream_id, "error", busy_code, &what);
            return;
        }
        let (stream_name, query) =
            split_name(command.arg(0).and_then(Amf0Value::as_str).unwrap_or(""));
        let (app, tc_url) = (self.app.clone(), self.tc_url.clone());
        let event_and_state = if publish {
            let request_id = self.new_request(Request::Publish { stream_id });
            let mode = command.arg(1).and_then(Amf0Value::as_str).unwrap_or("live");
            (
                ServerEvent::PublishRequested {
                    request_id,
                    stream_id,
                    app,
                    tc_url,
                    stream_name: stream_name.clone(),
                    query,
                    mode: mode.to_owned(),
                },
                StreamState::PublishPending(request_id),
            )
        } else {
            let request_id = self.new_request(Request::Play { stream_id });
            (
                ServerEvent::PlayRequested {
                    request_id,
                    stream_id,
                    app,
                    tc_url,
                    stream_name: stream_name.clone(),
                    query,
                    start: command.arg(1).and_then(Amf0Value::as_f64).unwrap_or(-2.0),
                },
                StreamState::PlayPending(request_id),
            )
        };
        let (event, state) = event_and_state;
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            stream.state = state;
            stream.name = stream_name;
        }
        self.events.push_back(event);
    }

    /// Ends whatever a stream was doing, reporting it.
    pub(super) fn finish(&mut self, stream_id: u32) {
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let event = match stream.state {
            StreamState::Publishing | StreamState::PublishPending(_) => {
                ServerEvent::PublishFinished { stream_id }
            }
            StreamState::Playing | StreamState::PlayPending(_) => {
                ServerEvent::PlayFinished { stream_id }
            }
            StreamState::Idle => return,
        };
        stream.state = StreamState::Idle;
        self.events.push_back(event);
    }

    /// Moves a stream from `from` to `to`; returns its name, or `None` if it was not in
    /// `from` (closed meanwhile).
    pub(super) fn advance(
        &mut self,
        stream_id: u32,
        from: StreamState,
        to: StreamState,
    ) -> Option<String> {
        let stream = self.streams.get_mut(&stream_id)?;
        if stream.state != from {
            return None;
        }
        stream.state = to;
        Some(stream.name.clone())
    }

    pub(super) fn new_request(&mut self, request: Request) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        self.requests.insert(id, request);
        id
    }

    pub(super) fn take_request(
        &mut self,
        id: u32,
        kind: impl Fn(&Request) -> bool,
    ) -> Option<Request> {
        if !self.requests.get(&id).is_some_and(kind) {
            return None;
        }
        self.requests.remove(&id)
    }

    /// The stream id of a pending publish (`publish`) or play request.
    pub(super) fn take_stream_request(
        &mut self,
        id: u32,
        publish: bool,
    ) -> Result<u32, SessionError> {
        match self.take_request(id, |r| {
            matches!(
                (r, publish),
                (Request::Publish { .. }, true) | (Request::Play { .. }, false)
            )
        }) {
            Some(Request::Publish { stream_id } | Request::Play { stream_id }) => Ok(stream_id),
            _ => Err(SessionError::UnknownRequest(id)),
        }
    }

    /// `_result` when the transaction id asks for an answer (non-zero).
    pub(super) fn result_reply(&mut self, stream_id: u32, txn: f64, args: Vec<Amf0Value>) {
        if txn != 0.0 {
            self.core.command(
                stream_id,
                Command::new("_result", txn, Amf0Value::Null, args),
            );
        }
    }

    pub(super) fn error_reply(&mut self, stream_id: u32, txn: f64, code: &str, description: &str) {
        let info = Amf0Value::object([
            ("level", "error".into()),
            ("code", code.into()),
            ("description", description.into()),
        ]);
        self.core.command(
            stream_id,
            Command::new("_error", txn, Amf0Value::Null, vec![info]),
        );
    }
}
