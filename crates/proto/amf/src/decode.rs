//! AMF0 decoding (AMF0 spec section 2).

use crate::{AmfError, MAX_DEPTH, amf3, value::Amf0Value};

/// Decodes one AMF0 value from the start of `input`, returning it and the number of bytes it
/// used. Reference markers may only point at complex values inside this same value.
pub fn decode(input: &[u8]) -> Result<(Amf0Value, usize), AmfError> {
    let mut decoder = Decoder::new(input);
    let value = decoder.value()?;
    Ok((value, decoder.cur.pos))
}

/// Decodes consecutive AMF0 values until `input` is exhausted (the body of an RTMP command or
/// data message). The reference table spans the whole input, as it spans a whole message.
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, AmfError> {
    let mut decoder = Decoder::new(input);
    let mut values = Vec::new();
    while decoder.cur.remaining() > 0 {
        values.push(decoder.value()?);
    }
    Ok(values)
}

/// Byte cursor plus the limits shared by the AMF0 and AMF3 decoders.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    pub input: &'a [u8],
    pub pos: usize,
    /// Current nesting of objects and arrays.
    pub depth: usize,
    /// Bytes that resolving references may still re-read (starts at the input length).
    pub budget: usize,
}

impl<'a> Cursor<'a> {
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], AmfError> {
        if n > self.remaining() {
            return Err(self.truncated(what));
        }
        let slice = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, AmfError> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, AmfError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, AmfError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn f64(&mut self, what: &'static str) -> Result<f64, AmfError> {
        let b = self.bytes(8, what)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(b);
        Ok(f64::from_be_bytes(raw))
    }

    /// Reads `len` bytes as lossy UTF-8; the length is checked against the input before any
    /// allocation.
    pub fn string(&mut self, len: usize, what: &'static str) -> Result<String, AmfError> {
        Ok(String::from_utf8_lossy(self.bytes(len, what)?).into_owned())
    }

    pub fn truncated(&self, what: &'static str) -> AmfError {
        AmfError::Truncated {
            what,
            offset: self.pos,
        }
    }

    /// Enters one level of object/array nesting.
    pub fn enter(&mut self) -> Result<(), AmfError> {
        if self.depth >= MAX_DEPTH {
            return Err(AmfError::TooDeep {
                limit: MAX_DEPTH,
                offset: self.pos,
            });
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Charges `n` re-read bytes to the reference budget.
    pub fn charge(&mut self, n: usize) -> Result<(), AmfError> {
        self.budget = self
            .budget
            .checked_sub(n)
            .ok_or(AmfError::ReferenceBudget { offset: self.pos })?;
        Ok(())
    }
}

/// The table of complex values that AMF0 references (marker 0x07) index, kept as byte spans so
/// that decoding an object does not also clone it: a reference re-reads the span instead.
#[derive(Debug, Default)]
pub(crate) struct SpanTable {
    /// `(start, end)`; `end` is `None` while the value is still being decoded.
    spans: Vec<(usize, Option<usize>)>,
    /// Above zero while re-reading a referenced span: its nested values are already numbered.
    replaying: u32,
}

impl SpanTable {
    /// Numbers a complex value starting at `start`; returns its slot unless replaying.
    pub fn open(&mut self, start: usize) -> Option<usize> {
        if self.replaying > 0 {
            return None;
        }
        self.spans.push((start, None));
        Some(self.spans.len() - 1)
    }

    /// True while re-reading a referenced span.
    pub fn replaying(&self) -> bool {
        self.replaying > 0
    }

    pub fn close(&mut self, slot: Option<usize>, end: usize) {
        if let Some(slot) = slot {
            self.spans[slot].1 = Some(end);
        }
    }

    /// The span of a finished value, checking the index and for cycles.
    pub fn span(&self, index: u32, offset: usize) -> Result<(usize, usize), AmfError> {
        match self.spans.get(index as usize) {
            None => Err(AmfError::BadReference {
                index,
                count: self.spans.len(),
                offset,
            }),
            Some((_, None)) => Err(AmfError::CyclicReference { index, offset }),
            Some(&(start, Some(end))) => Ok((start, end)),
        }
    }

    /// Starts re-reading a referenced span, charging its length to the budget.
    pub fn begin_replay(
        &mut self,
        cur: &mut Cursor<'_>,
        (start, end): (usize, usize),
    ) -> Result<usize, AmfError> {
        cur.charge(end - start)?;
        self.replaying += 1;
        let resume = cur.pos;
        cur.pos = start;
        Ok(resume)
    }

    pub fn end_replay(&mut self, cur: &mut Cursor<'_>, resume: usize) {
        self.replaying -= 1;
        cur.pos = resume;
    }
}

/// AMF0 markers (AMF0 spec section 2.1).
mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const MOVIECLIP: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0a;
    pub const DATE: u8 = 0x0b;
    pub const LONG_STRING: u8 = 0x0c;
    pub const UNSUPPORTED: u8 = 0x0d;
    pub const RECORDSET: u8 = 0x0e;
    pub const XML_DOCUMENT: u8 = 0x0f;
    pub const TYPED_OBJECT: u8 = 0x10;
    pub const AVMPLUS_OBJECT: u8 = 0x11;
}
pub(crate) use marker::*;

struct Decoder<'a> {
    cur: Cursor<'a>,
    refs: SpanTable,
}

