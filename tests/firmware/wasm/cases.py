# Runs under MicroPython: one case per input line, one hex answer per output line.
# "p seq t0 rate range x,y,z;x,y,z..." -> encoded packet; "c hex" -> decoded control;
# "k start step step ..." -> the device clock after each tick step.
import binascii

from postureclip import wire
from postureclip.clock import DeviceClock

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
        else:
            ticks = int(parts[1])
            clock = DeviceClock(ticks, int(parts[2]))
            seen = []
            for step in parts[3:]:
                ticks = (ticks + int(step)) & ((1 << 30) - 1)
                seen.append(str(clock.now(ticks)))
            print(" ".join(seen))
