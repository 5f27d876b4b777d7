from facedeblur.cli import main

raise SystemExit(main())
