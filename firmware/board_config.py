"""Which board this is: pins and names. Edit this file for another ESP32 + MPU6050/6886.

Defaults: M5StickC Plus2 (docs/firmware.md lists the sources of these pins).
"""

MANUFACTURER = "PostureClip project"
MODEL = "M5StickC Plus2"
I2C_SDA = 21
I2C_SCL = 22
I2C_FREQ = 400_000
IMU_ADDR = 0x68
RANGE_G = 4  # 2, 4, 8 or 16
BUZZER_PIN = 2  # a passive buzzer on the Plus2
MOTOR = False  # True: BUZZER_PIN drives a vibration motor (on/off) instead of a beeper
BATTERY_ADC_PIN = 38  # None for a board without a battery divider
BATTERY_DIVIDER = 2.0
HOLD_PIN = 4  # the Plus2 powers itself off unless GPIO4 is held high; None elsewhere
AXES = (1, 1, 1)  # per-axis sign into the clip frame (x up the spine, z out of the back)


def mac():
    import bluetooth

    return bluetooth.BLE().config("mac")[1]
