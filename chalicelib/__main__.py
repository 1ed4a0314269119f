"""``python -m chalicelib`` is the ``driftwarden`` command."""

from chalicelib.cli import main

raise SystemExit(main())
