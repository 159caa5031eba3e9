"""``python -m playground``: the same as ``codex-slack playground``."""

from playground.cli import main

raise SystemExit(main())
