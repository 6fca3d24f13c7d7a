"""BLE glue: GATT services, advertising, control writes and the sampling loop, via aioble.

Everything from outside comes in through the constructor (aioble, bluetooth.UUID, the
hardware, the tick functions, the sleep), so tests run this module against a fake aioble.
"""

import asyncio

from postureclip import VERSION, wire
from postureclip.clock import DeviceClock
from postureclip.packer import Packer

ADV_INTERVAL_US = 250_000  # 4 adverts a second: found quickly, costs little battery
APPEARANCE_SENSOR = 0x0540  # GAP appearance "Generic Sensor"
WANTED_MTU = 247  # room for 39 samples per notification (docs/protocol.md)
BATTERY_EVERY_MS = 60_000  # a LiPo's charge changes slowly


class Clip:
    def __init__(self, ble, uuid, board, imu, buzzer, battery, ticks_ms, ticks_diff, sleep_ms):
        self.ble = ble
        self.board = board
        self.imu = imu
        self.buzzer = buzzer
        self.battery = battery
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff
        self.sleep_ms = sleep_ms
        self.clock = DeviceClock(ticks_ms(), diff=ticks_diff)
        self.packer = Packer(50, board.RANGE_G)
        self.streaming = False
        self.buzzing = False
        self.connection = None
        self.mtu = 23
        self.name = wire.name_for(board.mac())

        posture = ble.Service(uuid(wire.SERVICE_UUID))
        self.data = ble.Characteristic(posture, uuid(wire.DATA_CHAR_UUID), notify=True)
        self.control = ble.Characteristic(
            posture, uuid(wire.CONTROL_CHAR_UUID), write=True, write_no_response=True, capture=True
        )
        bat = ble.Service(uuid(wire.BATTERY_SERVICE))
        self.level = ble.Characteristic(bat, uuid(wire.BATTERY_LEVEL), read=True, notify=True)
        info = ble.Service(uuid(wire.DEVICE_INFO_SERVICE))
        for key, text in (
            (wire.MANUFACTURER_NAME, board.MANUFACTURER),
            (wire.MODEL_NUMBER, board.MODEL),
            (wire.FIRMWARE_REVISION, VERSION),
        ):
            ble.Characteristic(info, uuid(key), read=True, initial=text.encode())
        ble.register_services(posture, bat, info)
        self.service_uuid = uuid(wire.SERVICE_UUID)

    # --- control -------------------------------------------------------------------------
    def handle(self, data):
        """Apply one control write; a malformed one is ignored (and returns False)."""
        try:
            op, arg, repeat = wire.decode_control(data)
        except wire.WireError:
            return False
        if op == wire.OP_START:
            self._set_rate(arg)
            self.streaming = True
        elif op == wire.OP_SET_RATE:
            self._set_rate(arg)
        elif op == wire.OP_STOP:
            self.streaming = False
            self.packer.flush()  # unsent samples of a stopped stream are stale
        else:
            asyncio.create_task(self.buzz(arg, repeat))
        return True

    def _set_rate(self, rate_hz):
        self._send(self.packer.flush())  # a packet never mixes two rates
        self.packer.configure(rate_hz, self.mtu)
        self.imu.set_rate(rate_hz)

    async def buzz(self, pattern, repeat):
        """Beep (or buzz) the pattern; no sample is taken until the IMU has settled."""
        steps, _ = wire.buzz_plan(pattern, repeat)
        self._send(self.packer.flush())  # those samples were taken before the buzz
        self.buzzing = True
        try:
            for on, off in steps:
                self.buzzer.on()
                await self.sleep_ms(on)
                self.buzzer.off()
                if off:
                    await self.sleep_ms(off)
            await self.sleep_ms(wire.SETTLE_MS)
        finally:
            self.buzzer.off()
            self.buzzing = False

    async def control_loop(self):
        while True:
            _conn, data = await self.control.written()
            self.handle(data)

    # --- streaming -----------------------------------------------------------------------
    def _send(self, length):
        if length and self.connection is not None:
            self.data.notify(self.connection, self.packer.buf[:length])

    def sample_once(self):
        """Read one sample into the packer and send a finished packet; skip while buzzing."""
        t = self.clock.now(self.ticks_ms())
        if not self.streaming or self.buzzing:
            return
        x, y, z = self.imu.read()
        self._send(self.packer.add(t, x, y, z))

    async def sample_loop(self):
        due = self.ticks_ms()
        while True:
            self.sample_once()
            period = 1000 // self.packer.rate_hz
            due += period
            wait = self.ticks_diff(due, self.ticks_ms())
            if wait < -period:  # fell behind (a buzz, a busy radio): start afresh
                due = self.ticks_ms()
                wait = 0
            await self.sleep_ms(max(0, wait))

    async def battery_loop(self):
        while True:
            self.level.write(bytes((self.battery.percent(),)), send_update=True)
            await self.sleep_ms(BATTERY_EVERY_MS)

    # --- connections ---------------------------------------------------------------------
    async def serve_one(self):
        """Advertise, serve one central until it leaves, then stop streaming."""
        conn = await self.ble.advertise(
            ADV_INTERVAL_US,
            name=self.name,
            services=[self.service_uuid],
            appearance=APPEARANCE_SENSOR,
        )
        self.connection = conn
        try:
            self.mtu = await conn.exchange_mtu(WANTED_MTU)
        except Exception:
            self.mtu = 23
        self.packer.configure(self.packer.rate_hz, self.mtu)
        await conn.disconnected(timeout_ms=None)
        self.streaming = False
        self.connection = None
        self.packer.flush()

    async def run(self):
        asyncio.create_task(self.sample_loop())
        asyncio.create_task(self.control_loop())
        asyncio.create_task(self.battery_loop())
        while True:
            await self.serve_one()
