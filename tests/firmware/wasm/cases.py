# Runs under MicroPython: one case per input line, one hex answer per output line.
# "p seq t0 rate range x,y,z;x,y,z..." -> encoded packet; "c hex" -> decoded control;
# "k start step step ..." -> the device clock after each tick step;
# "q rate mtu n" -> the packets a Packer makes of n samples (space-separated hex).
import binascii

import postureclip.glue  # noqa: F401 - the BLE glue must at least import under MicroPython
from postureclip import wire
from postureclip.clock import DeviceClock
from postureclip.packer import Packer

with open("/input.txt") as f:
    for line in f:
        parts = line.split()
        kind = parts[0]
        if kind == "p":
            samples = [tuple(int(v) for v in s.split(",")) for s in parts[5].split(";")]
            pkt = wire.encode_packet(
                int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), samples
            )
            print(binascii.hexlify(pkt).decode())
        elif kind == "c":
            raw = binascii.unhexlify(parts[1]) if len(parts) > 1 else b""
            try:
                print("%d %s %d" % wire.decode_control(raw))
            except wire.WireError:
                print("error")
        elif kind == "q":
            packer = Packer(int(parts[1]), 8, mtu=int(parts[2]))
            out = []
            for i in range(int(parts[3])):
                length = packer.add(i * 7, i, -i, i * 3)
                if length:
                    out.append(binascii.hexlify(packer.buf[:length]).decode())
            length = packer.flush()
            if length:
                out.append(binascii.hexlify(packer.buf[:length]).decode())
            print(" ".join(out))
        else:
            ticks = int(parts[1])
            clock = DeviceClock(ticks, int(parts[2]))
            seen = []
            for step in parts[3:]:
                ticks = (ticks + int(step)) & ((1 << 30) - 1)
                seen.append(str(clock.now(ticks)))
            print(" ".join(seen))
