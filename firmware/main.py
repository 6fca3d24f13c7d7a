"""Boot entry on the board: build the hardware from board_config and serve forever."""

import asyncio
import time

import aioble
import bluetooth
import board_config
import machine
from postureclip import hw
from postureclip.glue import Clip


def build():
    if board_config.HOLD_PIN is not None:
        machine.Pin(board_config.HOLD_PIN, machine.Pin.OUT, value=1)
    i2c = machine.I2C(
        0,
        sda=machine.Pin(board_config.I2C_SDA),
        scl=machine.Pin(board_config.I2C_SCL),
        freq=board_config.I2C_FREQ,
    )
    imu = hw.Imu(i2c, board_config.RANGE_G, board_config.IMU_ADDR, board_config.AXES, time.sleep_ms)
    buzzer = hw.Buzzer(
        machine.Pin(board_config.BUZZER_PIN, machine.Pin.OUT), machine.PWM, motor=board_config.MOTOR
    )
    adc = None
    if board_config.BATTERY_ADC_PIN is not None:
        adc = machine.ADC(machine.Pin(board_config.BATTERY_ADC_PIN))
        adc.atten(machine.ADC.ATTN_11DB)  # the divided LiPo voltage reaches ~2.1 V
    battery = hw.Battery(adc, board_config.BATTERY_DIVIDER)
    aioble.config(mtu=247)
    return Clip(
        aioble,
        bluetooth.UUID,
        board_config,
        imu,
        buzzer,
        battery,
        time.ticks_ms,
        time.ticks_diff,
        asyncio.sleep_ms,
    )


asyncio.run(build().run())
