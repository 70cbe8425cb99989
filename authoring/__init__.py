"""The back office: the only writer of authored data (providers, prompt templates, policies,
routing rules).

- `admin/`: the admin classes of the authored models (`policies`, `providers`), history and
  revert (`history`), refused writes and deletes (`base`), the simulator and coverage map (`tools`).
- `forms`: shape, then the rules of `validators` and the what-ifs of `coverage`.
- `services`: the writers (one history row per save); `deletion`; `refusals` (what the database
  refused, in words).
- `documents`, `document_schema`: policy as code (`import_policies`, `export_policies`).
- `demo/`: the demo world and `seed_demo`.

It reads the runtime through `policies.selectors` and builds validation snapshots with
`policies.snapshot.snapshot_build`; the runtime never imports it. No models of its own: the
authored models keep their apps and tables.
"""
