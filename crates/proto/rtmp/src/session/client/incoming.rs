//! How a client session reacts to what the server sends: command results, onStatus
//! (RTMP spec 1.0 section 7.2.2), user control events and media.

use super::*;

impl super::ClientSession {
    pub(super) fn on_message(
        &mut self,
        raw: Received,
        message: Message,
    ) -> Result<(), SessionError> {
        match message {
            Message::Command(command) => self.on_command(command),
            Message::Audio(p) => self.on_media(MediaKind::Audio, raw.timestamp, p),
            Message::Video(p) => self.on_media(MediaKind::Video, raw.timestamp, p),
            Message::Data(p) => self.on_media(MediaKind::Data, raw.timestamp, p),
            Message::Aggregate(payload) => {
                for sub in split_aggregate(&raw.with_payload(payload)) {
                    let sub = sub?;
                    if let Some((kind, payload)) = media_of(sub.type_id, sub.payload) {
                        self.on_media(kind, sub.timestamp, payload);
                    }
                }
            }
            Message::UserControl(UserControl::StreamBegin(_)) => self.ended = false,
            Message::UserControl(UserControl::StreamEof(id))
                if self.state == ClientState::Playing && Some(id) == self.stream_id =>
            {
                self.stream_ended("StreamEOF");
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn on_command(&mut self, command: Command) {
        match command.name.as_str() {
            "_result" => match self.take_call(command.transaction_id) {
                Some(Call::Connect) => self.on_connected(&command),
                Some(Call::CreateStream) => self.on_stream_created(&command),
                _ => {}
            },
            "_error" => {
                let stage = match self.take_call(command.transaction_id) {
                    Some(Call::Connect) => Stage::Connect,
                    Some(Call::CreateStream) => Stage::CreateStream,
                    _ => return,
                };
                let (_, code, description) = status_info(&command);
                self.reject(stage, code, description);
            }
            "onStatus" => self.on_status(&command),
            // FMS asks for a bandwidth check after connect; ffmpeg and librtmp answer it.
            "onBWDone" => self.call("_checkbw", vec![], Call::Other),
            _ => {}
        }
    }

    pub(super) fn on_connected(&mut self, command: &Command) {
        if self.state != ClientState::Connecting {
            return;
        }
        let mut merged = Vec::new();
        for part in [Some(&command.command_object), command.arg(0)]
            .into_iter()
            .flatten()
        {
            if let Some(props) = part.properties() {
                merged.extend_from_slice(props);
            }
        }
        self.events.push_back(ClientEvent::Connected {
            properties: Amf0Value::Object(merged),
        });
        if self.core.announced_window.is_none() {
            self.core.announce_window(self.config.window_ack_size);
        }
        if self.config.mode == ClientMode::Publish {
            let name: Amf0Value = self.config.url.stream.as_str().into();
            self.call("releaseStream", vec![name.clone()], Call::Other);
            self.call("FCPublish", vec![name], Call::Other);
        }
        self.call("createStream", vec![], Call::CreateStream);
        self.state = ClientState::CreatingStream;
    }

    pub(super) fn on_stream_created(&mut self, command: &Command) {
        if self.state != ClientState::CreatingStream {
            return;
        }
        let id = command.arg(0).and_then(Amf0Value::as_f64);
        let Some(stream_id) = id.filter(|&n| n >= 1.0 && n <= f64::from(u32::MAX)) else {
            let description = "createStream _result without a stream id".to_owned();
            self.reject(Stage::CreateStream, String::new(), description);
            return;
        };
        let stream_id = stream_id as u32;
        self.stream_id = Some(stream_id);
        let name: Amf0Value = self.config.url.stream.as_str().into();
        let transaction_id = self.transaction();
        let command = match self.config.mode {
            ClientMode::Publish => Command::new(
                "publish",
                transaction_id,
                Amf0Value::Null,
                vec![name, "live".into()],
            ),
            ClientMode::Play => Command::new(
                "play",
                transaction_id,
                Amf0Value::Null,
                vec![name, (-2.0).into()],
            ),
        };
        self.core.command(stream_id, command);
        if self.config.mode == ClientMode::Play {
            self.core
                .send(&Message::UserControl(UserControl::SetBufferLength {
                    stream_id,
                    millis: self.config.buffer_length_ms,
                }));
        }
        self.state = ClientState::Starting;
    }

    pub(super) fn on_status(&mut self, command: &Command) {
        let (level, code, description) = status_info(command);
        let playing_side = matches!(self.state, ClientState::Starting | ClientState::Playing)
            && self.config.mode == ClientMode::Play;
        match code.as_str() {
            "NetStream.Publish.Start"
                if self.state == ClientState::Starting
                    && self.config.mode == ClientMode::Publish =>
            {
                self.state = ClientState::Publishing;
                self.events.push_back(ClientEvent::Publishing);
                return;
            }
            "NetStream.Play.Start" if playing_side => {
                self.ended = false;
                if self.state == ClientState::Starting {
                    self.state = ClientState::Playing;
                    self.events.push_back(ClientEvent::Playing);
                    return;
                }
            }
            "NetStream.Play.UnpublishNotify"
            | "NetStream.Play.Stop"
            | "NetStream.Play.Complete"
                if playing_side =>
            {
                self.stream_ended(&code);
                return;
            }
            "NetStream.Play.PublishNotify" => self.ended = false,
            _ => {}
        }
        // An error status refuses whatever step is under way (some servers refuse connect or
        // createStream with an onStatus instead of `_error`).
        let stage = match (self.state, self.config.mode) {
            (ClientState::Connecting, _) => Some(Stage::Connect),
            (ClientState::CreatingStream, _) => Some(Stage::CreateStream),
            (ClientState::Starting | ClientState::Publishing, ClientMode::Publish) => {
                Some(Stage::Publish)
            }
            (ClientState::Starting | ClientState::Playing, ClientMode::Play) => Some(Stage::Play),
            _ => None,
        };
        if let (Some(stage), "error") = (stage, level.as_str()) {
            self.reject(stage, code, description);
            return;
        }
        self.events.push_back(ClientEvent::Status {
            level,
            code,
            description,
        });
    }

    pub(super) fn on_media(&mut self, kind: MediaKind, timestamp: u32, payload: Bytes) {
        if self.config.mode != ClientMode::Play
            || !matches!(self.state, ClientState::Starting | ClientState::Playing)
        {
            return;
        }
        let payload = if kind == MediaKind::Data {
            match data_name(&payload) {
                Some("|RtmpSampleAccess" | "onStatus") => return,
                Some("onPlayStatus") => {
                    let values = baton_amf::decode_all(&payload).unwrap_or_default();
                    let code = values.get(1).and_then(|v| v.get("code"));
                    if let Some("NetStream.Play.Complete") = code.and_then(Amf0Value::as_str) {
                        self.stream_ended("NetStream.Play.Complete");
                    }
                    return;
                }
                _ => strip_set_data_frame(payload),
            }
        } else {
            payload
        };
        self.events.push_back(ClientEvent::Media {
            kind,
            timestamp,
            payload,
        });
    }

    pub(super) fn stream_ended(&mut self, code: &str) {
        if !self.ended {
            self.ended = true;
            self.events
                .push_back(ClientEvent::StreamEnded { code: code.into() });
        }
    }

    pub(super) fn reject(&mut self, stage: Stage, code: String, description: String) {
        self.state = ClientState::Rejected;
        self.events.push_back(ClientEvent::Rejected {
            stage,
            code,
            description,
        });
    }

    pub(super) fn transaction(&mut self) -> f64 {
        let t = self.next_transaction;
        self.next_transaction += 1.0;
        t
    }

    /// Sends a NetConnection command and remembers its transaction.
    pub(super) fn call(&mut self, name: &str, args: Vec<Amf0Value>, call: Call) {
        let transaction_id = self.transaction();
        if self.calls.len() >= MAX_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back((transaction_id, call));
        self.core
            .command(0, Command::new(name, transaction_id, Amf0Value::Null, args));
    }

    /// Sends a NetConnection command whose answer does not matter.
    pub(super) fn call_and_forget(&mut self, name: &str, args: Vec<Amf0Value>) {
        let transaction_id = self.transaction();
        self.core
            .command(0, Command::new(name, transaction_id, Amf0Value::Null, args));
    }

    pub(super) fn take_call(&mut self, transaction_id: f64) -> Option<Call> {
        let index = self.calls.iter().position(|&(t, _)| t == transaction_id)?;
        self.calls.remove(index).map(|(_, call)| call)
    }
}

/// `(level, code, description)` of an `onStatus`/`_error` information object (the first
/// argument, or the command object for servers that put it there).
fn status_info(command: &Command) -> (String, String, String) {
    let info = command
        .arg(0)
        .filter(|v| v.properties().is_some())
        .unwrap_or(&command.command_object);
    let text = |key| {
        info.get(key)
            .and_then(Amf0Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (text("level"), text("code"), text("description"))
}
