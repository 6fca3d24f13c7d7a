"""``python -m postured``: the same as the ``postured`` command."""

from postured.cli import main

raise SystemExit(main())
