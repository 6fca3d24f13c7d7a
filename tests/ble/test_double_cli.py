"""``python -m firmware_sim bluez`` refuses bad arguments before touching any bus."""

from __future__ import annotations

import pytest

from firmware_sim.bluez.__main__ import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--scenario", "no-such"], "no such scenario"), (["--sensors", "0"], "between 1 and 64")],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_kind_exits_2_naming_the_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--kind", "fitbit"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'postured', 'witmotion'" in err
    assert "fitbit" in err
