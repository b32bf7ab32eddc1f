"""The import-time instrumenter: policy, hook, engines and recorder (runs inside the test process)."""
