//! A hand-driven client: whatever bytes a test wants, into a real [`ServerSession`].

use baton_amf::Amf0Value;
use bytes::BytesMut;

use super::*;
use crate::chunk::ChunkEncoder;
use crate::message::{Command, Message};

pub(super) struct RawClient {
    pub server: ServerSession,
    pub encoder: ChunkEncoder,
    pub tap: Tap,
    pub events: Vec<ServerEvent>,
}

impl RawClient {
    /// A server session past a plain handshake.
    pub fn new(config: ServerConfig) -> RawClient {
        let mut server = ServerSession::new(config, 5, epoch());
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
        server.handle_input(&c0c1).unwrap();
        server.handle_input(&[0u8; HANDSHAKE_SIZE]).unwrap();
        let mut client = RawClient {
            server,
            encoder: ChunkEncoder::new(),
            tap: Tap::new(),
            events: Vec::new(),
        };
        client.read();
        client
    }

    /// Connects and accepts.
    pub fn connected(config: ServerConfig) -> RawClient {
        let mut c = RawClient::new(config);
        c.command(
            0,
            "connect",
            1.0,
            Amf0Value::object([("app", "live".into())]),
            vec![],
        )
        .unwrap();
        let Some(ServerEvent::ConnectRequested { request_id, .. }) = c.events.pop() else {
            panic!("connect requested");
        };
        c.server.accept_connect(request_id).unwrap();
        c.read();
        c
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let result = self.server.handle_input(bytes);
        while let Some(e) = self.server.poll_event() {
            self.events.push(e);
        }
        result
    }

    pub fn send(
        &mut self,
        message: &Message,
        timestamp: u32,
        stream_id: u32,
    ) -> Result<(), SessionError> {
        let mut out = BytesMut::new();
        message.write(timestamp, stream_id, &mut self.encoder, &mut out);
        self.bytes(&out)
    }

    pub fn command(
        &mut self,
        stream_id: u32,
        name: &str,
        transaction_id: f64,
        object: Amf0Value,
        args: Vec<Amf0Value>,
    ) -> Result<(), SessionError> {
        let command = Command::new(name, transaction_id, object, args);
        self.send(&Message::Command(command), 0, stream_id)
    }

    /// Decodes everything the server wrote since the last call.
    pub fn read(&mut self) -> Vec<Message> {
        let before = self.tap.messages.len();
        while let Some(bytes) = self.server.take_output() {
            self.tap.feed(&bytes);
        }
        self.tap.messages[before..]
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Commands (name, first argument) the server wrote since the last read.
    pub fn read_commands(&mut self) -> Vec<(String, Command)> {
        self.read()
            .into_iter()
            .filter_map(|m| match m {
                Message::Command(c) => Some((c.name.clone(), c)),
                _ => None,
            })
            .collect()
    }
}
