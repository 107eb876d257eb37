#!/usr/bin/env bash
# Builds pjsua2 (pjproject's Python binding) from source for a Raspberry Pi (aarch64/armv7),
# where the pjsua2-python wheel does not exist (reference/pjsua2.md, "The package").
#
#   tools/build-pjsua2.sh VENV [PJPROJECT_TARBALL_OR_DIR]
#
# Needs: build-essential swig python3-dev libasound2-dev libssl-dev (installed below).
# About 4 minutes on 2 x86 cores; expect 20-30 minutes on a Pi 4. Not exercised in CI (CI is
# x86-64 and uses the wheel); the steps are the ones measured in reference/pjsua2.md.
set -euo pipefail
venv=${1:?usage: tools/build-pjsua2.sh VENV [pjproject-2.15.1.tar.gz or source dir]}
src=${2:-}
version=2.15.1

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get install -y --no-install-recommends build-essential swig python3-dev \
    libasound2-dev libssl-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$src" ]; then
    # On the Pi (which has internet access) fetch the release tarball.
    src="$work/pjproject-$version.tar.gz"
    curl -fsSL -o "$src" "https://github.com/pjsip/pjproject/archive/refs/tags/$version.tar.gz"
fi
if [ -f "$src" ]; then
    tar -xzf "$src" -C "$work"
    src=$(echo "$work"/pjproject-*)
fi
cd "$src"

# Video off, ALSA on; the box needs G.711 only, so the optional codecs stay out.
cat > pjlib/include/pj/config_site.h <<'H'
#define PJMEDIA_HAS_VIDEO 0
#define PJMEDIA_AUDIO_DEV_HAS_ALSA 1
#define PJMEDIA_HAS_SRTP 1
#define PJ_HAS_SSL_SOCK 1
H
CFLAGS="-fPIC -O2" ./configure --disable-video --disable-speex-codec --disable-ilbc-codec \
    --disable-g7221-codec --disable-opencore-amr --disable-silk --disable-bcg729 \
    --disable-libyuv --disable-libwebrtc --disable-v4l2 --disable-sdl --disable-ffmpeg
make dep
make -j"$(nproc)"
cd pjsip-apps/src/swig/python
make
"$venv/bin/pip" install .
"$venv/bin/python" -c "import pjsua2; print('pjsua2', pjsua2.Endpoint().libVersion().full)"
