#!/bin/sh
# Generates Baton's default slates: what every destination of a relay gets while no source
# delivers (see crates/relay/src/slate.rs). Run by hand when the look or the sizes change;
# the outputs are committed and embedded in the binary (include_bytes!), so neither a build
# nor a test nor a running relay needs ffmpeg.
#
# Each slate is an FLV file: H.264 High, yuv420p, 30 fps, a plain dark card with "Stream will
# resume shortly", one keyframe every 1.6 s (48 frames), and AAC-LC 48 kHz stereo silence.
# 3.2 s is 96 video frames and exactly 150 AAC frames of 1024 samples: the loop is
# keyframe-aligned and both tracks end together, so looping it never drifts one against the
# other. A still picture costs almost nothing after the keyframe: each file is tens of KB.
#
# Usage: assets/slate/generate.sh   (from anywhere; needs ffmpeg with libx264 and drawtext)
set -eu
cd "$(dirname "$0")"
FONT=${FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
for size in 640x360 1280x720 1920x1080; do
    height=${size#*x}
    fontsize=$((height / 15))
    ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i "color=c=0x202830:s=${size}:r=30:d=3.2" \
        -f lavfi -i "anullsrc=r=48000:cl=stereo" \
        -vf "drawtext=fontfile=${FONT}:text='Stream will resume shortly':fontcolor=white:fontsize=${fontsize}:x=(w-text_w)/2:y=(h-text_h)/2" \
        -c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryslow -tune stillimage \
        -g 48 -keyint_min 48 -sc_threshold 0 -bf 0 -crf 30 \
        -c:a aac -b:a 32k -ar 48000 -ac 2 \
        -t 3.2 -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
        -f flv "slate-${size}.flv"
done
ls -l slate-*.flv
