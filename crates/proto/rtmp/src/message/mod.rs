//! RTMP messages (RTMP spec 1.0 sections 5.4, 6.2 and 7.1): protocol control messages, user
//! control events, audio/video/data, commands and aggregates, decoded from a [`RawMessage`]
//! and written through a [`ChunkEncoder`] on the conventional chunk streams ([`csid`]).

mod aggregate;

pub use aggregate::{AggregateIter, split_aggregate};

use baton_amf::{Amf0Value, AmfError};
use bytes::{Bytes, BytesMut};

use crate::chunk::{ChunkEncoder, RawMessage};

/// Message type ids (RTMP spec 5.4, 7.1).
pub mod type_id {
    /// Set Chunk Size (5.4.1).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (5.4.2).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (5.4.3).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message (6.2).
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (5.4.4).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (5.4.5).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio (7.1.4).
    pub const AUDIO: u8 = 8;
    /// Video (7.1.5).
    pub const VIDEO: u8 = 9;
    /// Data, AMF3 (7.1.2).
    pub const DATA_AMF3: u8 = 15;
    /// Shared object, AMF3 (7.1.3).
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command, AMF3 (7.1.1).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data, AMF0 (7.1.2).
    pub const DATA_AMF0: u8 = 18;
    /// Shared object, AMF0 (7.1.3).
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command, AMF0 (7.1.1).
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate (7.1.6).
    pub const AGGREGATE: u8 = 22;
}

/// Conventional chunk stream ids, as ffmpeg and nginx-rtmp use them.
pub mod csid {
    /// Protocol control and user control messages (required by RTMP spec 5.4).
    pub const PROTOCOL_CONTROL: u32 = 2;
    /// Commands.
    pub const COMMAND: u32 = 3;
    /// Audio messages.
    pub const AUDIO: u32 = 4;
    /// Video and aggregate messages.
    pub const VIDEO: u32 = 5;
    /// Data messages.
    pub const DATA: u32 = 6;
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// 5.4.1: the sender's new chunk size.
    SetChunkSize(u32),
    /// 5.4.2: discard the partial message on a chunk stream.
    Abort { csid: u32 },
    /// 5.4.3: bytes received so far (wrapping).
    Acknowledgement(u32),
    /// 6.2 / 7.1.7.
    UserControl(UserControl),
    /// 5.4.4: the sender wants an acknowledgement every this many bytes.
    WindowAckSize(u32),
    /// 5.4.5: limit type 0 hard, 1 soft, 2 dynamic.
    SetPeerBandwidth { size: u32, limit: u8 },
    /// 7.1.4: an FLV audio tag body.
    Audio(Bytes),
    /// 7.1.5: an FLV video tag body.
    Video(Bytes),
    /// AMF0 data (type 18); type 15 (AMF3 data) with its leading format byte removed.
    Data(Bytes),
    /// Type 20 (AMF0), or type 17 (AMF3 command: a 0 byte, then AMF0 values that may switch
    /// to AMF3).
    Command(Command),
    /// Type 22: FLV-tag-like sub-messages, see [`split_aggregate`].
    Aggregate(Bytes),
    /// Shared objects and unassigned types, passed on untouched.
    Unknown { type_id: u8, payload: Bytes },
}

/// User control events (RTMP spec 7.1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControl {
    /// Event 0: the stream became functional.
    StreamBegin(u32),
    /// Event 1: playback of the stream is over.
    StreamEof(u32),
    /// Event 2: no more data on the stream for now.
    StreamDry(u32),
    /// Event 3: the client's buffer length for a stream.
    SetBufferLength { stream_id: u32, millis: u32 },
    /// Event 4: the stream is a recorded one.
    StreamIsRecorded(u32),
    /// Event 6: answer with a Ping Response carrying the same value.
    PingRequest(u32),
    /// Event 7: the answer to a Ping Request.
    PingResponse(u32),
    /// Other events (SWF verification, buffer empty/ready...), kept raw.
    Unknown { event: u16, data: Bytes },
}

