"""Hardware drivers: MPU6886/MPU6050 over I2C, a buzzer or motor on a pin, battery ADC.

Register facts: docs/firmware.md (WHO_AM_I 0x75, PWR_MGMT_1 0x6B, ACCEL_CONFIG 0x1C,
SMPLRT_DIV 0x19, ACCEL_XOUT_H 0x3B: three big-endian int16).
"""

import struct

WHO_AM_I = 0x75
PWR_MGMT_1 = 0x6B
ACCEL_CONFIG = 0x1C
SMPLRT_DIV = 0x19
ACCEL_XOUT_H = 0x3B
KNOWN_IDS = {0x19: "MPU6886", 0x68: "MPU6050"}
INTERNAL_RATE_HZ = 1000  # with the DLPF on, sample rate = 1 kHz / (1 + SMPLRT_DIV)


class Imu:
    def __init__(self, i2c, range_g, addr=0x68, axes=(1, 1, 1), sleep_ms=None):
        self.i2c = i2c
        self.addr = addr
        self.axes = axes  # per-axis sign, to turn the board's frame into the clip's
        who = i2c.readfrom_mem(addr, WHO_AM_I, 1)[0]
        if who not in KNOWN_IDS:
            raise OSError("no MPU6886/MPU6050 at 0x%02x (WHO_AM_I 0x%02x)" % (addr, who))
        self.chip = KNOWN_IDS[who]
        self._write(PWR_MGMT_1, 0x80)  # reset
        if sleep_ms is not None:
            sleep_ms(10)
        self._write(PWR_MGMT_1, 0x01)  # wake, PLL clock
        self._write(ACCEL_CONFIG, (0, 0x08, 0x10, 0x18)[(2, 4, 8, 16).index(range_g)])
        self._buf = bytearray(6)

    def _write(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes((value,)))

    def set_rate(self, rate_hz):
        self._write(SMPLRT_DIV, INTERNAL_RATE_HZ // rate_hz - 1)

    def read(self):
        self.i2c.readfrom_mem_into(self.addr, ACCEL_XOUT_H, self._buf)
        x, y, z = struct.unpack(">hhh", self._buf)
        sx, sy, sz = self.axes
        # -32768 * -1 does not fit int16: clamp to the rail the protocol expects.
        return (
            max(-32768, min(32767, x * sx)),
            max(-32768, min(32767, y * sy)),
            max(-32768, min(32767, z * sz)),
        )


class Buzzer:
    """A passive buzzer driven by PWM (beeps), or a motor on a plain pin (duty 100 %)."""

    def __init__(self, pin, pwm=None, freq=2700, motor=False):
        self.motor = motor
        self.pin = pin
        self.pwm = None if motor else pwm(pin, freq=freq, duty_u16=0)
        self.off()

    def on(self):
        if self.motor:
            self.pin.value(1)
        else:
            self.pwm.duty_u16(32768)

    def off(self):
        if self.motor:
            self.pin.value(0)
        else:
            self.pwm.duty_u16(0)


# Rough LiPo discharge curve (volts, percent), linear between points.
_CURVE = ((3.3, 0), (3.6, 10), (3.7, 30), (3.8, 55), (3.9, 75), (4.0, 90), (4.15, 100))


def volts_to_percent(v):
    if v <= _CURVE[0][0]:
        return 0
    for (v0, p0), (v1, p1) in zip(_CURVE, _CURVE[1:]):
        if v <= v1:
            return int(p0 + (p1 - p0) * (v - v0) / (v1 - v0))
    return 100


class Battery:
    """Battery voltage on an ADC pin behind a divider (M5StickC Plus2: GPIO38, x2)."""

    def __init__(self, adc=None, divider=2.0):
        self.adc = adc
        self.divider = divider

    def percent(self):
        if self.adc is None:  # a board on USB power only
            return 100
        return volts_to_percent(self.adc.read_uv() * self.divider / 1_000_000)
