from live2d_notify.cli import main

raise SystemExit(main())
