from signer.cli import main

raise SystemExit(main())
