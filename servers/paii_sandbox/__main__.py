"""``python -m paii_sandbox serve --dir D ...``: the detached sandbox process (``paii sandbox start --detach``)."""

from paii_sandbox.process import main

raise SystemExit(main())
