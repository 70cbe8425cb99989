"""The back office: the only writer of authored data (providers, prompt templates, policies,
routing rules).

- `admin/`: the admin classes of the authored models (`policies`, `providers`), history and
  revert (`history`), refused writes and deletes (`base`), the simulator and coverage map (`tools`).
- `forms`: shape, then the rules of `validators` and the what-ifs of `coverage`.
- `services`: the writers (one history row per save); `deletion`; `refusals` (what the database
  refused, in words).
- `documents`, `document_schema`: policy as code (`import_policies`, `export_policies`).
- `models`, `changes`, `review`: change requests (CHANGE_APPROVAL=required): propose, four-eyes
  review with the coverage and replay impact, publication on time by the running service
  (docs/changes.md).
- `demo/`: the demo world and `seed_demo`.

It reads the runtime through `policies.selectors` and builds validation snapshots with
`policies.snapshot.snapshot_build`; the runtime never imports it. Its one model is the change
request (its own record of work); the authored models keep their apps and tables.
"""