/// A command message (RTMP spec 7.1.1, 7.2): name, transaction id, command object, arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Procedure name (`connect`, `_result`, `onStatus`...).
    pub name: String,
    /// Matches a `_result`/`_error` to its call; 0 when no answer is expected.
    pub transaction_id: f64,
    /// Command object (often null).
    pub command_object: Amf0Value,
    /// Further arguments.
    pub args: Vec<Amf0Value>,
}

/// Errors decoding a message body; each names the message type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// A fixed-size body shorter than its fields.
    #[error("message type {type_id} payload of {len} bytes is too short for {what}")]
    Truncated {
        type_id: u8,
        what: &'static str,
        len: usize,
    },
    /// A command body that is not AMF at all.
    #[error("bad AMF in message type {type_id}: {source}")]
    Amf { type_id: u8, source: AmfError },
    /// A command whose first value is not a string.
    #[error("command message does not start with a name string")]
    CommandName,
    /// A malformed aggregate.
    #[error("aggregate sub-message at byte {offset}: {reason}")]
    Aggregate { offset: usize, reason: &'static str },
}

impl Message {
    /// Decodes the body of a message according to its type.
    pub fn decode(raw: &RawMessage) -> Result<Message, MessageError> {
        let p = &raw.payload;
        let t = raw.type_id;
        Ok(match t {
            type_id::SET_CHUNK_SIZE => Message::SetChunkSize(be32(p, t, "Set Chunk Size")?),
            type_id::ABORT => Message::Abort {
                csid: be32(p, t, "Abort Message")?,
            },
            type_id::ACKNOWLEDGEMENT => Message::Acknowledgement(be32(p, t, "Acknowledgement")?),
            type_id::USER_CONTROL => Message::UserControl(UserControl::decode(p)?),
            type_id::WINDOW_ACK_SIZE => Message::WindowAckSize(be32(p, t, "Window Ack Size")?),
            type_id::SET_PEER_BANDWIDTH => Message::SetPeerBandwidth {
                size: be32(p, t, "Set Peer Bandwidth")?,
                // Some servers omit the limit type; "dynamic" is the harmless reading.
                limit: p.get(4).copied().unwrap_or(2),
            },
            type_id::AUDIO => Message::Audio(p.clone()),
            type_id::VIDEO => Message::Video(p.clone()),
            type_id::DATA_AMF0 => Message::Data(p.clone()),
            type_id::DATA_AMF3 => match p.first() {
                Some(0) => Message::Data(p.slice(1..)),
                _ => Message::Data(p.clone()),
            },
            type_id::COMMAND_AMF0 => Message::Command(Command::decode(p, t)?),
            type_id::COMMAND_AMF3 => {
                let body = p.get(1..).ok_or(MessageError::Truncated {
                    type_id: t,
                    what: "AMF3 command",
                    len: 0,
                })?;
                Message::Command(Command::decode(body, t)?)
            }
            type_id::AGGREGATE => Message::Aggregate(p.clone()),
            _ => Message::Unknown {
                type_id: t,
                payload: p.clone(),
            },
        })
    }

    /// Like [`Message::decode`], taking the message by value: audio, video, AMF0 data and
    /// aggregate payloads move into the result instead of being shared with `raw`.
    pub fn from_raw(raw: RawMessage) -> Result<Message, MessageError> {
        Ok(match raw.type_id {
            type_id::AUDIO => Message::Audio(raw.payload),
            type_id::VIDEO => Message::Video(raw.payload),
            type_id::DATA_AMF0 => Message::Data(raw.payload),
            type_id::AGGREGATE => Message::Aggregate(raw.payload),
            _ => return Message::decode(&raw),
        })
    }

