"""The teachers' web pages (a surface): sign in, ask for an override, see your overrides.

Views, the form's shape and the URLs only. The rules are the override service's
(`teachers.services.override_submit`, built on `override_request`, which `POST /dispatch` uses
too); what the form offers is read through `policies.selectors`. Templates: templates/teachers/.
The URL namespace stays `teachers`.
"""
