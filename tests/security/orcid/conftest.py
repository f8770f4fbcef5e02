"""The ORCID tests' fixtures (the sandbox's ORCID, deps, the event context) for the
adversarial tests of the ORCID surfaces."""

from tests.orcid.conftest import (  # noqa: F401 - fixtures, found by pytest by name
    _event_context,
    client_id,
    committed_deps,
    deps,
    sandbox,
    settings,
)
