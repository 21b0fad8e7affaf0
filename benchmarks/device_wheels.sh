#!/usr/bin/env bash
# The wheels a GPU machine without internet needs to run TeachBench's sweeps (Python 3.12, manylinux x86-64), in
# .whl/ (git-ignored); the device scripts (device_ued_sweep.sh, device_profile_call.sh) install them with
# `pip install --no-index --target /tmp/site .whl/*.whl`. Run here, where pip reaches the registry:
#   bash benchmarks/device_wheels.sh
# A device call carries the working tree and the wheels, 64 MiB in all. pygame-ce (gymnasium's box2d package imports
# it at import time, through car_racing) is 12 of the wheels' 17 MiB; its docs, examples and tests and the libraries of
# its optional modules are never loaded, so they are deleted from the wheel (12 MiB -> ~2.5 MiB). Session 22 found the tree (45 MiB by bytes, more on disk) plus
# the full wheels over the limit; with the slimmed wheel (13 MiB in all) the calls went through.
set -euo pipefail
cd "$(dirname "$0")/.."
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS -d .whl \
  gymnasium==1.4.0 farama-notifications==0.0.6 stable_baselines3==2.9.2 sb3_contrib==2.9.2 hydra-core==1.3.8 \
  hydra-joblib-launcher==1.2.0 omegaconf==2.3.1 minigrid==3.2.0 arch==7.2.0 pygame-ce==2.5.8 box2d==2.3.10
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3 rliable==1.2.0   # sdists: built here
python3 - <<'PY'
import glob, zipfile, os
(path,) = glob.glob(".whl/pygame_ce-*.whl")
# Never imported by a run: pygame's docs, examples and tests, and the shared libraries that only pygame's optional
# modules load (sound: SDL2_mixer and its codecs; image formats beyond BMP: SDL2_image; fonts: SDL2_ttf, freetype;
# MIDI: portmidi). pygame imports font, mixer and imageext inside try/except and carries on without them; the core
# (base, display, draw, gfxdraw, surface), which gymnasium's car_racing imports, needs libSDL2 alone (readelf -d).
unused = ("pygame/docs/", "pygame/examples/", "pygame/tests/")
optional_libs = ("libSDL2_mixer", "libSDL2_image", "libSDL2_ttf", "libFLAC", "libfluidsynth", "libmpg123", "libogg",
                 "libopus", "libsndfile", "libvorbis", "libwavpack", "libxmp", "libjpeg", "libpng16", "libtiff",
                 "libwebp", "libsharpyuv", "libfreetype", "libharfbuzz", "libbrotli", "libportmidi", "libasound")
def dropped(name):
    return name.startswith(unused) or (name.startswith("pygame_ce.libs/") and name.split("/")[1].startswith(optional_libs))
with zipfile.ZipFile(path) as src:
    keep = [i for i in src.infolist() if not dropped(i.filename)]
    if len(keep) < len(src.infolist()):
        with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as dst:
            for info in keep:
                dst.writestr(info, src.read(info.filename))
if os.path.exists(path + ".tmp"):
    os.replace(path + ".tmp", path)
PY
ls .whl | wc -l; du -sh .whl
