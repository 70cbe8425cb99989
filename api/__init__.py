"""The REST surface: one module per operation (dispatch, providers, validate, coverage, outcome,
analytics), their serializers, the JSON parser, access control (authentication, scopes, rates),
the one exception handler and the OpenAPI hooks. Views check shape, call one service or selector
of the domain, and render through `policies.presentation`; they never import another surface."""
