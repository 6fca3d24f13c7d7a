"""What a reload changes: a pure comparison of the running and the new configuration.

The daemon applies the plan in place (docs/runtime.md): sensors whose table changed or
vanished stop, new or changed ones start, the others keep their link and get a new
detector only when the core's settings changed, and the MQTT sink is renewed only when its
own settings, the sensor list or the state directory changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from postured.config.loader import Config


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    stop: tuple[str, ...]  # sensors whose table changed or that are gone: their task ends
    start: tuple[str, ...]  # sensors that are new or changed: a task starts
    rebuild_detectors: bool  # the core's settings changed: kept sensors get a new detector
    renew_sink: bool  # MQTT settings, the sensor list or the state directory changed
    move_state: bool  # the state directory changed: the store opens the new one

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.stop or self.start or self.rebuild_detectors or self.renew_sink or self.move_state
        )


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    """Compare two valid configurations. The environment is the process's own for both,
    so comparing the configured state directories compares the resolved ones."""
    before = {sc.id: sc for sc in old.sensors}
    after = {sc.id: sc for sc in new.sensors}
    stop = tuple(sid for sid, sc in before.items() if after.get(sid) != sc)
    start = tuple(sid for sid, sc in after.items() if before.get(sid) != sc)
    move_state = new.service.state_dir != old.service.state_dir
    return ReloadPlan(
        stop=stop,
        start=start,
        rebuild_detectors=(
            new.detection != old.detection
            or new.alerts != old.alerts
            or new.service.timezone != old.service.timezone
        ),
        renew_sink=new.mqtt != old.mqtt or new.sensors != old.sensors or move_state,
        move_state=move_state,
    )
