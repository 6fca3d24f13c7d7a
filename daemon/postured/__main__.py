"""``python -m postured``: the same as the ``postured`` command."""

from postured.app.cli import main

raise SystemExit(main())