    /// The message type id this message is sent with (commands as AMF0, type 20).
    pub fn type_id(&self) -> u8 {
        match self {
            Message::SetChunkSize(_) => type_id::SET_CHUNK_SIZE,
            Message::Abort { .. } => type_id::ABORT,
            Message::Acknowledgement(_) => type_id::ACKNOWLEDGEMENT,
            Message::UserControl(_) => type_id::USER_CONTROL,
            Message::WindowAckSize(_) => type_id::WINDOW_ACK_SIZE,
            Message::SetPeerBandwidth { .. } => type_id::SET_PEER_BANDWIDTH,
            Message::Audio(_) => type_id::AUDIO,
            Message::Video(_) => type_id::VIDEO,
            Message::Data(_) => type_id::DATA_AMF0,
            Message::Command(_) => type_id::COMMAND_AMF0,
            Message::Aggregate(_) => type_id::AGGREGATE,
            Message::Unknown { type_id, .. } => *type_id,
        }
    }

    /// The conventional chunk stream for this message ([`csid`]).
    pub fn csid(&self) -> u32 {
        match self {
            Message::Audio(_) => csid::AUDIO,
            Message::Video(_) | Message::Aggregate(_) => csid::VIDEO,
            Message::Data(_) => csid::DATA,
            Message::Command(_) | Message::Unknown { .. } => csid::COMMAND,
            _ => csid::PROTOCOL_CONTROL,
        }
    }

    /// Chunks this message into `out` on its conventional chunk stream. Protocol control and
    /// user control messages belong on message stream 0 with timestamp 0 (5.4).
    pub fn write(
        &self,
        timestamp: u32,
        stream_id: u32,
        encoder: &mut ChunkEncoder,
        out: &mut BytesMut,
    ) {
        let (csid, t) = (self.csid(), self.type_id());
        let mut small = [0u8; 10];
        let body: &[u8] = match self {
            Message::SetChunkSize(v)
            | Message::Abort { csid: v }
            | Message::Acknowledgement(v)
            | Message::WindowAckSize(v) => {
                small[..4].copy_from_slice(&v.to_be_bytes());
                &small[..4]
            }
            Message::SetPeerBandwidth { size, limit } => {
                small[..4].copy_from_slice(&size.to_be_bytes());
                small[4] = *limit;
                &small[..5]
            }
            Message::UserControl(UserControl::Unknown { event, data }) => {
                let mut body = Vec::with_capacity(2 + data.len());
                body.extend_from_slice(&event.to_be_bytes());
                body.extend_from_slice(data);
                encoder.encode(csid, timestamp, t, stream_id, &body, out);
                return;
            }
            Message::UserControl(uc) => {
                let n = uc.encode_fixed(&mut small);
                &small[..n]
            }
            Message::Audio(b) | Message::Video(b) | Message::Data(b) | Message::Aggregate(b) => b,
            Message::Unknown { payload, .. } => payload,
            Message::Command(c) => {
                let mut body = Vec::with_capacity(128);
                c.encode(&mut body);
                encoder.encode(csid, timestamp, t, stream_id, &body, out);
                return;
            }
        };
        encoder.encode(csid, timestamp, t, stream_id, body, out);
    }
}

impl UserControl {
    /// Event type numbers (RTMP spec 7.1.7).
    fn event(&self) -> u16 {
        match self {
            UserControl::StreamBegin(_) => 0,
            UserControl::StreamEof(_) => 1,
            UserControl::StreamDry(_) => 2,
            UserControl::SetBufferLength { .. } => 3,
            UserControl::StreamIsRecorded(_) => 4,
            UserControl::PingRequest(_) => 6,
            UserControl::PingResponse(_) => 7,
            UserControl::Unknown { event, .. } => *event,
        }
    }

