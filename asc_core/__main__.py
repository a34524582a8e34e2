from asc_core.cli import main

raise SystemExit(main())