impl<'a> Decoder<'a> {
    fn new(input: &'a [u8]) -> Self {
        Decoder {
            cur: Cursor {
                input,
                pos: 0,
                depth: 0,
                budget: input.len(),
            },
            refs: SpanTable::default(),
        }
    }

    fn value(&mut self) -> Result<Amf0Value, AmfError> {
        let offset = self.cur.pos;
        let marker = self.cur.u8("type marker")?;
        Ok(match marker {
            NUMBER => Amf0Value::Number(self.cur.f64("number")?),
            BOOLEAN => Amf0Value::Boolean(self.cur.u8("boolean")? != 0),
            STRING => {
                let len = self.cur.u16("string length")?;
                Amf0Value::String(self.cur.string(len.into(), "string")?)
            }
            NULL => Amf0Value::Null,
            // "Unsupported" (2.14) means "no value that can be serialized": the nearest value.
            UNDEFINED | UNSUPPORTED => Amf0Value::Undefined,
            MOVIECLIP | RECORDSET => return Err(AmfError::ReservedMarker { marker, offset }),
            OBJECT_END => return Err(AmfError::UnexpectedObjectEnd { offset }),
            DATE => {
                let millis = self.cur.f64("date")?;
                let time_zone = self.cur.u16("date time zone")? as i16;
                Amf0Value::Date { millis, time_zone }
            }
            LONG_STRING => {
                let len = self.cur.u32("long string length")?;
                Amf0Value::LongString(self.cur.string(len as usize, "long string")?)
            }
            XML_DOCUMENT => {
                let len = self.cur.u32("XML document length")?;
                Amf0Value::XmlDocument(self.cur.string(len as usize, "XML document")?)
            }
            REFERENCE => {
                let index = self.cur.u16("reference index")?;
                let span = self.refs.span(index.into(), offset)?;
                let resume = self.refs.begin_replay(&mut self.cur, span)?;
                let value = self.value();
                self.refs.end_replay(&mut self.cur, resume);
                value?
            }
            OBJECT | ECMA_ARRAY | STRICT_ARRAY | TYPED_OBJECT => self.complex(marker, offset)?,
            AVMPLUS_OBJECT => amf3::decode_value(&mut self.cur)?,
            _ => return Err(AmfError::UnknownMarker { marker, offset }),
        })
    }

    /// Objects and arrays: numbered in the reference table when they start (AMF0 spec 2.9).
    fn complex(&mut self, marker: u8, offset: usize) -> Result<Amf0Value, AmfError> {
        let slot = self.refs.open(offset);
        self.cur.enter()?;
        let value = match marker {
            OBJECT => Amf0Value::Object(self.properties(None)?),
            ECMA_ARRAY => {
                let count = self.cur.u32("ECMA array count")?;
                Amf0Value::EcmaArray(self.properties(Some(count))?)
            }
            TYPED_OBJECT => {
                let len = self.cur.u16("class name length")?;
                let class_name = self.cur.string(len.into(), "class name")?;
                let properties = self.properties(None)?;
                Amf0Value::TypedObject {
                    class_name,
                    properties,
                }
            }
            _ => {
                let count = self.cur.u32("strict array count")? as usize;
                // Every element takes at least its marker byte.
                if count > self.cur.remaining() {
                    return Err(self.cur.truncated("strict array"));
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value()?);
                }
                Amf0Value::StrictArray(items)
            }
        };
        self.cur.leave();
        self.refs.close(slot, self.cur.pos);
        Ok(value)
    }

    /// Reads `name, value` pairs up to the object-end sequence (an empty name followed by
    /// marker 0x09). An ECMA array that ends with the input after at least its announced count
    /// of entries is accepted without the end sequence, as some encoders omit it.
    fn properties(
        &mut self,
        ecma_count: Option<u32>,
    ) -> Result<Vec<(String, Amf0Value)>, AmfError> {
        let mut props = Vec::new();
        loop {
            if let Some(count) = ecma_count
                && self.cur.remaining() == 0
                && props.len() >= count as usize
            {
                return Ok(props);
            }
            let len = self.cur.u16("property name length")?;
            if len == 0 && self.cur.input.get(self.cur.pos) == Some(&OBJECT_END) {
                self.cur.pos += 1;
                return Ok(props);
            }
            let key = self.cur.string(len.into(), "property name")?;
            let value = self.value()?;
            props.push((key, value));
        }
    }
}
