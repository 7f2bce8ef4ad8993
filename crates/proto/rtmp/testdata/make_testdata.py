#!/usr/bin/env python3
"""Regenerates the chunk-stream fixtures in this directory.

Written independently of the Rust code (from the RTMP 1.0 and AMF0 specifications and the
field lists of ffmpeg's libavformat/rtmpproto.c and OBS/librtmp), so the tests that read these
files check the decoder against bytes it did not produce.
"""
import struct


def amf_str(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_num(n):
    return b"\x00" + struct.pack(">d", n)


def amf_bool(v):
    return b"\x01" + bytes([1 if v else 0])


def amf_props(pairs):
    out = b""
    for k, v in pairs:
        kb = k.encode()
        out += struct.pack(">H", len(kb)) + kb + v
    return out + b"\x00\x00\x09"


def amf_obj(pairs):
    return b"\x03" + amf_props(pairs)


def amf_ecma(pairs):
    return b"\x08" + struct.pack(">I", len(pairs)) + amf_props(pairs)


def chunks(csid, ts, type_id, stream_id, body, chunk_size):
    """fmt 0 first chunk, fmt 3 continuations (csid < 64)."""
    out = bytes([csid])
    out += struct.pack(">I", ts)[1:] + struct.pack(">I", len(body))[1:]
    out += bytes([type_id]) + struct.pack("<I", stream_id)
    out += body[:chunk_size]
    rest = body[chunk_size:]
    while rest:
        out += bytes([0xC0 | csid]) + rest[:chunk_size]
        rest = rest[chunk_size:]
    return out


# ffmpeg `-f flv rtmp://localhost/live/stream`: gen_connect() for output (no fpad etc.),
# tcUrl joined with the default port, as ff_url_join does.
connect = (
    amf_str("connect")
    + amf_num(1)
    + amf_obj([
        ("app", amf_str("live")),
        ("type", amf_str("nonprivate")),
        ("flashVer", amf_str("FMLE/3.0 (compatible; Lavf61.7.100)")),
        ("tcUrl", amf_str("rtmp://localhost:1935/live")),
    ])
)
open("ffmpeg_publish_connect.bin", "wb").write(chunks(3, 0, 20, 0, connect, 128))

# OBS metadata: @setDataFrame, onMetaData, ECMA array (chunk size 4096, stream 1).
meta = (
    amf_str("@setDataFrame")
    + amf_str("onMetaData")
    + amf_ecma([
        ("duration", amf_num(0)),
        ("width", amf_num(1280)),
        ("height", amf_num(720)),
        ("videodatarate", amf_num(2500)),
        ("framerate", amf_num(30)),
        ("videocodecid", amf_num(7)),
        ("audiodatarate", amf_num(160)),
        ("audiosamplerate", amf_num(48000)),
        ("audiosamplesize", amf_num(16)),
        ("audiochannels", amf_num(2)),
        ("stereo", amf_bool(True)),
        ("audiocodecid", amf_num(10)),
        ("encoder", amf_str("obs-output module (libobs version 30.0.0)")),
        ("filesize", amf_num(0)),
    ])
)
open("obs_setdataframe.bin", "wb").write(chunks(4, 0, 18, 1, meta, 4096))


# An aggregate (type 22) as FMS sends to players: two FLV-tag-like sub-messages with
# timestamps 1000 and 1040 (the second using the extended byte layout), each followed by
# its back pointer, in a message stamped 5000 on stream 1.
def sub(type_id, ts, body):
    head = bytes([type_id]) + struct.pack(">I", len(body))[1:]
    head += struct.pack(">I", ts & 0xFFFFFF)[1:] + bytes([ts >> 24]) + b"\x00\x00\x00"
    return head + body + struct.pack(">I", 11 + len(body))


agg = sub(8, 1000, b"\xaf\x01\x21\x10") + sub(9, 1040, b"\x27\x01\x00\x00\x00\xaa\xbb")
open("fms_aggregate.bin", "wb").write(chunks(5, 5000, 22, 1, agg, 128))
