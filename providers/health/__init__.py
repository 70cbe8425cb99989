"""Provider health: outcomes that apps report steer routing (docs/reliability.md).

`machine` the pure state machine, `script` the same in Lua, `store` the shared state (Redis, else
per process) and each worker's view, `services` what the outcome service, dispatch and the admin
call (and the transition rows and signal).
"""
