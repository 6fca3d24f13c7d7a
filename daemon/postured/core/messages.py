"""Alert wording: what to change first, then the stretch."""

from __future__ import annotations

from postured.core.events import AlertKind, Stretch


def alert_message(
    kind: AlertKind, stretch: Stretch, duration_s: float, angle_deg: float | None
) -> str:
    if kind is AlertKind.LONG_SITTING:
        minutes = int(duration_s // 60)
        first = f"You have been sitting for {minutes} min: stand up and move for a few minutes."
    else:
        tilt = f" (leaning {angle_deg:.0f}° forward)" if angle_deg is not None else ""
        first = (
            f"Sit tall{tilt}: bring your head back over your shoulders "
            "and let the shoulders drop back."
        )
    return f"{first} Then try the {stretch.name.lower()}: {' '.join(stretch.steps)}"
