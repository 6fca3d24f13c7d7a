"""PostureClip firmware: MicroPython on an ESP32 with an MPU6886/MPU6050 (docs/firmware.md).

Pure modules (``wire``, ``clock``, ``packer``) run under CPython and MicroPython alike;
``glue`` speaks BLE through aioble; ``hw`` drives the IMU, buzzer and battery ADC.
"""

VERSION = "1.0.0"
