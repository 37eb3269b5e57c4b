"""`python -m kubedirector` is the same as the `kubedirector` console script."""

from kubedirector.cli import main

raise SystemExit(main())
