#!/usr/bin/python3
"""A camera for the interop suite: GStreamer's RTSP server (gst-rtsp-server, through its
Python bindings) serving a live test pattern as H.264 (x264, no B-frames, a keyframe a
second) with AAC audio (libav's encoder) at rtsp://127.0.0.1:PORT/PATH, over TCP-interleaved
and UDP alike, optionally behind digest authentication.

Run with Debian's /usr/bin/python3: python3-gi, python3-gst-1.0 and
gir1.2-gst-rtsp-server-1.0 are system packages, not in the suite's venv (interop/run
installs them). Serves until SIGTERM; prints `ready` on stdout once it listens.

    rtsp_camera.py --port 8554 [--path /cam] [--user U --password P]
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,width=320,height=240,framerate=25/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=400"
    " ! rtph264pay name=pay0 pt=96 config-interval=-1"
    " audiotestsrc is-live=true wave=sine freq=440"
    " ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2"
    " ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    # One encoder for every client, as a camera has.
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)

    if args.user:
        # Digest only (RFC 2617): no Basic fallback, so a client that cannot do digest fails.
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )[0]
        )

    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