    fn decode(p: &Bytes) -> Result<UserControl, MessageError> {
        let t = type_id::USER_CONTROL;
        let event = p.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(
            MessageError::Truncated {
                type_id: t,
                what: "user control event type",
                len: p.len(),
            },
        )?;
        let data = &p[2..];
        let arg = |what| be32(data, t, what);
        Ok(match event {
            0 => UserControl::StreamBegin(arg("Stream Begin")?),
            1 => UserControl::StreamEof(arg("Stream EOF")?),
            2 => UserControl::StreamDry(arg("Stream Dry")?),
            3 => UserControl::SetBufferLength {
                stream_id: arg("Set Buffer Length")?,
                millis: be32(data.get(4..).unwrap_or(&[]), t, "Set Buffer Length")?,
            },
            4 => UserControl::StreamIsRecorded(arg("Stream Is Recorded")?),
            6 => UserControl::PingRequest(arg("Ping Request")?),
            7 => UserControl::PingResponse(arg("Ping Response")?),
            event => UserControl::Unknown {
                event,
                data: p.slice(2..),
            },
        })
    }

    /// Writes the event into `buf` (all known events fit 10 bytes); returns the length.
    fn encode_fixed(&self, buf: &mut [u8; 10]) -> usize {
        buf[..2].copy_from_slice(&self.event().to_be_bytes());
        match self {
            UserControl::StreamBegin(v)
            | UserControl::StreamEof(v)
            | UserControl::StreamDry(v)
            | UserControl::StreamIsRecorded(v)
            | UserControl::PingRequest(v)
            | UserControl::PingResponse(v) => {
                buf[2..6].copy_from_slice(&v.to_be_bytes());
                6
            }
            UserControl::SetBufferLength { stream_id, millis } => {
                buf[2..6].copy_from_slice(&stream_id.to_be_bytes());
                buf[6..10].copy_from_slice(&millis.to_be_bytes());
                10
            }
            UserControl::Unknown { .. } => 2,
        }
    }
}

impl Command {
    /// A command with the given parts.
    pub fn new(
        name: &str,
        transaction_id: f64,
        command_object: Amf0Value,
        args: Vec<Amf0Value>,
    ) -> Command {
        Command {
            name: name.to_owned(),
            transaction_id,
            command_object,
            args,
        }
    }

    /// Decodes the AMF0 values of a command body. Only the leading name string is required:
    /// a missing transaction id reads as 0 and a missing command object as null. Values after
    /// the first that fails to decode are ignored (with the earlier ones kept), as players do
    /// with trailing junk.
    pub fn decode(body: &[u8], type_id: u8) -> Result<Command, MessageError> {
        let values = match baton_amf::decode_all(body) {
            Ok(values) => values,
            Err(source) => {
                let mut values = Vec::new();
                let mut rest = body;
                while let Ok((value, used)) = baton_amf::decode(rest) {
                    values.push(value);
                    rest = &rest[used..];
                }
                if values.is_empty() {
                    return Err(MessageError::Amf { type_id, source });
                }
                values
            }
        };
        let mut values = values.into_iter();
        let name = match values.next() {
            Some(Amf0Value::String(s) | Amf0Value::LongString(s)) => s,
            _ => return Err(MessageError::CommandName),
        };
        let transaction_id = values.next().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let command_object = values.next().unwrap_or(Amf0Value::Null);
        Ok(Command {
            name,
            transaction_id,
            command_object,
            args: values.collect(),
        })
    }

    /// Appends the AMF0 body of this command.
    pub fn encode(&self, out: &mut Vec<u8>) {
        baton_amf::encode(&Amf0Value::String(self.name.clone()), out);
        baton_amf::encode(&Amf0Value::Number(self.transaction_id), out);
        baton_amf::encode(&self.command_object, out);
        for arg in &self.args {
            baton_amf::encode(arg, out);
        }
    }

    /// The first argument, commonly the information object of `_result`/`onStatus` or the
    /// stream name of `publish`/`play`.
    pub fn arg(&self, index: usize) -> Option<&Amf0Value> {
        self.args.get(index)
    }
}

fn be32(p: &[u8], type_id: u8, what: &'static str) -> Result<u32, MessageError> {
    p.get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(MessageError::Truncated {
            type_id,
            what,
            len: p.len(),
        })
}

#[cfg(test)]
mod tests;
