"""Gathers samples into packets: as many as the MTU allows, but never older than a bound."""

from postureclip import wire

# A sample waits at most this long before it is sent: the detector needs no more than
# ~0.5 s freshness, and bigger packets save the radio's power at 25-50 Hz.
MAX_LATENCY_MS = 400


class Packer:
    """Samples in, finished packets out (through ``send``), with sequence numbers.

    ``add(t_ms, x, y, z)`` returns the packet length when a packet was finished (its
    bytes are ``self.buf[:length]``) and 0 otherwise.
    """

    def __init__(self, rate_hz, range_g, mtu=23, max_latency_ms=MAX_LATENCY_MS):
        self.seq = 0
        self.range_g = range_g
        self.max_latency_ms = max_latency_ms
        self.buf = bytearray(wire.MAX_PAYLOAD)
        self._samples = [(0, 0, 0)] * ((wire.MAX_PAYLOAD - wire.HEADER_SIZE) // wire.SAMPLE_SIZE)
        self._n = 0
        self._t0 = 0
        self.configure(rate_hz, mtu)

    def configure(self, rate_hz, mtu):
        """A new rate or MTU; call ``flush`` first so a packet never mixes two rates."""
        self.rate_hz = rate_hz
        self.flags = wire.flags(self.range_g, rate_hz)
        by_latency = max(1, rate_hz * self.max_latency_ms // 1000)
        self.per_packet = min(wire.samples_per_packet(mtu), by_latency)

    def add(self, t_ms, x, y, z):
        if self._n == 0:
            self._t0 = t_ms
        self._samples[self._n] = (x, y, z)
        self._n += 1
        if self._n >= self.per_packet:
            return self.flush()
        return 0

    def flush(self):
        """Finish the pending samples as a packet now (0 when there are none)."""
        if self._n == 0:
            return 0
        length = wire.encode_into(self.buf, self.seq, self._t0, self.flags, self._samples, self._n)
        self.seq = (self.seq + 1) & 0xFFFF
        self._n = 0
        return length

    @property
    def pending(self):
        return self._n
