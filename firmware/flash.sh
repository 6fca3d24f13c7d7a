#!/usr/bin/env bash
# Flash MicroPython and the PostureClip firmware onto a connected ESP32 board.
# Usage: firmware/flash.sh PORT [MICROPYTHON_BIN]; without the .bin only our files are copied
# (a board that already runs MicroPython). Tools come from PyPI into a private venv.
set -euo pipefail
port="${1:?serial port, e.g. /dev/ttyACM0}"
bin="${2:-}"
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.flash-venv"
[ -x "$venv/bin/mpremote" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q esptool mpremote; }
if [ -n "$bin" ]; then
    "$venv/bin/esptool" --chip esp32 --port "$port" erase_flash
    "$venv/bin/esptool" --chip esp32 --port "$port" --baud 460800 write_flash -z 0x1000 "$bin"
    sleep 3  # the board reboots into MicroPython's REPL
fi
mp=("$venv/bin/mpremote" connect "$port")
"${mp[@]}" mip install aioble  # from micropython-lib, on this machine's internet
"${mp[@]}" mkdir :postureclip || true
"${mp[@]}" cp "$here"/postureclip/*.py :postureclip/
"${mp[@]}" cp "$here/board_config.py" "$here/main.py" :
"${mp[@]}" reset
echo "flashed; now run: postured scan"
